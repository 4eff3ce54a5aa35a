#include "server/gateway.h"

#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "ble/metrics.h"
#include "server/adapter_service.h"
#include "server/gatt_service.h"
#include "server/grpc_server.h"
#include "server/metrics_service.h"
#include "server/peripheral_service.h"
#include "server/peripheral_wiring.h"
#include "server/scan_service.h"
#include "server/session_service.h"

namespace gattway::server {

struct Gateway::Parts {
  Metrics bleMetrics;
  LoopThread loop{"gattway-ble"};
  std::unique_ptr<dbus::LoopConnection> bus;  // loop thread only
  PeripheralParts hosted;                     // loop thread only
  AdapterServiceImpl adapters;
  ScanServiceImpl scan;
  SessionServiceImpl sessions;
  GattServiceImpl gatt;
  PeripheralServiceImpl peripheral;
  MetricsServiceImpl metrics;
  GrpcServer grpc{{&adapters, &scan, &sessions, &gatt, &peripheral, &metrics}};
};

Gateway::Gateway(GatewayOptions options)
    : options_(std::move(options)), parts_(std::make_unique<Parts>()) {}

Gateway::~Gateway() { shutdown(absl::ZeroDuration()); }

absl::Status Gateway::start() {
  parts_->loop.runSync([this] {
    // Without a bus the gateway still serves; BLE calls answer UNAVAILABLE.
    if (auto c = dbus::openBus(options_.dbusAddress); c.ok()) {
      parts_->bus = std::make_unique<dbus::LoopConnection>(parts_->loop.loop(), std::move(*c));
    } else {
      log::warn("dbus.unavailable", {{"error", c.status()}});
    }
    parts_->hosted.start(parts_->loop.loop(), parts_->bus.get(), parts_->bleMetrics,
                         options_.peripheralBackend);
    if (parts_->hosted.peripheral) {
      parts_->peripheral.attach(&parts_->loop.loop(), parts_->hosted.peripheral.get(),
                                &parts_->bleMetrics);
    }
  });
  if (auto s = parts_->grpc.start(options_.grpcAddress); !s.ok()) return s;
  parts_->grpc.setServing(true);
  log::info("grpc.listening", {{"address", options_.grpcAddress}, {"port", parts_->grpc.port()}});
  return absl::OkStatus();
}

int Gateway::grpcPort() const { return parts_->grpc.port(); }

absl::Status Gateway::reload() { return absl::OkStatus(); }

void Gateway::shutdown(absl::Duration grace) {
  if (!parts_) return;
  parts_->grpc.shutdown(grace);
  // After gRPC: no call can reach the loop any more.
  parts_->loop.runSync([this] {
    parts_->hosted.stop();
    parts_->bus.reset();
  });
}

}  // namespace gattway::server
