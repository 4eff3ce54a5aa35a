#include "server/gatt_service.h"

#include "server/reactors.h"

namespace gattway::server {

constexpr absl::string_view kWhere = "issue #4 (central over BlueZ)";

grpc::ServerUnaryReactor* GattServiceImpl::Discover(grpc::CallbackServerContext* context, const v1::DiscoverRequest*, v1::DiscoverResponse*) {
  return finishUnary(context, notBuiltYet("GattService.Discover", kWhere));
}

grpc::ServerUnaryReactor* GattServiceImpl::Read(grpc::CallbackServerContext* context, const v1::ReadRequest*, v1::ReadResponse*) {
  return finishUnary(context, notBuiltYet("GattService.Read", kWhere));
}

grpc::ServerUnaryReactor* GattServiceImpl::Write(grpc::CallbackServerContext* context, const v1::WriteRequest*, v1::WriteResponse*) {
  return finishUnary(context, notBuiltYet("GattService.Write", kWhere));
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* GattServiceImpl::Subscribe(grpc::CallbackServerContext*, const v1::SubscribeRequest*) {
  return new FinishedWriteReactor<v1::SubscribeResponse>(notBuiltYet("GattService.Subscribe", kWhere));
}

grpc::ServerUnaryReactor* GattServiceImpl::GetMtu(grpc::CallbackServerContext* context, const v1::GetMtuRequest*, v1::GetMtuResponse*) {
  return finishUnary(context, notBuiltYet("GattService.GetMtu", kWhere));
}

grpc::ServerWriteReactor<v1::ExecuteResponse>* GattServiceImpl::Execute(grpc::CallbackServerContext*, const v1::ExecuteRequest*) {
  return new FinishedWriteReactor<v1::ExecuteResponse>(notBuiltYet("GattService.Execute", kWhere));
}

}  // namespace gattway::server
