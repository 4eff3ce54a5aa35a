// The hosted peripheral's parts in the gateway: its platform backend (BlueZ on the gateway's
// D-Bus connection, or what a test injects) and the domain, on the BLE loop thread.
#pragma once

#include <functional>
#include <memory>

#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
#include "ble/metrics.h"
#include "ble/peripheral/peripheral.h"
#include "ble/peripheral_backend.h"

namespace gattway::server {

// Builds a PeripheralBackend on the loop thread. Tests inject an in-process fake.
using PeripheralBackendFactory = std::function<std::unique_ptr<PeripheralBackend>(EventLoop&)>;

struct PeripheralParts {
  std::unique_ptr<PeripheralBackend> backend;
  std::unique_ptr<peripheral::Peripheral> peripheral;

  // Loop thread. `bus` may be null (no D-Bus): then only `factory` can provide a backend.
  void start(EventLoop& loop, dbus::LoopConnection* bus, Metrics& metrics,
             const PeripheralBackendFactory& factory);
  // Loop thread: withdraws the database and advertisements from BlueZ.
  void stop();
};

}  // namespace gattway::server
