// io.gattway.Sim1, the simulator's control interface on D-Bus: adding devices, changing what they
// advertise, faults (wedged controllers too), link drops and a bluetoothd restart, driven as
// another process would.
#include <future>

#include "absl/strings/str_cat.h"
#include "ble/sim/control.h"
#include "gtest/gtest.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

class TheControlInterface : public SimFixture {
 protected:
  void SetUp() override {
    startSim();
    c_ = client();
  }
  Reply control(const char* member, const std::function<void(sd_bus_message*)>& append = nullptr) {
    return c_->call(sim::kControlName, sim::kControlPath, sim::kControlInterface, member, append);
  }
  std::string bluezOwner() {
    Reply r = c_->call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                       "GetNameOwner", [](sd_bus_message* m) { sd_bus_message_append(m, "s", "org.bluez"); });
    const char* owner = nullptr;
    if (!r.ok() || sd_bus_message_read(r.message, "s", &owner) < 0) return "";
    return owner;
  }
  std::unique_ptr<BusClient> c_;
};

TEST_F(TheControlInterface, AddsDevicesFromYamlThatDiscoveryThenFinds) {
  Reply r = control("AddDevices", [](sd_bus_message* m) {
    sd_bus_message_append(m, "s",
                          "devices:\n"
                          "  - name: Extra-{n}\n"
                          "    address: \"AA:00:00:00:00:01\"\n"
                          "    count: 3\n"
                          "    advertising: {interval: 50ms, service_uuids: [\"181C\"]}\n");
  });
  ASSERT_TRUE(r.ok()) << r.errorName << " " << r.errorMessage;
  std::uint32_t added = 0;
  sd_bus_message_read(r.message, "u", &added);
  EXPECT_EQ(added, 3u);
  EXPECT_TRUE(discover(*c_, "/org/bluez/hci0/dev_AA_00_00_00_00_03", {"181c"}));
  EXPECT_EQ(c_->getString("/org/bluez/hci0/dev_AA_00_00_00_00_03", "org.bluez.Device1", "Name"), "Extra-3");
  Reply bad = control("AddDevices", [](sd_bus_message* m) { sd_bus_message_append(m, "s", "name: x\n"); });
  EXPECT_EQ(bad.errorName, "io.gattway.Sim1.Error.InvalidArgs");
  EXPECT_NE(bad.errorMessage.find("address"), std::string::npos);
}

TEST_F(TheControlInterface, ChangesWhatADeviceAdvertises) {
  ASSERT_TRUE(discover(*c_, kHrmPath));
  Reply r = control("SetAdvertising", [](sd_bus_message* m) {
    sd_bus_message_append(m, "s", kHrmAddress);
    sd_bus_message_open_container(m, 'a', "{sv}");
    sd_bus_message_append(m, "{sv}", "Name", "s", "Renamed");
    sd_bus_message_close_container(m);
  });
  ASSERT_TRUE(r.ok()) << r.errorMessage;
  EXPECT_TRUE(c_->waitFor([&] { return c_->getString(kHrmPath, "org.bluez.Device1", "Name") == "Renamed"; }));
  ASSERT_TRUE(control("SetRssi", [](sd_bus_message* m) { sd_bus_message_append(m, "sn", kHrmAddress, -90); }).ok());
  EXPECT_TRUE(c_->waitFor([&] {
    auto rssi = c_->getInt(kHrmPath, "org.bluez.Device1", "RSSI");
    return rssi && *rssi < -80;
  }));
  Reply unknown = control("SetRssi", [](sd_bus_message* m) { sd_bus_message_append(m, "sn", "01:02:03:04:05:06", -90); });
  EXPECT_EQ(unknown.errorName, "io.gattway.Sim1.Error.NotFound");
}

