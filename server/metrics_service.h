// gattway.v1.MetricsService: the typed snapshot of the gateway's figures.
#pragma once

#include "gattway/v1/metrics.grpc.pb.h"
#include "server/metrics_export.h"

namespace gattway::server {

class MetricsServiceImpl final : public v1::MetricsService::CallbackService {
 public:
  explicit MetricsServiceImpl(const MetricsExport& metrics) : metrics_(metrics) {}
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const v1::GetMetricsRequest* request,
                                       v1::GetMetricsResponse* response) override;

 private:
  const MetricsExport& metrics_;
};

}  // namespace gattway::server
