#include "server/gateway.h"

#include "absl/strings/str_cat.h"
#include "ble/log.h"
#include "ble/metrics.h"
#include "prometheus/exposer.h"
#include "server/metrics_export.h"
#include "server/rpc_metrics.h"
#include "server/adapter_service.h"
#include "server/gatt_service.h"
#include "server/grpc_server.h"
#include "server/metrics_service.h"
#include "server/peripheral_service.h"
#include "server/scan_service.h"
#include "server/session_service.h"

namespace gattway::server {

namespace {
GrpcServer::InterceptorFactories interceptors(RpcMetrics& rpc) {
  GrpcServer::InterceptorFactories f;
  f.push_back(rpc.interceptorFactory());
  return f;
}
}  // namespace

struct Gateway::Parts {
  Metrics metrics;
  RpcMetrics rpcMetrics;
  // Shared: the Prometheus exposer holds a weak_ptr to it.
  std::shared_ptr<MetricsExport> metricsExport =
      std::make_shared<MetricsExport>(metrics, rpcMetrics, absl::Now(), GATTWAY_VERSION);
  std::unique_ptr<prometheus::Exposer> exposer;

  AdapterServiceImpl adapters;
  ScanServiceImpl scan;
  SessionServiceImpl sessions;
  GattServiceImpl gatt;
  PeripheralServiceImpl peripheral;
  MetricsServiceImpl metricsService{*metricsExport};
  GrpcServer grpc{{&adapters, &scan, &sessions, &gatt, &peripheral, &metricsService},
                  interceptors(rpcMetrics)};
};

Gateway::Gateway(GatewayOptions options)
    : options_(std::move(options)), parts_(std::make_unique<Parts>()) {}

Gateway::~Gateway() { shutdown(absl::ZeroDuration()); }

absl::Status Gateway::start() {
  if (!options_.metricsAddress.empty()) {
    try {
      parts_->exposer = std::make_unique<prometheus::Exposer>(options_.metricsAddress);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on ",
                                                 options_.metricsAddress, ": ", e.what()));
    }
    parts_->exposer->RegisterCollectable(parts_->metricsExport);
    log::info("metrics.listening", {{"address", options_.metricsAddress},
                                    {"port", metricsPort()}});
  }
  if (auto s = parts_->grpc.start(options_.grpcAddress); !s.ok()) return s;
  parts_->grpc.setServing(true);
  log::info("grpc.listening", {{"address", options_.grpcAddress}, {"port", parts_->grpc.port()}});
  return absl::OkStatus();
}

int Gateway::grpcPort() const { return parts_->grpc.port(); }

int Gateway::metricsPort() const {
  if (!parts_->exposer) return 0;
  const auto ports = parts_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

absl::Status Gateway::reload() { return absl::OkStatus(); }

void Gateway::shutdown(absl::Duration grace) {
  if (!parts_) return;
  parts_->grpc.shutdown(grace);
  parts_->exposer.reset();
}

}  // namespace gattway::server
