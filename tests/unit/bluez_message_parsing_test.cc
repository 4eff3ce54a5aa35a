// Reading BlueZ's messages by hand (ble/bluez/message_parsing.h), from messages built offline.
#include "ble/bluez/message_parsing.h"

#include <systemd/sd-bus.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/bluez_messages.h"
#include "tests/support/bluez_objects.h"

namespace gattway::bluez {
namespace {

using gattway::testing::appendInterfaces;
using gattway::testing::appendProperties;
using gattway::testing::appendStrings;
using ::testing::ElementsAre;

const Address kSensor = *Address::parse("C0:FF:EE:00:00:01");

class Messages : public ::testing::Test {
 protected:
  MessagePtr propertiesChanged(const std::string& path, const std::string& interface,
                               const PropertyMap& changed,
                               const std::vector<std::string>& invalidated = {}) {
    auto m = offline.signal(path, "org.freedesktop.DBus.Properties", "PropertiesChanged");
    EXPECT_GE(sd_bus_message_append_basic(m.get(), 's', interface.c_str()), 0);
    EXPECT_TRUE(appendProperties(m.get(), changed));
    EXPECT_TRUE(appendStrings(m.get(), invalidated));
    offline.seal(m.get());
    return m;
  }
  gattway::testing::OfflineMessages offline;
};

TEST_F(Messages, ReadEveryPropertyTypeBlueZUses) {
  const PropertyMap all = {
      {"b", true},
      {"y", std::uint8_t{7}},
      {"n", std::int16_t{-70}},
      {"q", std::uint16_t{517}},
      {"u", std::uint32_t{0x240404}},
      {"s", std::string("Polar H10")},
      {"o", ObjectPathValue{"/org/bluez/hci0"}},
      {"as", std::vector<std::string>{"read", "notify"}},
      {"ay", Bytes{0, 1, 2, 255}},
      {"a{qv}", std::map<std::uint16_t, Bytes>{{0x004c, {2, 21}}, {0x0059, {}}}},
      {"a{sv}", std::map<std::string, Bytes>{{"0000feaa-0000-1000-8000-00805f9b34fb", {16}}}},
      {"a{yv}", std::map<std::uint8_t, Bytes>{{0x26, {1, 2}}}},
  };
  auto m = propertiesChanged("/org/bluez/hci0/dev_C0_FF_EE_00_00_01", "org.bluez.Device1", all,
                             {"RSSI", "TxPower"});
  PropertiesChange change;
  ASSERT_TRUE(readPropertiesChanged(m.get(), change));
  EXPECT_EQ(change.interface, "org.bluez.Device1");
  ASSERT_EQ(change.changed.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(change.changed[i].name, all[i].name);
    EXPECT_EQ(change.changed[i].value, all[i].value) << all[i].name;
  }
  EXPECT_THAT(change.invalidated, ElementsAre("RSSI", "TxPower"));
}

TEST_F(Messages, SkipTypesTheGatewayDoesNotRead) {
  auto m = offline.signal("/org/bluez/hci0", "org.freedesktop.DBus.Properties",
                          "PropertiesChanged");
  sd_bus_message_append(m.get(), "s", "org.bluez.Adapter1");
  sd_bus_message_append(m.get(), "a{sv}", 3, "Odd", "(ii)", 1, 2, "Class", "x", INT64_C(5),
                        "Powered", "b", 1);
  sd_bus_message_append(m.get(), "as", 0);
  offline.seal(m.get());
  PropertiesChange change;
  ASSERT_TRUE(readPropertiesChanged(m.get(), change));
  ASSERT_EQ(change.changed.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<Unsupported>(change.changed[0].value));
  EXPECT_TRUE(std::holds_alternative<Unsupported>(change.changed[1].value));
  EXPECT_EQ(change.changed[2].value, PropertyValue(true));
}

TEST_F(Messages, FindTheNotifiedValueWithoutDecodingTheRest) {
  auto m = propertiesChanged("/org/bluez/hci0/dev_C0_FF_EE_00_00_01/service000a/char000b",
                             "org.bluez.GattCharacteristic1", {{"Value", Bytes{0x16, 0x48}}});
  const char* interface = nullptr;
  ASSERT_GT(sd_bus_message_read_basic(m.get(), 's', &interface), 0);
  bool others = true;
  auto value = findValue(m.get(), &others);
  ASSERT_TRUE(value);
  EXPECT_THAT(*value, ElementsAre(0x16, 0x48));
  EXPECT_FALSE(others);

  auto both = propertiesChanged("/org/bluez/hci0/dev_C0_FF_EE_00_00_01/service000a/char000b",
                                "org.bluez.GattCharacteristic1",
                                {{"Notifying", true}, {"Value", Bytes{}}});
  ASSERT_GT(sd_bus_message_read_basic(both.get(), 's', &interface), 0);
  value = findValue(both.get(), &others);
  ASSERT_TRUE(value);
  EXPECT_TRUE(value->empty());
  EXPECT_TRUE(others);

  auto none = propertiesChanged("/org/bluez/hci0/dev_C0_FF_EE_00_00_01/service000a/char000b",
                                "org.bluez.GattCharacteristic1", {{"Notifying", false}});
  ASSERT_GT(sd_bus_message_read_basic(none.get(), 's', &interface), 0);
  EXPECT_FALSE(findValue(none.get(), &others));
}

TEST_F(Messages, ReadInterfacesAddedAndRemoved) {
  const auto device = gattway::testing::deviceObject("hci0", kSensor,
                                                     {{"RSSI", std::int16_t{-42}}});
  auto added = offline.signal("/", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded");
  sd_bus_message_append_basic(added.get(), 'o', device.path.c_str());
  ASSERT_TRUE(appendInterfaces(added.get(), device.interfaces));
  offline.seal(added.get());
  ManagedObject object;
  ASSERT_TRUE(readInterfacesAdded(added.get(), object));
  EXPECT_EQ(object.path, device.path);
  ASSERT_EQ(object.interfaces.size(), 1u);
  EXPECT_EQ(object.interfaces[0].interface, "org.bluez.Device1");
  EXPECT_EQ(*findProperty<std::int16_t>(object.interfaces[0].properties, "RSSI"), -42);

  auto removed = offline.signal("/", "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved");
  sd_bus_message_append(removed.get(), "oas", device.path.c_str(), 2, "org.bluez.Device1",
                        "org.freedesktop.DBus.Properties");
  offline.seal(removed.get());
  std::string path;
  std::vector<std::string> interfaces;
  ASSERT_TRUE(readInterfacesRemoved(removed.get(), path, interfaces));
  EXPECT_EQ(path, device.path);
  EXPECT_THAT(interfaces, ElementsAre("org.bluez.Device1", "org.freedesktop.DBus.Properties"));
}

TEST_F(Messages, ReadManagedObjectsWholeOrBelowOnePath) {
  std::vector<ManagedObject> objects = {
      gattway::testing::adapterObject("hci0", "00:AA:01:00:00:00"),
      gattway::testing::deviceObject("hci0", kSensor),
      gattway::testing::deviceObject("hci0", *Address::parse("C0:FF:EE:00:00:10")),
  };
  for (auto& o : gattway::testing::heartRateDatabase("hci0", kSensor)) objects.push_back(o);
  auto m = offline.signal("/", "io.gattway.Test", "Snapshot");
  sd_bus_message_open_container(m.get(), SD_BUS_TYPE_ARRAY, "{oa{sa{sv}}}");
  for (const auto& o : objects) {
    sd_bus_message_open_container(m.get(), SD_BUS_TYPE_DICT_ENTRY, "oa{sa{sv}}");
    sd_bus_message_append_basic(m.get(), 'o', o.path.c_str());
    ASSERT_TRUE(appendInterfaces(m.get(), o.interfaces));
    sd_bus_message_close_container(m.get());
  }
  sd_bus_message_close_container(m.get());
  offline.seal(m.get());

  std::vector<ManagedObject> all;
  ASSERT_TRUE(readManagedObjects(m.get(), all));
  EXPECT_EQ(all.size(), objects.size());

  sd_bus_message_rewind(m.get(), 1);
  std::vector<ManagedObject> below;
  ASSERT_TRUE(readManagedObjects(m.get(), below, "/org/bluez/hci0/dev_C0_FF_EE_00_00_01"));
  ASSERT_EQ(below.size(), 6u);  // the device (not its namesake ..._10) and five GATT objects
  EXPECT_EQ(below[0].path, "/org/bluez/hci0/dev_C0_FF_EE_00_00_01");
}

TEST_F(Messages, RefuseAShapeThatIsNotBlueZs) {
  auto m = offline.signal("/org/bluez/hci0", "org.freedesktop.DBus.Properties",
                          "PropertiesChanged");
  sd_bus_message_append(m.get(), "sas", "org.bluez.Adapter1", 1, "Powered");
  offline.seal(m.get());
  PropertiesChange change;
  EXPECT_FALSE(readPropertiesChanged(m.get(), change));
}

}  // namespace
}  // namespace gattway::bluez
