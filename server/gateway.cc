#include "server/gateway.h"

#include "absl/strings/str_cat.h"
#include "ble/bluez/bluez_central_backend.h"
#include "ble/central/absent_backend.h"
#include "ble/central/central.h"
#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "ble/metrics.h"
#include "prometheus/exposer.h"
#include "server/adapter_service.h"
#include "server/fleet_state.h"
#include "server/gatt_service.h"
#include "server/grpc_server.h"
#include "server/metrics_export.h"
#include "server/metrics_service.h"
#include "server/peripheral_service.h"
#include "server/peripheral_wiring.h"
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

// The production backend over the gateway's D-Bus connection (null when the bus could not be
// opened: then every BLE call answers UNAVAILABLE and says why).
std::unique_ptr<CentralBackend> makeBluezBackend(Executor& loop, dbus::LoopConnection* bus,
                                                 Metrics& metrics) {
  if (bus == nullptr) {
    return std::make_unique<AbsentBackend>(loop, "the D-Bus bus BlueZ is on could not be opened");
  }
  return std::make_unique<BluezCentralBackend>(*bus, metrics);
}

}  // namespace

// Built in declaration order; the loop thread outlives everything that posts to it, and shutdown()
// destroys the BLE parts on it.
struct Gateway::Parts {
  Parts(const GatewayOptions& options, const BackendFactory& factory)
      : built(buildOnLoop(options, factory)), streams(options.maxStreamsPerClient) {}

  LoopThread loop{"gattway-ble"};
  Metrics metrics;
  RpcMetrics rpcMetrics;
  // Shared: the Prometheus exposer holds a weak_ptr to it.
  std::shared_ptr<MetricsExport> metricsExport =
      std::make_shared<MetricsExport>(metrics, rpcMetrics, absl::Now(), GATTWAY_VERSION);
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<TokenStore> tokens;

  std::unique_ptr<dbus::LoopConnection> bus;  // loop thread only; the gateway's one connection
  std::unique_ptr<CentralBackend> backend;    // loop thread only
  std::unique_ptr<Central> central;           // loop thread only
  std::unique_ptr<FleetState> fleet;          // loop thread only
  PeripheralParts hosted;                     // loop thread only
  bool built;

  StreamRegistry streams;
  ServiceContext ctx{loop.loop(), *central, metrics, streams};
  AdapterServiceImpl adapters{ctx};
  ScanServiceImpl scan{ctx};
  SessionServiceImpl sessions{ctx};
  GattServiceImpl gatt{ctx};
  PeripheralServiceImpl peripheral;
  MetricsServiceImpl metricsService{*metricsExport};
  GrpcServer grpc{{&adapters, &scan, &sessions, &gatt, &peripheral, &metricsService},
                  interceptors(rpcMetrics)};
  bool stopped = false;

 private:
  // Opens the D-Bus connection (unless every backend is injected) and makes the central domain,
  // all on the loop thread.
  bool buildOnLoop(const GatewayOptions& options, const BackendFactory& factory) {
    loop.runSync([&] {
      if (!factory || !options.peripheralBackend) {
        if (auto c = dbus::openBus(options.dbusAddress); c.ok()) {
          bus = std::make_unique<dbus::LoopConnection>(loop.loop(), std::move(*c));
        } else {
          log::warn("dbus.unavailable", {{"error", c.status()}});
        }
      }
      backend =
          factory ? factory(loop.loop()) : makeBluezBackend(loop.loop(), bus.get(), metrics);
      central = std::make_unique<Central>(loop.loop(), *backend, metrics, options.watchdog);
    });
    return true;
  }
};

Gateway::Gateway(GatewayOptions options) : Gateway(std::move(options), BackendFactory()) {}

Gateway::Gateway(GatewayOptions options, BackendFactory backend)
    : options_(std::move(options)), parts_(std::make_unique<Parts>(options_, backend)) {}

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
  absl::Status fleet;
  parts_->loop.runSync([this, &fleet] {
    // Without a bus the gateway still serves; BLE calls answer UNAVAILABLE.
    parts_->central->start();
    // Policies and persistent sessions from --state_dir, then the config file.
    parts_->fleet = std::make_unique<FleetState>(parts_->loop.loop(), *parts_->central,
                                                 options_.stateDir, options_.configFile);
    fleet = parts_->fleet->start();
    parts_->hosted.start(parts_->loop.loop(), parts_->bus.get(), parts_->metrics,
                         options_.peripheralBackend);
    if (parts_->hosted.peripheral) {
      parts_->peripheral.attach(&parts_->loop.loop(), parts_->hosted.peripheral.get(),
                                &parts_->metrics, &parts_->streams);
    }
  });
  if (!fleet.ok()) return fleet;
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
  absl::Status config;
  parts_->loop.runSync([this, &config] {
    if (parts_->fleet) config = parts_->fleet->reloadConfig();
  });
  return config;
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
  p.loop.runSync([&p] {
    if (p.fleet) p.fleet->stop();  // pending changes are written; the ending sessions are not
    p.central->shutdown();
  });
  // 3. gRPC stops; a stream whose caller does not read is cancelled at the deadline.
  p.grpc.shutdown(grace);
  p.exposer.reset();
  // 4. The domain and the backend go, on the loop thread that owns them (after the releases
  //    the finished streams posted).
  p.loop.runSync([&p] {
    p.central.reset();
    p.fleet.reset();
    p.backend.reset();
    p.hosted.stop();  // withdraws the hosted database and advertisements from BlueZ
    p.bus.reset();
  });
  log::info("gateway.shut_down", {{"streams_open", p.streams.size()}});
}

}  // namespace gattway::server
