// The mirror of org.bluez's tree, fed synthetic GetManagedObjects / InterfacesAdded /
// InterfacesRemoved / PropertiesChanged contents (no bus).
#include "ble/bluez/object_mirror.h"

#include "ble/bluez/paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/bluez_objects.h"

namespace gattway::bluez {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using gattway::testing::adapterObject;
using gattway::testing::bluezUuid;
using gattway::testing::characteristicObject;
using gattway::testing::deviceObject;
using gattway::testing::heartRateDatabase;
using gattway::testing::serviceObject;
using Kind = MirrorEvent::Kind;

const Address kSensor = *Address::parse("C0:FF:EE:00:00:01");
const Address kTag = *Address::parse("C0:FF:EE:00:00:02");

std::vector<ManagedObject> bluezWithASensor() {
  std::vector<ManagedObject> objects = {
      adapterObject("hci0", "00:AA:01:00:00:00"),
      deviceObject("hci0", kSensor,
                   {{"RSSI", std::int16_t{-60}},
                    {"Name", std::string("Polar H10")},
                    {"ManufacturerData", std::map<std::uint16_t, Bytes>{{0x006b, {1, 2, 3}}}},
                    {"ServiceData", std::map<std::string, Bytes>{{bluezUuid(0x180d), {9}}}},
                    {"UUIDs", std::vector<std::string>{bluezUuid(0x180d)}},
                    {"Connected", true},
                    {"ServicesResolved", true}},
                   /*random=*/true),
  };
  for (auto& o : heartRateDatabase("hci0", kSensor, 185)) objects.push_back(std::move(o));
  // Objects BlueZ has that the mirror does not keep.
  objects.push_back({"/org/bluez", {{"org.bluez.AgentManager1", {}}}});
  objects.push_back({devicePath("hci0", kSensor) + "/fd0", {{"org.bluez.MediaTransport1", {}}}});
  return objects;
}

class AMirror : public ::testing::Test {
 protected:
  void SetUp() override { mirror.replaceAll(bluezWithASensor(), events); }
  ObjectMirror mirror;
  MirrorEvents events;
};

TEST_F(AMirror, ReportsEveryAdapterThenEveryDeviceFromTheSnapshot) {
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::kAdapterChanged);
  EXPECT_EQ(events[0].adapter, "hci0");
  EXPECT_EQ(events[1].kind, Kind::kDeviceChanged);
  EXPECT_EQ(events[1].address, kSensor);
  EXPECT_NE(events[1].changes & device_change::kAdded, 0u);
}

TEST_F(AMirror, KeepsAdapterAndDeviceProperties) {
  const AdapterNode* a = mirror.adapter("hci0");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->info.address.toString(), "00:AA:01:00:00:00");
  EXPECT_TRUE(a->info.powered);

  const DeviceNode* d = mirror.device("hci0", kSensor);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->info.adapter, "hci0");
  EXPECT_EQ(d->info.addressType, AddressType::kRandom);
  EXPECT_EQ(d->info.alias, "C0-FF-EE-00-00-01");
  EXPECT_EQ(d->info.rssi, -60);
  EXPECT_EQ(d->info.advertisement.name, "Polar H10");
  EXPECT_EQ(d->info.advertisement.manufacturerData.at(0x006b), (Bytes{1, 2, 3}));
  EXPECT_EQ(d->info.advertisement.serviceData.at(Uuid::fromShort(0x180d)), Bytes{9});
  EXPECT_THAT(d->info.advertisement.serviceUuids, ElementsAre(Uuid::fromShort(0x180d)));
  EXPECT_TRUE(d->info.connected);
  EXPECT_TRUE(d->info.servicesResolved);
}

TEST_F(AMirror, BuildsTheServiceTreeByHandle) {
  const auto tree = ObjectMirror::serviceTree(*mirror.device("hci0", kSensor));
  ASSERT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree[0].handle, 0x000a);
  EXPECT_EQ(tree[0].uuid, Uuid::fromShort(0x180d));
  ASSERT_EQ(tree[0].characteristics.size(), 3u);
  const auto& hrm = tree[0].characteristics[0];
  EXPECT_EQ(hrm.handle, 0x000b);
  EXPECT_EQ(hrm.uuid, Uuid::fromShort(0x2a37));
  EXPECT_EQ(hrm.properties, gatt_property::kNotify);
  EXPECT_THAT(hrm.flags, ElementsAre("notify"));
  ASSERT_EQ(hrm.descriptors.size(), 1u);
  EXPECT_EQ(hrm.descriptors[0].handle, 0x000d);
  EXPECT_EQ(hrm.descriptors[0].uuid, Uuid::fromShort(0x2902));
  EXPECT_EQ(tree[0].characteristics[1].handle, 0x000e);
  EXPECT_EQ(tree[0].characteristics[2].properties, gatt_property::kWrite);
  EXPECT_EQ(ObjectMirror::mtu(*mirror.device("hci0", kSensor)), 185);
}

