#include "server/gateway.h"

#include "ble/central/absent_backend.h"
#include "ble/central/central.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "server/adapter_service.h"
#include "server/gatt_service.h"
#include "server/grpc_server.h"
#include "server/metrics_service.h"
#include "server/peripheral_service.h"
#include "server/scan_service.h"
#include "server/service_context.h"
#include "server/session_service.h"
#include "server/stream_registry.h"

namespace gattway::server {
namespace {

// The production backend.
//
// CONSTRUCTION POINT for BluezCentralBackend (branch `bluez`): open a dbus::LoopConnection on
// `options.dbusAddress` (empty: the system bus) on `loop`, and return a BluezCentralBackend over
// it. Until that class is merged, the gateway runs with a backend that reports BlueZ absent, so
// every BLE call answers UNAVAILABLE (BLUEZ_UNAVAILABLE) and saying why.
std::unique_ptr<CentralBackend> makeBluezBackend(Executor& loop, const GatewayOptions&) {
  return std::make_unique<AbsentBackend>(
      loop, "this gattwayd has no BlueZ backend built in yet (ble/bluez, branch bluez)");
}

}  // namespace

// Declared in destruction order, reversed: the loop thread outlives everything that posts to
// it; the domain outlives the services that call it.
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
  std::unique_ptr<CentralBackend> backend;  // loop thread after start()
  std::unique_ptr<Central> central;         // loop thread after start()
  StreamRegistry streams;
  ServiceContext ctx;
  AdapterServiceImpl adapters;
  ScanServiceImpl scan;
  SessionServiceImpl sessions;
  GattServiceImpl gatt;
  PeripheralServiceImpl peripheral;
  MetricsServiceImpl metricsService;
  GrpcServer grpc{{&adapters, &scan, &sessions, &gatt, &peripheral, &metricsService}};
  bool stopped = false;
};

Gateway::Gateway(GatewayOptions options)
    : Gateway(options, [options](Executor& loop) { return makeBluezBackend(loop, options); }) {}

Gateway::Gateway(GatewayOptions options, BackendFactory backend)
    : options_(std::move(options)), parts_(std::make_unique<Parts>(backend)) {}

Gateway::~Gateway() { shutdown(absl::ZeroDuration()); }

absl::Status Gateway::start() {
  parts_->loop.runSync([this] { parts_->central->start(); });
  if (auto s = parts_->grpc.start(options_.grpcAddress); !s.ok()) return s;
  parts_->grpc.setServing(true);
  log::info("grpc.listening", {{"address", options_.grpcAddress}, {"port", parts_->grpc.port()}});
  return absl::OkStatus();
}

int Gateway::grpcPort() const { return parts_->grpc.port(); }

absl::Status Gateway::reload() { return absl::OkStatus(); }

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
  // 4. The domain and the backend go, on the loop thread that owns them (after the releases
  //    the finished streams posted).
  p.loop.runSync([&p] {
    p.central.reset();
    p.backend.reset();
  });
  log::info("gateway.shut_down", {{"streams_open", p.streams.size()}});
}

}  // namespace gattway::server
