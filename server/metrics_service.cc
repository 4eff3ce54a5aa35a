#include "server/metrics_service.h"

#include "server/reactors.h"

namespace gattway::server {

constexpr absl::string_view kWhere = "issue #8 (metrics, logs and clients)";

grpc::ServerUnaryReactor* MetricsServiceImpl::GetMetrics(grpc::CallbackServerContext* context, const v1::GetMetricsRequest*, v1::GetMetricsResponse*) {
  return finishUnary(context, notBuiltYet("MetricsService.GetMetrics", kWhere));
}

}  // namespace gattway::server
