#include "tests/support/backend_harness.h"

#include <thread>

#include "tests/support/bluez_objects.h"

namespace gattway::testing {

void BackendHarness::startBluez(bool powered) {
  fake.addObject(adapterObject(kAdapter, "00:AA:01:00:00:00", powered), /*announce=*/false);
  fake.start();
}

void BackendHarness::startBackend(bool waitUp, std::size_t maxCallsInFlight) {
  client.runSync([&] {
    auto bus_ = dbus::openBus(bus.address());
    ASSERT_TRUE(bus_.ok()) << bus_.status();
    connection = std::make_unique<dbus::LoopConnection>(client.loop(), std::move(*bus_));
    backend = std::make_unique<BluezCentralBackend>(*connection, metrics, maxCallsInFlight);
    backend->start(&listener);
  });
  if (waitUp) {
    ASSERT_TRUE(listener.waitForCount("up", 1)) << "the backend never came up";
  }
}

bool BackendHarness::deviceConnected(const Address& address) {
  bool connected = false;
  onLoop([&] {
    const DeviceInfo* d = device(address);
    connected = d != nullptr && d->connected;
  });
  return connected;
}

bool eventually(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

}  // namespace gattway::testing
