// Discovery on the simulated BlueZ: sessions per client, filters and their merging, which reports
// create devices, and what the end of a discovery run does (bluez-5.66-api.md §1, §7.1-7.3).
#include "gtest/gtest.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

constexpr char kAdapter1[] = "org.bluez.Adapter1";

class Discovery : public SimFixture {
 protected:
  void SetUp() override { startSim(); }
  Reply adapterCall(BusClient& c, const char* member) {
    return c.call("org.bluez", kAdapterPath, kAdapter1, member);
  }
  Reply setFilter(BusClient& c, const std::function<void(sd_bus_message*)>& entries) {
    return c.call("org.bluez", kAdapterPath, kAdapter1, "SetDiscoveryFilter", [&](sd_bus_message* m) {
      sd_bus_message_open_container(m, 'a', "{sv}");
      if (entries) entries(m);
      sd_bus_message_close_container(m);
    });
  }
  bool hasDevice(BusClient& c, const std::string& path) { return c.managedObjects().contains(path); }
};

TEST_F(Discovery, GivesEachClientOneSession) {
  auto c = client();
  ASSERT_TRUE(adapterCall(*c, "StartDiscovery").ok());
  Reply again = adapterCall(*c, "StartDiscovery");
  EXPECT_EQ(again.errorName, "org.bluez.Error.InProgress");
  EXPECT_EQ(again.errorMessage, "Operation already in progress");
  auto other = client();
  EXPECT_TRUE(adapterCall(*other, "StartDiscovery").ok());  // another client: its own session
  Reply none = adapterCall(*client(), "StopDiscovery");
  EXPECT_EQ(none.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(none.errorMessage, "No discovery started");
}

TEST_F(Discovery, RepliesToStartBeforeSignallingDiscovering) {
  auto c = client();
  c->callAsync("org.bluez", kAdapterPath, kAdapter1, "StartDiscovery");
  ASSERT_TRUE(c->waitFor([&] {
    return c->find([](const BusEvent& e) { return e.values.contains("Discovering"); }) >= 0;
  }));
  const int reply = c->find([](const BusEvent& e) { return e.kind == BusEvent::kReply; });
  const int signal = c->find([](const BusEvent& e) { return e.values.contains("Discovering"); });
  ASSERT_GE(reply, 0);
  EXPECT_LT(reply, signal);
  EXPECT_EQ(c->getBool(kAdapterPath, kAdapter1, "Discovering"), true);
}

TEST_F(Discovery, WithAUuidFilterFindsOnlyMatchingDevices) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath, {"0000180d-0000-1000-8000-00805f9b34fb"}));
  c->pump(absl::Milliseconds(600));  // every device has advertised by now
  auto objects = c->managedObjects();
  EXPECT_TRUE(objects.contains(kHrmPath));
  EXPECT_FALSE(objects.contains(kCamPath));
  EXPECT_EQ(c->getString(kHrmPath, "org.bluez.Device1", "Alias"), "HRM-Strap");
  EXPECT_EQ(c->getString(kHrmPath, "org.bluez.Device1", "Adapter"), kAdapterPath);
}

TEST_F(Discovery, UnfilteredIgnoresAdvertisersWithoutTheDiscoverableFlag) {
  auto c = client();
  ASSERT_TRUE(adapterCall(*c, "StartDiscovery").ok());
  c->pump(absl::Milliseconds(700));
  auto objects = c->managedObjects();
  EXPECT_TRUE(objects.contains(kHrmPath));
  EXPECT_FALSE(objects.contains("/org/bluez/hci0/dev_D0_BE_AC_00_00_01"));  // the beacon
}

