// BlueZ object paths ↔ adapter, address and ATT handles (ble/bluez/paths.h).
#include "ble/bluez/paths.h"

#include "gtest/gtest.h"

namespace gattway::bluez {
namespace {

const Address kAddress = *Address::parse("AA:BB:CC:DD:EE:01");

TEST(ABluezPath, NamesAnAdapter) {
  auto p = parsePath("/org/bluez/hci0");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ObjectKind::kAdapter);
  EXPECT_EQ(p->adapter, "hci0");
}

TEST(ABluezPath, NamesADeviceByItsAddress) {
  auto p = parsePath("/org/bluez/hci1/dev_AA_BB_CC_DD_EE_01");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ObjectKind::kDevice);
  EXPECT_EQ(p->adapter, "hci1");
  EXPECT_EQ(p->address, kAddress);
}

TEST(ABluezPath, CarriesTheAttHandlesInLowerCaseHex) {
  auto p = parsePath("/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service000a/char000b/desc000d");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ObjectKind::kDescriptor);
  EXPECT_EQ(p->service, 0x000a);
  EXPECT_EQ(p->characteristic, 0x000b);
  EXPECT_EQ(p->descriptor, 0x000d);

  auto c = parsePath("/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service00ff/char0100");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, ObjectKind::kCharacteristic);
  EXPECT_EQ(c->service, 0x00ff);
  EXPECT_EQ(c->characteristic, 0x0100);
}

TEST(ABluezPath, RejectsWhatBlueZDoesNotProduce) {
  for (const char* path : {
           "/org/bluez",                                                  // AgentManager1
           "/",                                                           // ObjectManager
           "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/fd0",                   // media transport
           "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service000A",           // upper-case hex
           "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service00a",            // three digits
           "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service000a/descriptor000d",
           "/org/bluez/hci0/dev_AA_BB_CC_DD_EE",                          // short address
           "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service000a/char000b/desc000d/x",
           "/org/bluezz/hci0",
       }) {
    EXPECT_FALSE(parsePath(path)) << path;
  }
}

TEST(ABluezPath, IsFormattedAsBlueZFormatsIt) {
  EXPECT_EQ(adapterPath("hci0"), "/org/bluez/hci0");
  EXPECT_EQ(devicePath("hci0", kAddress), "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01");
  EXPECT_EQ(descriptorPath("hci0", kAddress, 0x0a, 0x0b, 0x0d),
            "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service000a/char000b/desc000d");
  const std::string c = characteristicPath("hci0", kAddress, 0x10, 0xabcd);
  EXPECT_EQ(c, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service0010/charabcd");
  EXPECT_EQ(parsePath(c)->characteristic, 0xabcd);
  EXPECT_EQ(handleText(0x2a), "0x002a");
}

}  // namespace
}  // namespace gattway::bluez
