#include "ble/central/scan_filter.h"

#include "gtest/gtest.h"

namespace gattway {
namespace {

ScanRecord record(const char* address, AdvertisementData data, std::optional<std::int16_t> rssi,
                  std::optional<bool> connectable = true) {
  ScanRecord r;
  r.adapter = "hci0";
  r.address = *Address::parse(address);
  r.rssi = rssi;
  r.connectable = connectable;
  r.advertisement = std::make_shared<const AdvertisementData>(std::move(data));
  return r;
}

AdvertisementData heartRate() {
  AdvertisementData d;
  d.name = "HRM-1";
  d.serviceUuids = {Uuid::fromShort(0x180D)};
  d.manufacturerData = {{0x004C, {1}}};
  return d;
}

TEST(AScanFilter, MatchesEverythingWhenEmpty) {
  ScanFilter f;
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", {}, std::nullopt, std::nullopt)));
}

TEST(AScanFilter, MatchesAServiceUuidFromTheListOrFromServiceData) {
  ScanFilter f;
  f.serviceUuids = {Uuid::fromShort(0x180F), Uuid::fromShort(0x180D)};
  f.normalize();
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -50)));
  AdvertisementData onlyData;
  onlyData.serviceData[Uuid::fromShort(0x180F)] = {0x64};
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:02", onlyData, -50)));
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:03", {}, -50)));
}

TEST(AScanFilter, MatchesANamePrefixCaseSensitively) {
  ScanFilter f;
  f.namePrefix = "HRM";
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -50)));
  f.namePrefix = "hrm";
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -50)));
}

TEST(AScanFilter, MatchesAnyOfItsAddresses) {
  ScanFilter f;
  f.addresses = {*Address::parse("AA:BB:CC:DD:EE:02"), *Address::parse("AA:BB:CC:DD:EE:01")};
  f.normalize();
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", {}, -50)));
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:03", {}, -50)));
}

TEST(AScanFilter, MatchesManufacturerIds) {
  ScanFilter f;
  f.manufacturerIds = {0x0059, 0x004C};
  f.normalize();
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -50)));
  f.manufacturerIds = {0x0059};
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -50)));
}

TEST(AScanFilter, ExcludesWeakAndUnheardDevicesBelowMinRssi) {
  ScanFilter f;
  f.minRssi = -70;
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", {}, -70)));
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:01", {}, -71)));
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:01", {}, std::nullopt)));
}

TEST(AScanFilter, ExcludesOnlyDevicesKnownNotToBeConnectable) {
  ScanFilter f;
  f.connectableOnly = true;
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", {}, -50, true)));
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", {}, -50, std::nullopt)));
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:01", {}, -50, false)));
}

TEST(AScanFilter, RequiresEveryConditionThatIsSet) {
  ScanFilter f;
  f.namePrefix = "HRM";
  f.minRssi = -60;
  EXPECT_TRUE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -59)));
  EXPECT_FALSE(matches(f, record("AA:BB:CC:DD:EE:01", heartRate(), -61)));
}

TEST(ConnectabilityInference, FollowsTheDiscoverableFlagsAndPastLinks) {
  EXPECT_EQ(inferConnectable(std::nullopt, false), std::nullopt);
  EXPECT_EQ(inferConnectable(std::nullopt, true), true);
  EXPECT_EQ(inferConnectable(0x06, false), true);
  EXPECT_EQ(inferConnectable(0x01, false), true);
  EXPECT_EQ(inferConnectable(0x04, false), false);
  EXPECT_EQ(inferConnectable(0x04, true), true);
}

TEST(AMergedDiscoveryFilter, TakesTheLowestRssiOnlyWhenEverySubscriberSetsOne) {
  ScanFilter a, b, c;
  a.minRssi = -60;
  b.minRssi = -80;
  std::vector<DiscoveryNeed> needs = {{&a, ScanMode::kChanges}, {&b, ScanMode::kChanges}};
  EXPECT_EQ(mergeDiscoveryFilters(needs).rssi, std::optional<std::int16_t>(-80));
  needs.push_back({&c, ScanMode::kChanges});
  EXPECT_EQ(mergeDiscoveryFilters(needs).rssi, std::nullopt);
}

TEST(AMergedDiscoveryFilter, AsksForDuplicatesWhenAnySubscriberWantsEveryAdvertisement) {
  ScanFilter a, b;
  std::vector<DiscoveryNeed> needs = {{&a, ScanMode::kChanges}};
  EXPECT_FALSE(mergeDiscoveryFilters(needs).duplicateData);
  needs.push_back({&b, ScanMode::kAll});
  EXPECT_TRUE(mergeDiscoveryFilters(needs).duplicateData);
}

TEST(AMergedDiscoveryFilter, NeverNarrowsByUuidOrPattern) {
  ScanFilter a;
  a.serviceUuids = {Uuid::fromShort(0x180D)};
  a.namePrefix = "HRM";
  std::vector<DiscoveryNeed> needs = {{&a, ScanMode::kChanges}};
  const DiscoveryFilter merged = mergeDiscoveryFilters(needs);
  EXPECT_TRUE(merged.uuids.empty());
  EXPECT_TRUE(merged.pattern.empty());
}

}  // namespace
}  // namespace gattway
