#include "server/gateway.h"

#include "absl/strings/str_cat.h"
#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
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
#include "server/peripheral_wiring.h"
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
  std::shared_ptr<TokenStore> tokens;
  LoopThread loop{"gattway-ble"};
  std::unique_ptr<dbus::LoopConnection> bus;  // loop thread only
  PeripheralParts hosted;                     // loop thread only

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
  if (auto s = checkExposure(options_.grpcAddress, options_.security); !s.ok()) return s;
  if (!options_.security.tokensFile.empty()) {
    auto tokens = TokenStore::load(options_.security.tokensFile);
    if (!tokens.ok()) return tokens.status();
    parts_->tokens = std::move(*tokens);
    log::info("auth.tokens_loaded", {{"file", options_.security.tokensFile},
                                     {"tokens", parts_->tokens->size()}});
  }
  auto credentials = makeServerCredentials(options_.grpcAddress, options_.security, parts_->tokens);
  if (!credentials.ok()) return credentials.status();
  if (!isLoopbackAddress(options_.grpcAddress) && options_.security.tlsCertFile.empty() &&
      options_.security.tokensFile.empty()) {
    log::warn("grpc.insecure", {{"address", options_.grpcAddress},
                                {"detail", "plaintext without tokens on a non-loopback address "
                                           "(--insecure): anyone who can reach it can use it"}});
  }
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
  parts_->loop.runSync([this] {
    // Without a bus the gateway still serves; BLE calls answer UNAVAILABLE.
    if (auto c = dbus::openBus(options_.dbusAddress); c.ok()) {
      parts_->bus = std::make_unique<dbus::LoopConnection>(parts_->loop.loop(), std::move(*c));
    } else {
      log::warn("dbus.unavailable", {{"error", c.status()}});
    }
    parts_->hosted.start(parts_->loop.loop(), parts_->bus.get(), parts_->metrics,
                         options_.peripheralBackend);
    if (parts_->hosted.peripheral) {
      parts_->peripheral.attach(&parts_->loop.loop(), parts_->hosted.peripheral.get(),
                                &parts_->metrics);
    }
  });
  if (auto s = parts_->grpc.start(options_.grpcAddress, *credentials, options_.maxMessageBytes);
      !s.ok()) {
    return s;
  }
  parts_->grpc.setServing(true);
  log::info("grpc.listening",
            {{"address", options_.grpcAddress},
             {"port", parts_->grpc.port()},
             {"tls", options_.security.tlsCertFile.empty()
                         ? "off"
                         : (options_.security.tlsClientCaFile.empty() ? "on" : "mutual")},
             {"tokens", parts_->tokens ? "on" : "off"}});
  return absl::OkStatus();
}

int Gateway::grpcPort() const { return parts_->grpc.port(); }

int Gateway::metricsPort() const {
  if (!parts_->exposer) return 0;
  const auto ports = parts_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

absl::Status Gateway::reload() {
  if (parts_->tokens) {
    if (auto s = parts_->tokens->reload(); !s.ok()) return s;
    log::info("auth.tokens_loaded", {{"file", options_.security.tokensFile},
                                     {"tokens", parts_->tokens->size()}});
  }
  return absl::OkStatus();
}

void Gateway::shutdown(absl::Duration grace) {
  if (!parts_) return;
  parts_->grpc.shutdown(grace);
  parts_->exposer.reset();
  // After gRPC: no call can reach the loop any more.
  parts_->loop.runSync([this] {
    parts_->hosted.stop();
    parts_->bus.reset();
  });
}

}  // namespace gattway::server
