// gattway.v1.GattService.
#pragma once

#include "gattway/v1/gatt.grpc.pb.h"
#include "server/service_context.h"

namespace gattway::server {

class GattServiceImpl final : public v1::GattService::CallbackService {
 public:
  explicit GattServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* Discover(grpc::CallbackServerContext* context, const v1::DiscoverRequest* request, v1::DiscoverResponse* response) override;
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context, const v1::ReadRequest* request, v1::ReadResponse* response) override;
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context, const v1::WriteRequest* request, v1::WriteResponse* response) override;
  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* GetMtu(grpc::CallbackServerContext* context, const v1::GetMtuRequest* request, v1::GetMtuResponse* response) override;
  grpc::ServerWriteReactor<v1::ExecuteResponse>* Execute(grpc::CallbackServerContext* context, const v1::ExecuteRequest* request) override;

 private:
  ServiceContext& ctx_;
};

}  // namespace gattway::server
