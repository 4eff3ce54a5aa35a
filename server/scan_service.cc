#include "server/scan_service.h"

#include "server/reactors.h"

namespace gattway::server {

constexpr absl::string_view kWhere = "issue #4 (central over BlueZ)";

grpc::ServerWriteReactor<v1::ScanResponse>* ScanServiceImpl::Scan(grpc::CallbackServerContext*, const v1::ScanRequest*) {
  return new FinishedWriteReactor<v1::ScanResponse>(notBuiltYet("ScanService.Scan", kWhere));
}

grpc::ServerUnaryReactor* ScanServiceImpl::ListDevices(grpc::CallbackServerContext* context, const v1::ListDevicesRequest*, v1::ListDevicesResponse*) {
  return finishUnary(context, notBuiltYet("ScanService.ListDevices", kWhere));
}

}  // namespace gattway::server