TEST_F(AMirror, FindsCharacteristicsAndDescriptorsByHandle) {
  const DeviceNode& d = *mirror.device("hci0", kSensor);
  auto c = ObjectMirror::attribute(d, 0x000b);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->isDescriptor);
  EXPECT_EQ(c->path, characteristicPath("hci0", kSensor, 0x000a, 0x000b));
  auto desc = ObjectMirror::attribute(d, 0x000d);
  ASSERT_TRUE(desc);
  EXPECT_TRUE(desc->isDescriptor);
  EXPECT_EQ(desc->path, descriptorPath("hci0", kSensor, 0x000a, 0x000b, 0x000d));
  EXPECT_FALSE(ObjectMirror::attribute(d, 0x000a));  // a service is neither
  EXPECT_FALSE(ObjectMirror::attribute(d, 0x0099));
}

TEST_F(AMirror, AddsADeviceFromInterfacesAdded) {
  events.clear();
  mirror.interfacesAdded(deviceObject("hci0", kTag, {{"RSSI", std::int16_t{-80}}}), events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kDeviceChanged);
  EXPECT_EQ(events[0].changes, device_change::kAdded | device_change::kRssi |
                                   device_change::kAdvertisement | device_change::kOther);
  EXPECT_THAT(mirror.devices("hci0"),
              ElementsAre(Field(&DeviceNode::info, Field(&DeviceInfo::address, kSensor)),
                          Field(&DeviceNode::info, Field(&DeviceInfo::address, kTag))));
}

TEST_F(AMirror, SaysWhatAPropertiesChangedTouched) {
  const std::string path = devicePath("hci0", kSensor);
  events.clear();
  mirror.propertiesChanged(path, iface::kDevice, {{"RSSI", std::int16_t{-61}}}, {}, events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].changes, device_change::kRssi);

  // Repeated RSSI values are reports too (filtered discovery sends every one).
  events.clear();
  mirror.propertiesChanged(path, iface::kDevice, {{"RSSI", std::int16_t{-61}}}, {}, events);
  EXPECT_EQ(events.size(), 1u);

  events.clear();
  mirror.propertiesChanged(path, iface::kDevice,
                           {{"ManufacturerData", std::map<std::uint16_t, Bytes>{{0x006b, {4}}}}},
                           {}, events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].changes, device_change::kAdvertisement);
  EXPECT_EQ(mirror.device("hci0", kSensor)->info.advertisement.manufacturerData.at(0x006b),
            Bytes{4});

  // States count only when they change.
  events.clear();
  mirror.propertiesChanged(path, iface::kDevice, {{"Connected", true}}, {}, events);
  EXPECT_TRUE(events.empty());
  mirror.propertiesChanged(path, iface::kDevice,
                           {{"ServicesResolved", false}, {"Connected", false}}, {}, events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].changes, device_change::kConnected | device_change::kServicesResolved);
  EXPECT_FALSE(mirror.device("hci0", kSensor)->info.connected);
}

TEST_F(AMirror, DropsInvalidatedProperties) {
  events.clear();
  mirror.propertiesChanged(devicePath("hci0", kSensor), iface::kDevice, {}, {"RSSI"}, events);
  EXPECT_FALSE(mirror.device("hci0", kSensor)->info.rssi);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].changes, device_change::kOther);
}

TEST_F(AMirror, IgnoresChangesForObjectsItDoesNotHave) {
  events.clear();
  mirror.propertiesChanged(devicePath("hci0", kTag), iface::kDevice, {{"RSSI", std::int16_t{-1}}},
                           {}, events);
  mirror.propertiesChanged("/org/bluez/hci9", iface::kAdapter, {{"Powered", false}}, {}, events);
  mirror.interfacesAdded(serviceObject("hci0", kTag, 0x0001, bluezUuid(0x1800)), events);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(mirror.device("hci0", kTag), nullptr);
}

TEST_F(AMirror, TracksAdapterPowerAndAdvertisingInstances) {
  events.clear();
  mirror.propertiesChanged("/org/bluez/hci0", iface::kAdapter, {{"Powered", false}}, {}, events);
  mirror.propertiesChanged("/org/bluez/hci0", iface::kAdvertisingManager,
                           {{"SupportedInstances", std::uint8_t{4}}}, {}, events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(mirror.adapter("hci0")->info.powered);
  EXPECT_EQ(mirror.adapter("hci0")->info.advertisingInstancesSupported, 4u);
}

TEST_F(AMirror, RemovesAServiceWithItsCharacteristicsAndDescriptors) {
  events.clear();
  mirror.interfacesRemoved(servicePath("hci0", kSensor, 0x000a), {std::string(iface::kService)},
                           events);
  const DeviceNode& d = *mirror.device("hci0", kSensor);
  EXPECT_TRUE(d.services.empty());
  EXPECT_TRUE(d.characteristics.empty());
  EXPECT_TRUE(d.descriptors.empty());
  std::vector<std::uint16_t> removed;
  for (const auto& e : events) {
    EXPECT_EQ(e.kind, Kind::kCharacteristicRemoved);
    removed.push_back(e.handle);
  }
  EXPECT_THAT(removed, ElementsAre(0x000b, 0x000e, 0x0010));
}

TEST_F(AMirror, RemovesADeviceWithEverythingBelowIt) {
  events.clear();
  mirror.interfacesRemoved(devicePath("hci0", kSensor), {std::string(iface::kDevice)}, events);
  EXPECT_EQ(mirror.device("hci0", kSensor), nullptr);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, Kind::kDeviceRemoved);
  EXPECT_EQ(events.back().address, kSensor);
}

