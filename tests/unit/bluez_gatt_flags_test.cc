// GattCharacteristic1.Flags → characteristic property bits (ble/bluez/gatt_flags.h).
#include "ble/bluez/gatt_flags.h"

#include "ble/central_backend.h"
#include "gtest/gtest.h"

namespace gattway::bluez {
namespace {

TEST(CharacteristicFlags, MapToTheDeclarationsPropertyBits) {
  EXPECT_EQ(propertiesFromFlags({"broadcast"}), 0x01);
  EXPECT_EQ(propertiesFromFlags({"read"}), 0x02);
  EXPECT_EQ(propertiesFromFlags({"write-without-response"}), 0x04);
  EXPECT_EQ(propertiesFromFlags({"write"}), 0x08);
  EXPECT_EQ(propertiesFromFlags({"notify"}), 0x10);
  EXPECT_EQ(propertiesFromFlags({"indicate"}), 0x20);
  EXPECT_EQ(propertiesFromFlags({"authenticated-signed-writes"}), 0x40);
  EXPECT_EQ(propertiesFromFlags({"extended-properties"}), 0x80);
}

TEST(CharacteristicFlags, FoldExtendedPropertiesIntoTheirBit) {
  EXPECT_EQ(propertiesFromFlags({"reliable-write"}), 0x80);
  EXPECT_EQ(propertiesFromFlags({"writable-auxiliaries"}), 0x80);
  EXPECT_EQ(propertiesFromFlags({"write", "reliable-write"}), 0x88);
}

TEST(CharacteristicFlags, CombineAndIgnoreUnknownNames) {
  EXPECT_EQ(propertiesFromFlags({"read", "notify", "encrypt-read", "x-vendor"}),
            gatt_property::kRead | gatt_property::kNotify);
  EXPECT_EQ(propertiesFromFlags({}), 0);
}

}  // namespace
}  // namespace gattway::bluez
