#include "server/gateway.h"

#include "absl/strings/str_cat.h"
#include "ble/central/absent_backend.h"
#include "ble/central/central.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "ble/metrics.h"
#include "prometheus/exposer.h"
#include "server/adapter_service.h"
#include "server/gatt_service.h"
#include "server/grpc_server.h"
#include "server/metrics_export.h"
#include "server/metrics_service.h"
#include "server/peripheral_service.h"
#include "server/rpc_metrics.h"
#include "server/scan_service.h"
#include "server/service_context.h"
#include "server/session_service.h"
#include "server/stream_registry.h"

namespace gattway::server {
namespace {

GrpcServer::InterceptorFactories interceptors(RpcMetrics& rpc) {
  GrpcServer::InterceptorFactories f;
  f.push_back(rpc.interceptorFactory());
  return f;
}

// The production backend.
//
// CONSTRUCTION POINT for BluezCentralBackend (branch `bluez`): open a dbus::LoopConnection on
// `options.dbusAddress` (empty: the system bus) on `loop`, and return a BluezCentralBackend over
// it. Until that class is merged, the gateway runs with a backend that reports BlueZ absent, so
// every BLE call answers UNAVAILABLE (BLUEZ_UNAVAILABLE) and says why.
std::unique_ptr<CentralBackend> makeBluezBackend(Executor& loop, const GatewayOptions&) {
  return std::make_unique<AbsentBackend>(
      loop, "this gattwayd has no BlueZ backend built in yet (ble/bluez, branch bluez)");
}

}  // namespace

// Members are destroyed in reverse: the loop thread outlives everything that posts to it; the
// domain outlives the services that call it.
struct Gateway::Parts {
  explicit Parts(const BackendFactory& factory)
      : backend(factory(loop.loop())),
        central(std::make_unique<Central>(loop.loop(), *backend, metrics)),
        ctx{loop.loop(), *central, metrics, streams},
        adapters(ctx),
        scan(ctx),
        sessions(ctx),
        gatt(ctx) {}

  LoopThread loop;
  Metrics metrics;
  RpcMetrics rpcMetrics;
  // Shared: the Prometheus exposer holds a weak_ptr to it.
  std::shared_ptr<MetricsExport> metricsExport =
      std::make_shared<MetricsExport>(metrics, rpcMetrics, absl::Now(), GATTWAY_VERSION);
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<TokenStore> tokens;

  std::unique_ptr<CentralBackend> backend;  // loop thread after start()
  std::unique_ptr<Central> central;         // loop thread after start()
  StreamRegistry streams;
  ServiceContext ctx;
  AdapterServiceImpl adapters;
  ScanServiceImpl scan;
  SessionServiceImpl sessions;
  GattServiceImpl gatt;
  PeripheralServiceImpl peripheral;
  MetricsServiceImpl metricsService{*metricsExport};
  GrpcServer grpc{{&adapters, &scan, &sessions, &gatt, &peripheral, &metricsService},
                  interceptors(rpcMetrics)};
  bool stopped = false;
};

Gateway::Gateway(GatewayOptions options)
    : Gateway(options, [options](Executor& loop) { return makeBluezBackend(loop, options); }) {}

Gateway::Gateway(GatewayOptions options, BackendFactory backend)
    : options_(std::move(options)), parts_(std::make_unique<Parts>(backend)) {}

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
  parts_->loop.runSync([this] { parts_->central->start(); });
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

void Gateway::runOnLoop(absl::AnyInvocable<void()> fn) { parts_->loop.runSync(std::move(fn)); }

const Metrics& Gateway::metrics() const { return parts_->metrics; }

void Gateway::shutdown(absl::Duration grace) {
  if (!parts_ || parts_->stopped) return;
  parts_->stopped = true;
  Parts& p = *parts_;
  p.grpc.setServing(false);
  // 1. Every open stream ends now (UNAVAILABLE, "shutting down"); new ones are refused.
  p.streams.closeAll();
  // 2. Calls waiting for the radio are answered, and the gateway lets go of what it holds in BlueZ.
  p.loop.runSync([&p] { p.central->shutdown(); });
  // 3. gRPC stops; a stream whose caller does not read is cancelled at the deadline.
  p.grpc.shutdown(grace);
  p.exposer.reset();
  // 4. The domain and the backend go, on the loop thread that owns them (after the releases
  //    the finished streams posted).
  p.loop.runSync([&p] {
    p.central.reset();
    p.backend.reset();
  });
  log::info("gateway.shut_down", {{"streams_open", p.streams.size()}});
}

}  // namespace gattway::server