TEST_F(AMirror, RemovesAnAdapterWithItsDevices) {
  mirror.interfacesAdded(deviceObject("hci0", kTag), events);
  events.clear();
  mirror.interfacesRemoved("/org/bluez/hci0",
                           {std::string(iface::kAdapter), "org.bluez.GattManager1"}, events);
  EXPECT_EQ(mirror.adapter("hci0"), nullptr);
  EXPECT_TRUE(mirror.devices("hci0").empty());
  std::vector<Kind> kinds;
  for (const auto& e : events) {
    if (e.kind != Kind::kCharacteristicRemoved) kinds.push_back(e.kind);
  }
  EXPECT_THAT(kinds, ElementsAre(Kind::kDeviceRemoved, Kind::kDeviceRemoved, Kind::kAdapterRemoved));
}

TEST_F(AMirror, RemovingOneInterfaceOfManyLeavesTheObject) {
  events.clear();
  mirror.interfacesRemoved(devicePath("hci0", kSensor), {"org.bluez.Battery1"}, events);
  EXPECT_NE(mirror.device("hci0", kSensor), nullptr);
  EXPECT_TRUE(events.empty());
}

TEST_F(AMirror, ForgetsEverythingWhenBlueZLeavesAndResyncsFromANewSnapshot) {
  mirror.clear();
  EXPECT_TRUE(mirror.adapters().empty());
  EXPECT_EQ(mirror.device("hci0", kSensor), nullptr);

  // bluetoothd came back with a different tree: a fresh snapshot is the whole truth.
  events.clear();
  mirror.replaceAll({adapterObject("hci0", "00:AA:01:00:00:00", /*powered=*/false),
                     deviceObject("hci0", kTag)},
                    events);
  EXPECT_FALSE(mirror.adapter("hci0")->info.powered);
  EXPECT_EQ(mirror.device("hci0", kSensor), nullptr);
  ASSERT_NE(mirror.device("hci0", kTag), nullptr);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].address, kTag);
}

TEST_F(AMirror, TakesChildrenBeforeParentsFromASnapshot) {
  auto objects = bluezWithASensor();
  std::reverse(objects.begin(), objects.end());
  ObjectMirror other;
  MirrorEvents e;
  other.replaceAll(objects, e);
  EXPECT_EQ(ObjectMirror::serviceTree(*other.device("hci0", kSensor))[0].characteristics.size(),
            3u);
}

TEST_F(AMirror, SyncsOneDevicesGattObjectsFromAFreshSnapshot) {
  // ServicesResolved came before the objects' InterfacesAdded (BLUEZ-VM.md): the device is
  // mirrored without its database.
  ObjectMirror m;
  MirrorEvents e;
  m.replaceAll({adapterObject("hci0", "00:AA:01:00:00:00"),
                deviceObject("hci0", kSensor, {{"Connected", true}}),
                deviceObject("hci0", kTag)},
               e);
  m.propertiesChanged(devicePath("hci0", kSensor), iface::kDevice, {{"ServicesResolved", true}},
                      {}, e);
  EXPECT_TRUE(ObjectMirror::serviceTree(*m.device("hci0", kSensor)).empty());

  std::vector<ManagedObject> fresh = {deviceObject("hci0", kSensor, {{"Connected", true},
                                                                     {"ServicesResolved", true}})};
  for (auto& o : heartRateDatabase("hci0", kSensor)) fresh.push_back(std::move(o));
  fresh.push_back(characteristicObject("hci0", kTag, 0x0001, 0x0002, bluezUuid(0x2a00), {"read"}));
  e.clear();
  m.syncDevice("hci0", kSensor, fresh, e);
  EXPECT_EQ(ObjectMirror::serviceTree(*m.device("hci0", kSensor))[0].characteristics.size(), 3u);
  EXPECT_TRUE(m.device("hci0", kTag)->characteristics.empty());  // others untouched
}

TEST_F(AMirror, ReportsCharacteristicsASyncDropped) {
  MirrorEvents e_;
  std::vector<ManagedObject> fresh = {serviceObject("hci0", kSensor, 0x000a, bluezUuid(0x180d)),
                                      characteristicObject("hci0", kSensor, 0x000a, 0x000b,
                                                           bluezUuid(0x2a37), {"notify"})};
  mirror.syncDevice("hci0", kSensor, fresh, e_);
  std::vector<std::uint16_t> removed;
  for (const auto& e : e_) {
    if (e.kind == Kind::kCharacteristicRemoved) removed.push_back(e.handle);
  }
  EXPECT_THAT(removed, ElementsAre(0x000e, 0x0010));
}

}  // namespace
}  // namespace gattway::bluez
