// gattway.v1.MetricsService.
#pragma once

#include "gattway/v1/metrics.grpc.pb.h"

namespace gattway::server {

class MetricsServiceImpl final : public v1::MetricsService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context, const v1::GetMetricsRequest* request, v1::GetMetricsResponse* response) override;
};

}  // namespace gattway::server