TEST_F(TheControlInterface, InjectsConnectFaultsAndDropsLinks) {
  ASSERT_TRUE(discover(*c_, kHrmPath));
  ASSERT_TRUE(control("FailConnect", [](sd_bus_message* m) {
    sd_bus_message_append(m, "sssuu", kHrmAddress, "failed", "Software caused connection abort", 0u, 1u);
  }).ok());
  Reply r = c_->call("org.bluez", kHrmPath, "org.bluez.Device1", "Connect");
  EXPECT_EQ(r.errorMessage, "Software caused connection abort");
  ASSERT_TRUE(connect(*c_, kHrmPath));
  ASSERT_TRUE(control("DropLink", [](sd_bus_message* m) { sd_bus_message_append(m, "ss", kHrmAddress, "timeout"); }).ok());
  EXPECT_TRUE(c_->waitFor([&] { return c_->getBool(kHrmPath, "org.bluez.Device1", "Connected") == false; }));
  Reply notLinked = control("DropLink", [](sd_bus_message* m) { sd_bus_message_append(m, "ss", kHrmAddress, "remote"); });
  EXPECT_EQ(notLinked.errorName, "io.gattway.Sim1.Error.Failed");
  Reply bad = control("FailConnect", [](sd_bus_message* m) { sd_bus_message_append(m, "sssuu", "", "sometimes", "", 0u, 1u); });
  EXPECT_EQ(bad.errorName, "io.gattway.Sim1.Error.InvalidArgs");
}

TEST_F(TheControlInterface, RestartsBluetoothdWithANewUniqueNameAndItsStoredDevices) {
  ASSERT_TRUE(discover(*c_, kHrmPath));
  ASSERT_TRUE(connect(*c_, kHrmPath));  // connecting makes it a stored (non-temporary) device
  const std::string before = bluezOwner();
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(control("RestartBluetoothd", [](sd_bus_message* m) { sd_bus_message_append(m, "u", 200u); }).ok());
  EXPECT_TRUE(c_->waitFor([&] { return bluezOwner().empty(); }));
  // The control interface stays while bluetoothd is away.
  EXPECT_TRUE(control("GetStats").ok());
  ASSERT_TRUE(c_->waitFor([&] { return !bluezOwner().empty() && c_->managedObjects().contains(kAdapterPath); }));
  EXPECT_NE(bluezOwner(), before);
  auto objects = c_->managedObjects();
  EXPECT_TRUE(objects.contains(kHrmPath));         // reloaded from storage
  EXPECT_FALSE(objects.contains(kCamPath));        // temporary: gone
  EXPECT_EQ(c_->getBool(kHrmPath, "org.bluez.Device1", "Connected"), false);
  // Devices were removed with InterfacesRemoved when it stopped.
  EXPECT_GE(c_->find([](const BusEvent& e) { return e.member == "InterfacesRemoved" && e.object == kHrmPath; }), 0);
}

TEST_F(TheControlInterface, RestartsAtOnceEvenBeforeTheBusHasSeenTheOldOneGo) {
  std::promise<absl::Status> back;
  onLoop([&] { sim_->restartBluetoothd(absl::ZeroDuration(), [&](absl::Status s) { back.set_value(s); }); });
  auto f = back.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());
  EXPECT_TRUE(c_->waitFor([&] { return c_->managedObjects().contains(kAdapterPath); }));
}

TEST_F(TheControlInterface, ReportsItsCountersAndDevices) {
  ASSERT_TRUE(discover(*c_, kHrmPath));
  Reply r = control("GetStats");
  ASSERT_TRUE(r.ok());
  std::map<std::string, std::uint64_t> stats;
  sd_bus_message_enter_container(r.message, 'a', "{sv}");
  while (sd_bus_message_enter_container(r.message, 'e', "sv") > 0) {
    const char* key = nullptr;
    std::uint64_t v = 0;
    sd_bus_message_read(r.message, "s", &key);
    sd_bus_message_read(r.message, "v", "t", &v);
    stats[key] = v;
    sd_bus_message_exit_container(r.message);
  }
  EXPECT_GT(stats["AdvertisingReports"], 0u);
  EXPECT_GT(stats["Signals"], 0u);
  EXPECT_EQ(stats["Devices"], 8u);
  Reply d = control("Devices");
  ASSERT_TRUE(d.ok());
  Reply central = control("CentralConnect", [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "hci0", "4A:00:00:00:00:01"); });
  EXPECT_EQ(central.errorName, "io.gattway.Sim1.Error.Failed");  // no advertisement registered
}

