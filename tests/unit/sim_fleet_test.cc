// Fleet files: the demo fleet, copies, and errors that name their key.
#include "ble/sim/fleet.h"

#include "ble/sim/embedded.h"
#include "ble/sim/value_model.h"
#include "gtest/gtest.h"

namespace gattway::sim {
namespace {

TEST(TheDemoFleet, HasSensorsAStrapCamerasAndBeacons) {
  auto fleet = parseFleet(embedded::kDemoFleet);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->devices.size(), 8u);
  std::vector<std::string> names;
  for (const auto& d : fleet->devices) names.push_back(d.name);
  EXPECT_EQ(names, (std::vector<std::string>{"EnvSensor-1", "EnvSensor-2", "EnvSensor-3", "HRM-Strap",
                                             "Cam-1", "Cam-2", "Beacon-iB", "Beacon-Ed"}));
  const DeviceSpec& beacon = fleet->devices[6];
  EXPECT_FALSE(beacon.advertising.connectable);
  EXPECT_EQ(beacon.advertising.manufacturerData.at(0x004C).size(), 23u);  // iBeacon record
}

TEST(AFleetFile, CountsAddressesAndNamesUpForCopies) {
  auto fleet = parseFleet(
      "devices:\n"
      "  - name: S-{n}\n"
      "    address: \"AA:BB:CC:DD:EE:FF\"\n"
      "    count: 2\n");
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  EXPECT_EQ(fleet->devices[1].address.toString(), "AA:BB:CC:DD:EF:00");  // carries over
  EXPECT_EQ(fleet->devices[1].name, "S-2");
  EXPECT_EQ(fleet->devices[1].advertising.name, "S-2");
}

TEST(AFleetFile, NamesTheKeyOfEveryError) {
  auto bad = [](const std::string& yaml) { return std::string(parseFleet(yaml).status().message()); };
  EXPECT_NE(bad("devices:\n  - name: x\n").find("devices[0].address"), std::string::npos);
  EXPECT_NE(bad("devices:\n  - address: \"AA:BB:CC:DD:EE:FF\"\n    rsi: 3\n").find("devices[0].rsi: unknown key"),
            std::string::npos);
  EXPECT_NE(bad("devices:\n  - address: \"AA:BB:CC:DD:EE:FF\"\n    services:\n      - uuid: \"1800\"\n")
                .find("devices[0].services[0].uuid"),
            std::string::npos);
  EXPECT_NE(bad("devices:\n  - address: \"AA:BB:CC:DD:EE:FF\"\n    services:\n      - uuid: \"180D\"\n"
                "        characteristics:\n          - uuid: \"2A37\"\n            flags: [sparkle]\n")
                .find("unknown flag \"sparkle\""),
            std::string::npos);
  EXPECT_NE(bad("devices:\n  - address: \"AA:BB:CC:DD:EE:FF\"\n  - address: \"AA:BB:CC:DD:EE:FF\"\n")
                .find("used twice"),
            std::string::npos);
  EXPECT_NE(bad("devices: [").find("not valid YAML"), std::string::npos);
}

TEST(HexBytes, AcceptSpacesColonsAndDashes) {
  EXPECT_EQ(*parseHex("0a 0B:0c-0d"), (Bytes{0x0a, 0x0b, 0x0c, 0x0d}));
  EXPECT_FALSE(parseHex("0a0").ok());
  EXPECT_FALSE(parseHex("zz").ok());
}

TEST(LoadDevices, HaveDistinctAddressesAndNotifyingCounters) {
  auto load = loadDevices(300, 244);
  ASSERT_EQ(load.size(), 300u);
  EXPECT_NE(load[0].address, load[299].address);
  EXPECT_EQ(load[299].name, "Load-300");
  EXPECT_EQ(load[0].advertising.manufacturerData.at(0xFFFF).size(), 244u);
  EXPECT_EQ(load[0].services[0].characteristics[0].model, "counter");
}

TEST(LoadDevices, StampTheirCounterValuesWithTheWallClockWhenAsked) {
  auto load = loadDevices(1, 20, /*timestamps=*/true);
  ModelContext context;
  auto model = makeValueModel(load[0].services[0].characteristics[0], context);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::int64_t before = absl::ToUnixNanos(absl::Now());
  const Bytes value = (*model)->notification(absl::Now());
  const std::int64_t after = absl::ToUnixNanos(absl::Now());
  ASSERT_EQ(value.size(), 20u);
  EXPECT_EQ(value[0], 1);  // the counter still leads
  std::int64_t stamp = 0;
  for (int i = 7; i >= 0; --i) stamp = stamp << 8 | value[static_cast<std::size_t>(4 + i)];
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
  EXPECT_EQ(value[12], 0xA5);  // padding as without stamps
}

}  // namespace
}  // namespace gattway::sim
