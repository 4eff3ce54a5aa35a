#include "server/peripheral_wiring.h"

#include "ble/bluez/bluez_peripheral_backend.h"

namespace gattway::server {

void PeripheralParts::start(EventLoop& loop, dbus::LoopConnection* bus, Metrics& metrics,
                            const PeripheralBackendFactory& factory) {
  if (factory) {
    backend = factory(loop);
  } else if (bus != nullptr) {
    backend = std::make_unique<bluez::BluezPeripheralBackend>(*bus);
  }
  if (!backend) return;
  peripheral = std::make_unique<peripheral::Peripheral>(loop, *backend, metrics);
  peripheral->start();
}

void PeripheralParts::stop() {
  if (peripheral) peripheral->stop();
  peripheral.reset();
  backend.reset();
}

}  // namespace gattway::server