TEST_F(TheControlInterface, PowersAnAdapterOffAndOn) {
  ASSERT_TRUE(control("SetPowered", [](sd_bus_message* m) { sd_bus_message_append(m, "sb", "hci0", 0); }).ok());
  EXPECT_TRUE(c_->waitFor([&] { return c_->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered") == false; }));
  EXPECT_EQ(c_->getString(kAdapterPath, "org.bluez.Adapter1", "PowerState"), "off");
  ASSERT_TRUE(control("SetPowered", [](sd_bus_message* m) { sd_bus_message_append(m, "sb", "hci0", 1); }).ok());
  EXPECT_TRUE(c_->waitFor([&] { return c_->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered") == true; }));
  Reply none = control("SetPowered", [](sd_bus_message* m) { sd_bus_message_append(m, "sb", "hci9", 1); });
  EXPECT_EQ(none.errorName, "io.gattway.Sim1.Error.NotFound");
}

// Wedged controllers: discovery that starts but never scans, connects that all answer InProgress,
// each until cured; and the power cycle that cures them, which behaves as BlueZ 5.66's (links
// drop, discovery ends, Powered comes back).
class AWedgedAdapter : public TheControlInterface {
 protected:
  Reply adapterCall(const char* member) {
    return c_->call("org.bluez", kAdapterPath, "org.bluez.Adapter1", member);
  }
  std::optional<bool> discovering() {
    return c_->getBool(kAdapterPath, "org.bluez.Adapter1", "Discovering");
  }
  void wedgeDiscovery(const char* cure, std::uint32_t restarts) {
    Reply r = control("WedgeDiscovery", [&](sd_bus_message* m) {
      sd_bus_message_append(m, "ssu", "hci0", cure, restarts);
    });
    ASSERT_TRUE(r.ok()) << r.errorName << " " << r.errorMessage;
  }
  void powerCycle() {
    ASSERT_TRUE(control("SetPowered", [](sd_bus_message* m) { sd_bus_message_append(m, "sb", "hci0", 0); }).ok());
    ASSERT_TRUE(c_->waitFor([&] { return c_->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered") == false; }));
    ASSERT_TRUE(control("SetPowered", [](sd_bus_message* m) { sd_bus_message_append(m, "sb", "hci0", 1); }).ok());
    ASSERT_TRUE(c_->waitFor([&] { return c_->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered") == true; }));
  }
  // StartDiscovery succeeds, yet neither Discovering nor a device turns up within `wait`.
  void expectStartWithoutDiscovering(absl::Duration wait = absl::Milliseconds(400)) {
    Reply r = adapterCall("StartDiscovery");
    ASSERT_TRUE(r.ok()) << r.errorName << " " << r.errorMessage;
    c_->pump(wait);
    EXPECT_EQ(discovering(), false);
    EXPECT_FALSE(c_->managedObjects().contains(kHrmPath));
  }
};

TEST_F(AWedgedAdapter, StartsDiscoveryWithoutEverDiscoveringUntilAPowerCycle) {
  wedgeDiscovery("power-cycle", 0);
  expectStartWithoutDiscovering();
  // Restarting discovery does not help with this cure.
  ASSERT_TRUE(adapterCall("StopDiscovery").ok());
  expectStartWithoutDiscovering();
  powerCycle();
  // Powering off ended the session; a new one discovers.
  EXPECT_EQ(discovering(), false);
  ASSERT_TRUE(discover(*c_, kHrmPath));
  EXPECT_TRUE(c_->waitFor([&] { return discovering() == true; }));
}

TEST_F(AWedgedAdapter, IsCuredByRestartingDiscoveryWhenSoConfigured) {
  wedgeDiscovery("restart-discovery", 2);
  expectStartWithoutDiscovering();
  ASSERT_TRUE(adapterCall("StopDiscovery").ok());
  expectStartWithoutDiscovering();  // one stop of the two
  ASSERT_TRUE(adapterCall("StopDiscovery").ok());
  ASSERT_TRUE(adapterCall("StartDiscovery").ok());
  EXPECT_TRUE(c_->waitFor([&] { return discovering() == true; }));
  EXPECT_TRUE(c_->waitFor([&] { return c_->managedObjects().contains(kHrmPath); }));
}

TEST_F(AWedgedAdapter, StopsAScanThatWasRunning) {
  ASSERT_TRUE(discover(*c_, kHrmPath));
  ASSERT_TRUE(c_->waitFor([&] { return discovering() == true; }));
  wedgeDiscovery("power-cycle", 0);
  EXPECT_TRUE(c_->waitFor([&] { return discovering() == false; }));
  // The client's session stays: a second StartDiscovery is still "busy".
  EXPECT_EQ(adapterCall("StartDiscovery").errorName, "org.bluez.Error.InProgress");
}

TEST_F(AWedgedAdapter, AnswersInProgressToEveryConnectUntilAPowerCycleDropsItsLinks) {
  ASSERT_TRUE(discover(*c_, kCamPath));
  ASSERT_TRUE(c_->waitFor([&] { return c_->managedObjects().contains(kHrmPath); }));
  ASSERT_TRUE(connect(*c_, kCamPath));
  Reply r = control("WedgeConnects", [](sd_bus_message* m) { sd_bus_message_append(m, "s", "hci0"); });
  ASSERT_TRUE(r.ok()) << r.errorMessage;
  for (int i = 0; i < 3; ++i) {
    Reply busy = c_->call("org.bluez", kHrmPath, "org.bluez.Device1", "Connect");
    EXPECT_EQ(busy.errorName, "org.bluez.Error.InProgress");
    EXPECT_EQ(busy.errorMessage, "Operation already in progress");
  }
  // The link already up stays until the power cycle, which drops it as 5.66 does.
  EXPECT_EQ(c_->getBool(kCamPath, "org.bluez.Device1", "Connected"), true);
  powerCycle();
  EXPECT_EQ(c_->getBool(kCamPath, "org.bluez.Device1", "Connected"), false);
  EXPECT_EQ(c_->getBool(kCamPath, "org.bluez.Device1", "ServicesResolved"), false);
  EXPECT_EQ(discovering(), false);
  ASSERT_TRUE(connect(*c_, kHrmPath));
}

TEST_F(AWedgedAdapter, IsCuredByABluetoothdRestart) {
  ASSERT_TRUE(control("WedgeConnects", [](sd_bus_message* m) { sd_bus_message_append(m, "s", "hci0"); }).ok());
  wedgeDiscovery("power-cycle", 0);
  ASSERT_TRUE(control("RestartBluetoothd", [](sd_bus_message* m) { sd_bus_message_append(m, "u", 100u); }).ok());
  ASSERT_TRUE(c_->waitFor([&] {
    return c_->managedObjects().contains(kAdapterPath) &&
           c_->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered") == true;
  }));
  ASSERT_TRUE(discover(*c_, kHrmPath));
  ASSERT_TRUE(connect(*c_, kHrmPath));
}

TEST_F(AWedgedAdapter, RefusesAnUnknownCureOrAdapter) {
  Reply bad = control("WedgeDiscovery", [](sd_bus_message* m) {
    sd_bus_message_append(m, "ssu", "hci0", "reboot", 1u);
  });
  EXPECT_EQ(bad.errorName, "io.gattway.Sim1.Error.InvalidArgs");
  EXPECT_NE(bad.errorMessage.find("power-cycle or restart-discovery"), std::string::npos);
  Reply unknown = control("WedgeConnects", [](sd_bus_message* m) { sd_bus_message_append(m, "s", "hci9"); });
  EXPECT_EQ(unknown.errorName, "io.gattway.Sim1.Error.NotFound");
  // ClearFaults cures wedges too.
  wedgeDiscovery("power-cycle", 0);
  ASSERT_TRUE(control("ClearFaults").ok());
  ASSERT_TRUE(discover(*c_, kHrmPath));
}

}  // namespace
}  // namespace gattway::testing
