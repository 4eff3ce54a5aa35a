// A simulated peripheral's GATT database and ATT server, BlueZ's two ATT error tables, and the
// advertisement parser: the simulator's pure parts.
#include "absl/strings/str_format.h"
#include "ble/error.h"
#include "ble/sim/advertising.h"
#include "ble/sim/embedded.h"
#include "ble/sim/errors.h"
#include "ble/sim/peripheral.h"
#include "gtest/gtest.h"

namespace gattway::sim {
namespace {

std::unique_ptr<Peripheral> demoDevice(const std::string& name) {
  auto fleet = parseFleet(embedded::kDemoFleet);
  for (const auto& d : fleet->devices) {
    if (d.name == name) return *Peripheral::create(d, 1);
  }
  return nullptr;
}

TEST(ASimulatedPeripheral, LaysOutHandlesAsARealDevice) {
  auto strap = demoDevice("HRM-Strap");
  const auto& s = strap->services();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].uuid, Uuid::fromShort(0x1800));
  EXPECT_TRUE(s[0].internal);  // GAP: bluetoothd's own, never exported
  EXPECT_EQ(s[1].start, 0x0006);  // GATT with Service Changed and its CCC
  EXPECT_EQ(s[2].start, 0x000a);
  EXPECT_EQ(s[2].characteristics[0].declHandle, 0x000b);
  EXPECT_EQ(s[2].characteristics[0].valueHandle, 0x000c);
  EXPECT_EQ(s[2].characteristics[0].descriptors[0].handle, 0x000d);  // the CCC, added
  EXPECT_EQ(s[2].characteristics[0].descriptors[0].uuid, Uuid::fromShort(0x2902));
}

TEST(ASimulatedPeripheral, ChecksPermissionsOffsetsAndLengths) {
  auto cam = demoDevice("Cam-1");
  const absl::Time now = absl::Now();
  Peripheral::Characteristic* control = cam->characteristic(0x000b);
  Peripheral::Characteristic* snapshot = cam->characteristic(0x0011);
  EXPECT_EQ(cam->read(*control, now).att, 0x02);               // write-only
  EXPECT_EQ(cam->write(*snapshot, {1}, 0, false, now), 0x03);  // read-only
  EXPECT_EQ(cam->write(*control, {0x01}, 0, false, now), 0);   // capture
  EXPECT_EQ(cam->write(*control, {0x42}, 0, false, now), 0x80);  // unknown opcode
  EXPECT_EQ(cam->write(*control, Bytes(513, 1), 0, false, now), 0x0D);
  EXPECT_EQ(cam->write(*control, {1}, 9, false, now), 0x07);  // beyond the value
  EXPECT_EQ(cam->read(*snapshot, now).value.size(), 480u);
}

TEST(ASimulatedPeripheral, RefusesCccBitsTheCharacteristicCannotDo) {
  auto strap = demoDevice("HRM-Strap");
  Peripheral::Characteristic* owner = nullptr;
  Peripheral::Descriptor* ccc = strap->descriptor(0x000d, &owner);
  ASSERT_NE(ccc, nullptr);
  EXPECT_EQ(strap->write(*ccc, *owner, {0x02, 0x00}, 0), 0xFD);  // indicate on a notify-only char
  EXPECT_EQ(strap->write(*ccc, *owner, {0x01, 0x00}, 0), 0);
  EXPECT_EQ(owner->ccc, 1);
}

TEST(TheCameraControlPoint, DrivesStatusAndSnapshot) {
  auto cam = demoDevice("Cam-1");
  const absl::Time now = absl::Now();
  Peripheral::Characteristic* control = cam->characteristic(0x000b);
  Peripheral::Characteristic* status = cam->characteristic(0x000e);
  Peripheral::Characteristic* snapshot = cam->characteristic(0x0011);
  int pushed = 0;
  cam->setPushHandler([&](Peripheral::Characteristic& c) { pushed += &c == status ? 1 : 0; });
  const Bytes before = cam->read(*snapshot, now).value;
  ASSERT_EQ(cam->write(*control, {0x01}, 0, false, now), 0);
  EXPECT_NE(cam->read(*snapshot, now).value, before);  // a new snapshot
  ASSERT_EQ(cam->write(*control, {0x02}, 0, false, now), 0);
  EXPECT_EQ(cam->read(*status, now).value, (Bytes{1, 1, 0, 1}));  // streaming, one snapshot
  EXPECT_EQ(pushed, 2);
}