TEST_F(Discovery, FilteredSeesBeaconsWithTheirManufacturerData) {
  auto c = client();
  const std::string beacon = "/org/bluez/hci0/dev_D0_BE_AC_00_00_01";
  ASSERT_TRUE(discover(*c, beacon));
  Reply r = c->call("org.bluez", beacon, "org.freedesktop.DBus.Properties", "Get", [](sd_bus_message* m) {
    sd_bus_message_append(m, "ss", "org.bluez.Device1", "ManufacturerData");
  });
  ASSERT_TRUE(r.ok()) << r.errorName;
  sd_bus_message_enter_container(r.message, 'v', "a{qv}");
  sd_bus_message_enter_container(r.message, 'a', "{qv}");
  sd_bus_message_enter_container(r.message, 'e', "qv");
  std::uint16_t company = 0;
  sd_bus_message_read(r.message, "q", &company);
  EXPECT_EQ(company, 0x004C);
  EXPECT_EQ(variantText(r.message).substr(0, 6), "[02 15");  // iBeacon type and length
  // No Name: the beacon advertises none, so Alias is the address with dashes.
  EXPECT_EQ(c->getString(beacon, "org.bluez.Device1", "Alias"), "D0-BE-AC-00-00-01");
  EXPECT_FALSE(c->getString(beacon, "org.bluez.Device1", "Name"));
}

TEST_F(Discovery, SignalsRssiOnEveryReportWhenFiltered) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  const std::size_t from = c->events().size();
  c->pump(absl::Milliseconds(500));  // the strap advertises every 100 ms
  int rssi = 0;
  for (std::size_t i = from; i < c->events().size(); ++i) {
    const auto& e = c->events()[i];
    if (e.path == kHrmPath && e.values.contains("RSSI")) ++rssi;
  }
  EXPECT_GE(rssi, 3);
}

TEST_F(Discovery, EndOfRunInvalidatesRssiAndDropsNonConnectableTemporaryDevices) {
  auto c = client();
  const std::string beacon = "/org/bluez/hci0/dev_D0_BE_AC_00_00_01";
  ASSERT_TRUE(discover(*c, beacon));
  ASSERT_TRUE(c->waitFor([&] { return hasDevice(*c, kHrmPath); }));
  const std::size_t from = c->events().size();
  ASSERT_TRUE(adapterCall(*c, "StopDiscovery").ok());
  ASSERT_TRUE(c->waitFor([&] { return c->getBool(kAdapterPath, kAdapter1, "Discovering") == false; }));
  c->pump(absl::Milliseconds(50));
  EXPECT_FALSE(hasDevice(*c, beacon));
  EXPECT_TRUE(hasDevice(*c, kHrmPath));
  bool invalidated = false;
  for (std::size_t i = from; i < c->events().size(); ++i) {
    const auto& e = c->events()[i];
    if (e.path == kHrmPath && std::count(e.invalidated.begin(), e.invalidated.end(), "RSSI")) invalidated = true;
  }
  EXPECT_TRUE(invalidated);
}

TEST_F(Discovery, ExpiresTemporaryDevicesAfterTheTemporaryTimeout) {
  stopSim();
  sim::SimOptions o = fastOptions();
  o.temporaryTimeout = absl::Milliseconds(300);
  startSim(o);
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  // While advertising, the device stays; once it is gone from the air, it expires.
  ASSERT_TRUE(onLoop([&] { return sim_->removeDevice(*Address::parse(kHrmAddress)).ok(); }));
  EXPECT_TRUE(c->waitFor([&] { return !hasDevice(*c, kHrmPath); }, absl::Seconds(3)));
}

TEST_F(Discovery, StopsTheSessionOfAClientThatLeavesTheBus) {
  auto observer = client();
  {
    auto c = client();
    ASSERT_TRUE(adapterCall(*c, "StartDiscovery").ok());
    ASSERT_TRUE(observer->waitFor([&] { return observer->getBool(kAdapterPath, kAdapter1, "Discovering") == true; }));
  }
  EXPECT_TRUE(observer->waitFor([&] { return observer->getBool(kAdapterPath, kAdapter1, "Discovering") == false; }));
}

