// gattway.v1.ScanService.
#pragma once

#include "gattway/v1/scan.grpc.pb.h"
#include "server/service_context.h"

namespace gattway::server {

class ScanServiceImpl final : public v1::ScanService::CallbackService {
 public:
  explicit ScanServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}
  grpc::ServerWriteReactor<v1::ScanResponse>* Scan(grpc::CallbackServerContext* context, const v1::ScanRequest* request) override;
  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext* context, const v1::ListDevicesRequest* request, v1::ListDevicesResponse* response) override;

 private:
  ServiceContext& ctx_;
};

}  // namespace gattway::server
