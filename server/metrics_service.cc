#include "server/metrics_service.h"

namespace gattway::server {

grpc::ServerUnaryReactor* MetricsServiceImpl::GetMetrics(grpc::CallbackServerContext* context,
                                                         const v1::GetMetricsRequest*,
                                                         v1::GetMetricsResponse* response) {
  // Every figure is an atomic or guarded by its own lock: no need to visit the loop thread.
  metrics_.fill(response, absl::Now());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace gattway::server
