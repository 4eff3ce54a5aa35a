// One discovery session per adapter: the calls BlueZ sees, restarts after power cycles, errors.
#include "ble/bluez/paths.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/backend_harness.h"
#include "tests/support/bluez_objects.h"

namespace gattway {
namespace {

using bluez::findProperty;
using testing::BackendHarness;
using testing::deviceObject;
using testing::eventually;

const Address kSensor = *Address::parse("C0:FF:EE:00:00:01");

class DiscoveryOverBluez : public BackendHarness {
 protected:
  absl::Status start(const DiscoveryFilter& filter) {
    return awaitStatus([&](StatusCallback done) {
      return backend->startDiscovery(kAdapter, filter, std::move(done));
    });
  }
  absl::Status stop() {
    return awaitStatus(
        [&](StatusCallback done) { return backend->stopDiscovery(kAdapter, std::move(done)); });
  }
  absl::Status power(bool on) {
    return awaitStatus(
        [&](StatusCallback done) { return backend->setPowered(kAdapter, on, std::move(done)); });
  }
};

TEST_F(DiscoveryOverBluez, SetsTheFilterThenStartsAndReReportsKnownDevices) {
  fake.addObject(deviceObject(kAdapter, kSensor), false);
  startBluez();
  startBackend();
  listener.clear();
  DiscoveryFilter filter;
  filter.uuids = {Uuid::fromShort(0x180d)};
  filter.rssi = -80;
  ASSERT_TRUE(start(filter).ok());
  const auto calls = fake.calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[calls.size() - 2], "SetDiscoveryFilter /org/bluez/hci0");
  EXPECT_EQ(calls.back(), "StartDiscovery /org/bluez/hci0");
  const auto options = fake.lastOptions("SetDiscoveryFilter");
  EXPECT_EQ(*findProperty<std::string>(options, "Transport"), "le");
  EXPECT_EQ(*findProperty<bool>(options, "DuplicateData"), true);
  EXPECT_EQ(*findProperty<std::int16_t>(options, "RSSI"), -80);
  EXPECT_EQ(*findProperty<std::vector<std::string>>(options, "UUIDs"),
            std::vector<std::string>{"0000180d-0000-1000-8000-00805f9b34fb"});
  EXPECT_TRUE(fake.discovering(kAdapterPath));
  ASSERT_TRUE(listener.waitFor([](const auto& events) {
    for (const auto& e : events) {
      if (e.kind == "device" && e.address == kSensor &&
          (e.changes & device_change::kAdvertisement) != 0) {
        return true;
      }
    }
    return false;
  }));
}

TEST_F(DiscoveryOverBluez, ChangesTheFilterOfARunningSessionAndStopsItCleanly) {
  startBluez();
  startBackend();
  ASSERT_TRUE(start({}).ok());
  DiscoveryFilter narrower;
  narrower.pattern = "Polar";
  ASSERT_TRUE(start(narrower).ok());
  EXPECT_EQ(fake.callCount("StartDiscovery"), 1);
  EXPECT_EQ(fake.callCount("SetDiscoveryFilter"), 2);
  EXPECT_EQ(*findProperty<std::string>(fake.lastOptions("SetDiscoveryFilter"), "Pattern"),
            "Polar");
  ASSERT_TRUE(start(narrower).ok());  // nothing to change
  EXPECT_EQ(fake.callCount("SetDiscoveryFilter"), 2);

  ASSERT_TRUE(stop().ok());
  EXPECT_FALSE(fake.discovering(kAdapterPath));
  // The filter is cleared after the stop, so none is left behind in BlueZ.
  const auto calls = fake.calls();
  EXPECT_EQ(calls[calls.size() - 2], "StopDiscovery /org/bluez/hci0");
  EXPECT_EQ(calls.back(), "SetDiscoveryFilter /org/bluez/hci0");
  EXPECT_TRUE(fake.lastOptions("SetDiscoveryFilter").empty());
  ASSERT_TRUE(stop().ok());  // stopping twice is fine
  EXPECT_EQ(fake.callCount("StopDiscovery"), 1);
}

TEST_F(DiscoveryOverBluez, StartsAgainAfterThePowerComesBack) {
  startBluez();
  startBackend();
  ASSERT_TRUE(start({}).ok());
  ASSERT_TRUE(power(false).ok());
  ASSERT_TRUE(eventually([&] { return !fake.discovering(kAdapterPath); }));
  ASSERT_TRUE(power(true).ok());
  ASSERT_TRUE(eventually([&] { return fake.discovering(kAdapterPath); }));
  EXPECT_EQ(fake.callCount("StartDiscovery"), 2);
}

TEST_F(DiscoveryOverBluez, StartsAgainAfterBluetoothdRestarts) {
  startBluez();
  startBackend();
  ASSERT_TRUE(start({}).ok());
  fake.crash();
  ASSERT_TRUE(listener.waitForCount("down", 1));
  fake.start();
  ASSERT_TRUE(listener.waitForCount("up", 1));
  ASSERT_TRUE(eventually([&] { return fake.discovering(kAdapterPath); }));
}

TEST_F(DiscoveryOverBluez, StartsAgainWhenBluetoothdRemovesItsAdapterBeforeLeaving) {
  startBluez();
  startBackend();
  ASSERT_TRUE(start({}).ok());
  // A stopping bluetoothd removes its objects first (the simulator does too).
  fake.removeObject(kAdapterPath);
  ASSERT_TRUE(listener.waitForCount("adapter-removed", 1));
  fake.crash();
  ASSERT_TRUE(listener.waitForCount("down", 1));
  fake.start();
  ASSERT_TRUE(listener.waitForCount("up", 2));
  // It comes back without adapters, which appear a moment later.
  fake.addObject(testing::adapterObject(kAdapter, "00:AA:01:00:00:00"));
  ASSERT_TRUE(eventually([&] { return fake.discovering(kAdapterPath); }));
}

TEST_F(DiscoveryOverBluez, ReportsAnAdapterThatIsOffOrUnknown) {
  startBluez(/*powered=*/false);
  startBackend();
  const auto off = start({});
  EXPECT_EQ(off.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::reasonOf(off), err::Reason::kAdapterOff);
  EXPECT_EQ(err::metadata(off, err::kMetaBluezError), "org.bluez.Error.NotReady");
  // It does not keep trying on its own.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(fake.callCount("SetDiscoveryFilter"), 1);

  const auto unknown = awaitStatus([&](StatusCallback done) {
    return backend->startDiscovery("hci7", {}, std::move(done));
  });
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(err::reasonOf(unknown), err::Reason::kAdapterNotFound);
}

TEST_F(DiscoveryOverBluez, LeavesOtherClientsSessionsAlone) {
  startBluez();
  startBackend();
  // Someone else is discovering: the adapter says so, and ours is still our own to start.
  fake.setProperties(kAdapterPath, "org.bluez.Adapter1", {{"Discovering", true}});
  ASSERT_TRUE(eventually([&] {
    bool on = false;
    onLoop([&] { on = backend->adapters()[0].discovering; });
    return on;
  }));
  ASSERT_TRUE(start({}).ok());
  EXPECT_EQ(fake.callCount("StartDiscovery"), 1);
  ASSERT_TRUE(stop().ok());
  EXPECT_EQ(fake.callCount("StopDiscovery"), 1);
}

}  // namespace
}  // namespace gattway
