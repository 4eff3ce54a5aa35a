// The BlueZ backend's mirror against a fake org.bluez: the snapshot, the signals, and bluetoothd
// leaving and coming back.
#include <systemd/sd-bus.h>

#include "ble/bluez/paths.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/backend_harness.h"
#include "tests/support/bluez_objects.h"

namespace gattway {
namespace {

using testing::BackendHarness;
using testing::deviceObject;
using testing::eventually;
using testing::RecordingListener;

const Address kSensor = *Address::parse("C0:FF:EE:00:00:01");
const Address kTag = *Address::parse("C0:FF:EE:00:00:02");

class TheBluezBackend : public BackendHarness {};

TEST_F(TheBluezBackend, ReportsEveryAdapterAndDeviceAndThenThatItIsUp) {
  fake.addObject(deviceObject(kAdapter, kSensor, {{"RSSI", std::int16_t{-55}}}), false);
  startBluez();
  startBackend();
  const auto events = listener.events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0].kind, "adapter");
  EXPECT_EQ(events[1].kind, "device");
  EXPECT_EQ(events[1].address, kSensor);
  EXPECT_NE(events[1].changes & device_change::kAdded, 0u);
  EXPECT_EQ(events.back().kind, "up");
  onLoop([&] {
    EXPECT_TRUE(backend->bluezUp());
    ASSERT_EQ(backend->adapters().size(), 1u);
    EXPECT_TRUE(backend->adapters()[0].powered);
    ASSERT_NE(device(kSensor), nullptr);
    EXPECT_EQ(device(kSensor)->rssi, -55);
  });
  EXPECT_EQ(metrics.bluezUp.value(), 1);
}

TEST_F(TheBluezBackend, WaitsForBlueZToAppear) {
  startBackend(/*waitUp=*/false);
  onLoop([&] { EXPECT_FALSE(backend->bluezUp()); });
  const auto status = awaitStatus([&](StatusCallback done) {
    return backend->startDiscovery(kAdapter, {}, std::move(done));
  });
  EXPECT_EQ(err::reasonOf(status), err::Reason::kBluezUnavailable);
  startBluez();
  ASSERT_TRUE(listener.waitForCount("up", 1));
  EXPECT_EQ(metrics.bluezRestarts.value(), 0u);
}

TEST_F(TheBluezBackend, FollowsObjectsAndPropertiesAsBlueZSignalsThem) {
  startBluez();
  startBackend();
  fake.addObject(deviceObject(kAdapter, kTag));
  fake.setProperties(bluez::devicePath(kAdapter, kTag), "org.bluez.Device1",
                     {{"RSSI", std::int16_t{-70}},
                      {"ManufacturerData", std::map<std::uint16_t, bluez::Bytes>{{0x0059, {7}}}}});
  ASSERT_TRUE(listener.waitFor([](const auto& events) {
    for (const auto& e : events) {
      if (e.kind == "device" && (e.changes & device_change::kRssi) != 0 &&
          e.device.rssi == -70) {
        return true;
      }
    }
    return false;
  }));
  onLoop([&] {
    ASSERT_NE(device(kTag), nullptr);
    EXPECT_EQ(device(kTag)->advertisement.manufacturerData.at(0x0059), bluez::Bytes{7});
  });
  fake.removeObject(bluez::devicePath(kAdapter, kTag));
  ASSERT_TRUE(listener.waitForCount("device-removed", 1));
  onLoop([&] { EXPECT_EQ(device(kTag), nullptr); });
  EXPECT_GE(metrics.dbusSignalsReceived.value(), 3u);
}

TEST_F(TheBluezBackend, ResyncsWhenBluetoothdRestarts) {
  fake.addObject(deviceObject(kAdapter, kSensor), false);
  startBluez();
  startBackend();
  // A call BlueZ never answers fails when bluetoothd goes, rather than hanging.
  fake.script("StartDiscovery", [](const auto&, const auto&) {});
  auto promise = std::make_shared<std::promise<absl::Status>>();
  onLoop([&] {
    held.push_back(backend->startDiscovery(kAdapter, {}, [promise](absl::Status s) {
      promise->set_value(s);
    }));
  });
  ASSERT_TRUE(eventually([&] { return fake.callCount("StartDiscovery") == 1; }));
  const std::string before = fake.uniqueName();

  fake.crash();
  auto future = promise->get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(err::reasonOf(future.get()), err::Reason::kBluezUnavailable);
  ASSERT_TRUE(listener.waitForCount("down", 1));
  onLoop([&] {
    EXPECT_FALSE(backend->bluezUp());
    EXPECT_TRUE(backend->adapters().empty());
    EXPECT_EQ(device(kSensor), nullptr);
  });
  EXPECT_EQ(metrics.bluezUp.value(), 0);

  // It comes back with another tree.
  fake.script("StartDiscovery", nullptr);
  fake.removeObject(bluez::devicePath(kAdapter, kSensor), false);
  fake.addObject(deviceObject(kAdapter, kTag), false);
  listener.clear();
  fake.start();
  EXPECT_NE(fake.uniqueName(), before);
  ASSERT_TRUE(listener.waitForCount("up", 1));
  onLoop([&] {
    EXPECT_TRUE(backend->bluezUp());
    EXPECT_EQ(device(kSensor), nullptr);
    EXPECT_NE(device(kTag), nullptr);
  });
  EXPECT_EQ(metrics.bluezRestarts.value(), 1u);
  EXPECT_EQ(metrics.bluezUp.value(), 1);
}

TEST_F(TheBluezBackend, CanOpenAndOwnItsConnection) {
  startBluez();
  testing::RecordingListener own;
  std::unique_ptr<BluezCentralBackend> owning;
  onLoop([&] {
    auto opened = BluezCentralBackend::open(client.loop(), bus.address(), metrics);
    ASSERT_TRUE(opened.ok()) << opened.status();
    owning = std::move(*opened);
    owning->start(&own);
  });
  EXPECT_TRUE(own.waitForCount("up", 1));
  onLoop([&] { owning.reset(); });
  onLoop([&] {
    auto unreachable = BluezCentralBackend::open(client.loop(), "unix:path=/nonexistent/bus", metrics);
    EXPECT_EQ(err::reasonOf(unreachable.status()), err::Reason::kBluezUnavailable);
  });
}

TEST_F(TheBluezBackend, TakesSignalsFromBlueZOnly) {
  fake.addObject(deviceObject(kAdapter, kSensor), false);
  startBluez();
  startBackend();
  // Another connection emits a BlueZ-shaped change; then BlueZ emits one.
  sd_bus* other = nullptr;
  ASSERT_GE(sd_bus_new(&other), 0);
  sd_bus_set_address(other, bus.address().c_str());
  sd_bus_set_bus_client(other, 1);
  ASSERT_GE(sd_bus_start(other), 0);
  ASSERT_GE(sd_bus_emit_signal(other, bluez::devicePath(kAdapter, kSensor).c_str(),
                               "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
                               "org.bluez.Device1", 1, "Alias", "s", "impostor", 0),
            0);
  sd_bus_flush_close_unref(other);
  fake.setProperties(bluez::devicePath(kAdapter, kSensor), "org.bluez.Device1",
                     {{"RSSI", std::int16_t{-40}}});
  ASSERT_TRUE(listener.waitFor([](const auto& events) {
    for (const auto& e : events) {
      if (e.kind == "device" && e.device.rssi == -40) return true;
    }
    return false;
  }));
  onLoop([&] { EXPECT_NE(device(kSensor)->alias, "impostor"); });
}

}  // namespace
}  // namespace gattway
