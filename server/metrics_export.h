// The gateway's figures, read at scrape time from ble/metrics.h and RpcMetrics, in two shapes:
// Prometheus families (the /metrics endpoint) and the typed GetMetricsResponse. Both read the same
// counters, so they report the same numbers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/metrics.h"
#include "gattway/v1/metrics.pb.h"
#include "prometheus/collectable.h"
#include "server/rpc_metrics.h"

namespace gattway::server {

class MetricsExport final : public prometheus::Collectable {
 public:
  MetricsExport(const Metrics& metrics, const RpcMetrics& rpc, absl::Time startTime,
                std::string version);

  // Prometheus names: gattway_* with _total counters, base units, _seconds histograms; plus the
  // process_* metrics every Prometheus exporter offers. Any thread.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // The typed snapshot for MetricsService.GetMetrics. Any thread.
  void fill(v1::GetMetricsResponse* out, absl::Time now) const;

 private:
  const Metrics& metrics_;
  const RpcMetrics& rpc_;
  absl::Time startTime_;
  std::string version_;
};

}  // namespace gattway::server