TEST(SimulatedValues, ChangeOverTimePlausibly) {
  auto sensor = demoDevice("EnvSensor-1");
  Peripheral::Characteristic* temperature = sensor->characteristic(0x000b);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  auto celsius = [&](absl::Time t) {
    const Bytes v = sensor->read(*temperature, t).value;
    return static_cast<std::int16_t>(v[0] | (v[1] << 8)) / 100.0;
  };
  double lo = 100, hi = -100;
  for (int i = 0; i < 600; ++i) {
    const double c = celsius(t0 + absl::Seconds(i));
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  EXPECT_GT(lo, 15.0);
  EXPECT_LT(hi, 28.0);
  EXPECT_GT(hi - lo, 0.05);  // it drifts
}

TEST(BluezsAttErrorNames, AreWhatTheGatewayDecodes) {
  // create_gatt_dbus_error (5.66) and err::fromBluez must agree on every code.
  for (int code : {0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x0D, 0x0E, 0x80, 0x9F, 0xFD}) {
    const dbus::Error e = bluez::errorForAtt(static_cast<std::uint8_t>(code));
    const absl::Status s = err::fromBluez(e.name, e.message, "read");
    // "Not paired" (0x05, 0x0C, 0x0F) and NotSupported (0x06) carry no code: 5.66 sends the same
    // errors for local causes, so no decoder can tell.
    if (code == 0x05 || code == 0x06) continue;
    EXPECT_EQ(err::metadata(s, err::kMetaAttError), absl::StrFormat("0x%02x", code)) << e.name << " " << e.message;
  }
  EXPECT_EQ(bluez::errorForAtt(0x80).message, "Operation failed with ATT error: 0x80");
  EXPECT_EQ(bluez::errorForAtt(0x07).name, "org.bluez.Error.InvalidArguments");
  EXPECT_EQ(bluez::errorForAtt(0).message, "Operation failed");
}

TEST(ApplicationErrors, BecomeAttCodesAsInDbusErrorToAttEcode) {
  using bluez::attForApplicationError;
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.Failed", "0x81"}, false), 0x81);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.Failed", "129"}, false), 0x81);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.Failed", "0x20"}, false), 0x0E);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.Failed", "no such thing"}, false), 0x80);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.Failed", ""}, false), 0x0E);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.NotPermitted", ""}, false), 0x02);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.NotPermitted", ""}, true), 0x03);
  EXPECT_EQ(attForApplicationError({"org.bluez.Error.InProgress", ""}, true), 0xFE);
  EXPECT_EQ(attForApplicationError({"org.freedesktop.DBus.Error.NoReply", ""}, true), 0x0E);
}

dbus::Value str(const char* s) {
  dbus::Value v;
  v.signature = "s";
  v.data = std::string(s);
  return v;
}

TEST(ParsingAnAdvertisement, FollowsBluezsRules) {
  Advertisement ad;
  dbus::Dict props;
  props["Type"] = str("peripheral");
  props["LocalName"] = str("gattway");
  ASSERT_TRUE(parseAdvertisement(props, ad));
  EXPECT_TRUE(ad.connectable);
  EXPECT_EQ(scanResponseSize(ad), 9u);

  Advertisement broadcast;
  dbus::Dict none;  // no Type: a non-connectable broadcast
  ASSERT_TRUE(parseAdvertisement(none, broadcast));
  EXPECT_FALSE(broadcast.connectable);

  Advertisement bad;
  dbus::Dict odd;
  odd["Type"] = str("beacon");
  EXPECT_FALSE(parseAdvertisement(odd, bad));

  Advertisement big;
  dbus::Dict large;
  dbus::Value md;
  md.signature = "a{qv}";
  dbus::Value key, wrapped, bytes;
  key.signature = "q";
  key.data = std::uint64_t{0xFFFF};
  bytes.signature = "ay";
  bytes.data = Bytes(30, 0);  // 4 + 30 bytes: more than a legacy PDU holds
  wrapped.signature = "v";
  wrapped.data = dbus::Value::Items{bytes};
  md.data = dbus::Value::Entries{{key, wrapped}};
  large["ManufacturerData"] = md;
  EXPECT_FALSE(parseAdvertisement(large, big));
}

}  // namespace
}  // namespace gattway::sim
