// The assembled gateway: the BLE layer on its event-loop thread, the gattway.v1 services and the
// gRPC server. cmd/gattwayd wires flags into GatewayOptions; integration tests build one
// in-process against a private bus.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ble/central/adapter_watchdog.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"
#include "server/transport_security.h"

namespace gattway {
class EventLoop;
class PeripheralBackend;
}  // namespace gattway

namespace gattway::server {

struct GatewayOptions {
  // gRPC listen address ("127.0.0.1:50051", "[::]:50051", "unix:/run/gattway.sock"); port 0 picks
  // a free port.
  std::string grpcAddress = "127.0.0.1:50051";
  // Prometheus endpoint; empty disables it.
  std::string metricsAddress;
  // D-Bus address of the bus BlueZ is on; empty: the system bus (DBUS_SYSTEM_BUS_ADDRESS, else
  // /run/dbus/system_bus_socket).
  std::string dbusAddress;
  // Where policies and persistent sessions are kept.
  std::string stateDir;
  // Configuration file (YAML or JSON GatewayConfig); empty: none.
  std::string configFile;
  // TLS, mTLS, tokens and the --insecure rule.
  TransportSecurityOptions security;
  // Largest request accepted, in bytes (larger: RESOURCE_EXHAUSTED).
  int maxMessageBytes = 1 << 20;
  // Most streams one client may hold open at once (server/client_identity.h says who a client
  // is); beyond it a new stream is refused with RESOURCE_EXHAUSTED.
  std::size_t maxStreamsPerClient = 64;
  // The adapter watchdog (ble/central/adapter_watchdog.h).
  WatchdogOptions watchdog;
  // Builds the hosted peripheral's backend on the loop thread; unset: BlueZ on dbusAddress.
  // Tests inject an in-process fake.
  std::function<std::unique_ptr<PeripheralBackend>(EventLoop&)> peripheralBackend;
};

// Makes the platform backend on the gateway's loop (its executor).
using BackendFactory = std::function<std::unique_ptr<CentralBackend>(Executor& loop)>;

class Gateway {
 public:
  // The production gateway: BlueZ on `options.dbusAddress`.
  explicit Gateway(GatewayOptions options);
  // A gateway over another backend (tests pass the in-process fake).
  Gateway(GatewayOptions options, BackendFactory backend);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts serving; health turns SERVING once the gRPC server is up.
  absl::Status start();
  // The bound gRPC port (after start()).
  int grpcPort() const;
  // The bound Prometheus port (after start()); 0 when metrics are off.
  int metricsPort() const;
  // Reloads the configuration file (SIGHUP).
  absl::Status reload();
  // Ends open streams (UNAVAILABLE, "shutting down"), answers pending calls, stops accepting
  // calls and releases BlueZ resources. Streams whose caller does not read are cancelled after
  // `grace`.
  void shutdown(absl::Duration grace);

  // Runs `fn` on the BLE loop thread and waits for it (tests and tools; never from the loop).
  void runOnLoop(absl::AnyInvocable<void()> fn);
  const Metrics& metrics() const;

 private:
  struct Parts;
  GatewayOptions options_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace gattway::server
