#include "server/peripheral_service.h"

#include "server/reactors.h"

namespace gattway::server {

constexpr absl::string_view kWhere = "issue #6 (hosted GATT peripheral)";

grpc::ServerUnaryReactor* PeripheralServiceImpl::RegisterServices(grpc::CallbackServerContext* context, const v1::RegisterServicesRequest*, v1::RegisterServicesResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.RegisterServices", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::UnregisterServices(grpc::CallbackServerContext* context, const v1::UnregisterServicesRequest*, v1::UnregisterServicesResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.UnregisterServices", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::StartAdvertising(grpc::CallbackServerContext* context, const v1::StartAdvertisingRequest*, v1::StartAdvertisingResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.StartAdvertising", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::StopAdvertising(grpc::CallbackServerContext* context, const v1::StopAdvertisingRequest*, v1::StopAdvertisingResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.StopAdvertising", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::SetValue(grpc::CallbackServerContext* context, const v1::SetValueRequest*, v1::SetValueResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.SetValue", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::GetValue(grpc::CallbackServerContext* context, const v1::GetValueRequest*, v1::GetValueResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.GetValue", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::Notify(grpc::CallbackServerContext* context, const v1::NotifyRequest*, v1::NotifyResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.Notify", kWhere));
}

grpc::ServerWriteReactor<v1::StreamWritesResponse>* PeripheralServiceImpl::StreamWrites(grpc::CallbackServerContext*, const v1::StreamWritesRequest*) {
  return new FinishedWriteReactor<v1::StreamWritesResponse>(notBuiltYet("PeripheralService.StreamWrites", kWhere));
}

grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>* PeripheralServiceImpl::HandleReads(grpc::CallbackServerContext*) {
  return new FinishedBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>(notBuiltYet("PeripheralService.HandleReads", kWhere));
}

grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* PeripheralServiceImpl::WatchPeripheral(grpc::CallbackServerContext*, const v1::WatchPeripheralRequest*) {
  return new FinishedWriteReactor<v1::WatchPeripheralResponse>(notBuiltYet("PeripheralService.WatchPeripheral", kWhere));
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::GetPeripheral(grpc::CallbackServerContext* context, const v1::GetPeripheralRequest*, v1::GetPeripheralResponse*) {
  return finishUnary(context, notBuiltYet("PeripheralService.GetPeripheral", kWhere));
}

}  // namespace gattway::server
