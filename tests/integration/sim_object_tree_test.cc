// The simulated BlueZ's D-Bus surface as gdbus serves bluetoothd's: the object tree, properties
// present or absent, and libdbus's error names for calls nobody handles.
#include "gtest/gtest.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

class TheSimulatedBluez : public SimFixture {
 protected:
  void SetUp() override { startSim(); }
};

TEST_F(TheSimulatedBluez, ServesBluezsObjectTreeUnderTheRootObjectManager) {
  auto c = client();
  auto objects = c->managedObjects();
  ASSERT_TRUE(objects.contains("/org/bluez"));
  ASSERT_TRUE(objects.contains(kAdapterPath));
  const auto& adapter = objects[kAdapterPath];
  for (const char* iface : {"org.bluez.Adapter1", "org.bluez.GattManager1",
                            "org.bluez.LEAdvertisingManager1", "org.bluez.AdvertisementMonitorManager1"}) {
    EXPECT_NE(std::find(adapter.begin(), adapter.end(), iface), adapter.end()) << iface;
  }
  const auto& root = objects["/org/bluez"];
  EXPECT_NE(std::find(root.begin(), root.end(), "org.bluez.AgentManager1"), root.end());
  EXPECT_EQ(c->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered"), true);
  EXPECT_EQ(c->getString(kAdapterPath, "org.bluez.Adapter1", "Address"), "00:AA:01:00:00:00");
}

TEST_F(TheSimulatedBluez, IntrospectsIntermediateNodesWithTheirChildren) {
  auto c = client();
  Reply r = c->call("org.bluez", "/org", "org.freedesktop.DBus.Introspectable", "Introspect");
  ASSERT_TRUE(r.ok()) << r.errorName;
  const char* xml = nullptr;
  sd_bus_message_read(r.message, "s", &xml);
  EXPECT_NE(std::string(xml).find("<node name=\"bluez\"/>"), std::string::npos) << xml;
  Reply root = c->call("org.bluez", "/", "org.freedesktop.DBus.Introspectable", "Introspect");
  sd_bus_message_read(root.message, "s", &xml);
  EXPECT_NE(std::string(xml).find("org.freedesktop.DBus.ObjectManager"), std::string::npos);
}

TEST_F(TheSimulatedBluez, LeavesAbsentPropertiesOutAndSaysNoSuchProperty) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath, {"180d"}));
  // Discovery stops: RSSI goes away, so Get says "No such property", as gdbus does.
  ASSERT_TRUE(c->call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "StopDiscovery").ok());
  c->waitFor([&] { return !c->getInt(kHrmPath, "org.bluez.Device1", "RSSI"); });
  Reply r = c->call("org.bluez", kHrmPath, "org.freedesktop.DBus.Properties", "Get",
                    [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "org.bluez.Device1", "RSSI"); });
  EXPECT_EQ(r.errorName, "org.freedesktop.DBus.Error.InvalidArgs");
  EXPECT_EQ(r.errorMessage, "No such property 'RSSI'");
}

TEST_F(TheSimulatedBluez, AnswersAWrongSignatureWithUnknownMethod) {
  auto c = client();
  // SetDiscoveryFilter needs an a{sv}: nothing at all is another method (bluez-5.66-api §8.20).
  Reply r = c->call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "SetDiscoveryFilter");
  EXPECT_EQ(r.errorName, "org.freedesktop.DBus.Error.UnknownMethod");
  Reply gone = c->call("org.bluez", "/org/bluez/hci7", "org.bluez.Adapter1", "StartDiscovery");
  EXPECT_EQ(gone.errorName, "org.freedesktop.DBus.Error.UnknownObject");
}

TEST_F(TheSimulatedBluez, RefusesToSetReadOnlyPropertiesAndChecksTheType) {
  auto c = client();
  Reply r = c->call("org.bluez", kAdapterPath, "org.freedesktop.DBus.Properties", "Set", [](sd_bus_message* m) {
    sd_bus_message_append(m, "ssv", "org.bluez.Adapter1", "Address", "s", "00:00:00:00:00:00");
  });
  EXPECT_EQ(r.errorName, "org.freedesktop.DBus.Error.PropertyReadOnly");
  Reply t = c->call("org.bluez", kAdapterPath, "org.freedesktop.DBus.Properties", "Set", [](sd_bus_message* m) {
    sd_bus_message_append(m, "ssv", "org.bluez.Adapter1", "Powered", "s", "yes");
  });
  EXPECT_EQ(t.errorName, "org.freedesktop.DBus.Error.InvalidSignature");
}

TEST_F(TheSimulatedBluez, HidesExperimentalItemsWithoutTheExperimentalSwitch) {
  stopSim();
  sim::SimOptions o = fastOptions();
  o.experimental = false;
  startSim(o);
  auto c = client();
  Reply r = c->call("org.bluez", kAdapterPath, "org.freedesktop.DBus.Properties", "Get",
                    [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "org.bluez.Adapter1", "PowerState"); });
  EXPECT_EQ(r.errorName, "org.freedesktop.DBus.Error.InvalidArgs");
  Reply cd = c->call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "ConnectDevice",
                     [](sd_bus_message* m) { sd_bus_message_append(m, "a{sv}", 0); });
  EXPECT_EQ(cd.errorName, "org.freedesktop.DBus.Error.UnknownMethod");
}

TEST_F(TheSimulatedBluez, ServesSeveralAdaptersWithBtvirtsAddresses) {
  stopSim();
  sim::SimOptions o = fastOptions();
  o.adapters = 2;
  startSim(o);
  auto c = client();
  EXPECT_EQ(c->getString("/org/bluez/hci1", "org.bluez.Adapter1", "Address"), "00:AA:01:01:00:01");
  EXPECT_EQ(c->getString("/org/bluez/hci1", "org.bluez.Adapter1", "Alias"), "gattway-sim #2");
}

}  // namespace
}  // namespace gattway::testing
