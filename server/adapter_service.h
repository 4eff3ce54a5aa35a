// gattway.v1.AdapterService.
#pragma once

#include "gattway/v1/adapter.grpc.pb.h"
#include "server/service_context.h"

namespace gattway::server {

class AdapterServiceImpl final : public v1::AdapterService::CallbackService {
 public:
  explicit AdapterServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* ListAdapters(grpc::CallbackServerContext* context, const v1::ListAdaptersRequest* request, v1::ListAdaptersResponse* response) override;
  grpc::ServerUnaryReactor* GetAdapter(grpc::CallbackServerContext* context, const v1::GetAdapterRequest* request, v1::GetAdapterResponse* response) override;
  grpc::ServerUnaryReactor* UpdateAdapter(grpc::CallbackServerContext* context, const v1::UpdateAdapterRequest* request, v1::UpdateAdapterResponse* response) override;

 private:
  ServiceContext& ctx_;
};

}  // namespace gattway::server
