#include "server/gateway.h"

#include "ble/log.h"
#include "server/adapter_service.h"
#include "server/gatt_service.h"
#include "server/grpc_server.h"
#include "server/metrics_service.h"
#include "server/peripheral_service.h"
#include "server/scan_service.h"
#include "server/session_service.h"

namespace gattway::server {

struct Gateway::Parts {
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
}

}  // namespace gattway::server