TEST_F(Discovery, KeepsAStoppedClientsFilterForItsNextStart) {
  auto c = client();
  ASSERT_TRUE(setFilter(*c, [](sd_bus_message* m) {
    sd_bus_message_append(m, "{sv}", "UUIDs", "as", 1, "180d");
  }).ok());
  ASSERT_TRUE(adapterCall(*c, "StartDiscovery").ok());
  ASSERT_TRUE(adapterCall(*c, "StopDiscovery").ok());
  c->waitFor([&] { return c->getBool(kAdapterPath, kAdapter1, "Discovering") == false; });
  ASSERT_TRUE(adapterCall(*c, "StartDiscovery").ok());
  c->pump(absl::Milliseconds(600));
  auto objects = c->managedObjects();
  EXPECT_TRUE(objects.contains(kHrmPath));
  EXPECT_FALSE(objects.contains(kCamPath));  // the kept filter still applies
}

TEST_F(Discovery, RejectsBadFiltersWithInvalidArguments) {
  auto c = client();
  Reply both = setFilter(*c, [](sd_bus_message* m) {
    sd_bus_message_append(m, "{sv}", "RSSI", "n", -70);
    sd_bus_message_append(m, "{sv}", "Pathloss", "q", 20);
  });
  EXPECT_EQ(both.errorName, "org.bluez.Error.InvalidArguments");
  Reply type = setFilter(*c, [](sd_bus_message* m) { sd_bus_message_append(m, "{sv}", "RSSI", "i", -70); });
  EXPECT_EQ(type.errorName, "org.bluez.Error.InvalidArguments");
  Reply key = setFilter(*c, [](sd_bus_message* m) { sd_bus_message_append(m, "{sv}", "Bogus", "b", 1); });
  EXPECT_EQ(key.errorName, "org.bluez.Error.InvalidArguments");
  Reply ok = setFilter(*c, [](sd_bus_message* m) { sd_bus_message_append(m, "{sv}", "Transport", "s", "le"); });
  EXPECT_TRUE(ok.ok());
  Reply keys = adapterCall(*c, "GetDiscoveryFilters");
  ASSERT_TRUE(keys.ok());
}

TEST_F(Discovery, EndsEverySessionWhenTheAdapterPowersOff) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", false).ok(); }));
  ASSERT_TRUE(c->waitFor([&] { return c->getBool(kAdapterPath, kAdapter1, "Powered") == false; }));
  EXPECT_EQ(c->getBool(kAdapterPath, kAdapter1, "Discovering"), false);
  EXPECT_FALSE(hasDevice(*c, kHrmPath));  // temporary devices go with the power
  EXPECT_EQ(adapterCall(*c, "StartDiscovery").errorName, "org.bluez.Error.NotReady");
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", true).ok(); }));
  ASSERT_TRUE(c->waitFor([&] { return c->getBool(kAdapterPath, kAdapter1, "Powered") == true; }));
  // The session did not survive: StopDiscovery has nothing to stop.
  EXPECT_EQ(adapterCall(*c, "StopDiscovery").errorMessage, "No discovery started");
}

TEST_F(Discovery, ServesAThousandDevices) {
  stopSim();
  sim::SimOptions o = fastOptions();
  for (auto& d : sim::loadDevices(1000, 20)) o.fleet.devices.push_back(std::move(d));
  o.advertisingInterval = absl::Milliseconds(200);
  startSim(o);
  auto c = client();
  ASSERT_TRUE(discover(*c, "/org/bluez/hci0/dev_F0_00_00_00_03_E8"));
  EXPECT_TRUE(c->waitFor([&] { return c->managedObjects().size() >= 1000 + 2; }, absl::Seconds(10)));
  const auto stats = onLoop([&] { return sim_->stats(); });
  EXPECT_GT(stats.advertisingReports, 1000u);
}

}  // namespace
}  // namespace gattway::testing
