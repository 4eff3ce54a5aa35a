// Discovery filters as BlueZ 5.66 parses, merges and applies them (src/adapter.c).
#include "ble/sim/discovery.h"

#include "gtest/gtest.h"

namespace gattway::sim {
namespace {

dbus::Value value(const char* sig, auto data) {
  dbus::Value v;
  v.signature = sig;
  v.data = data;
  return v;
}

DiscoveryFilter filter(std::vector<std::string> uuids, std::optional<std::int16_t> rssi = std::nullopt) {
  DiscoveryFilter f;
  f.uuids = std::move(uuids);
  f.rssi = rssi;
  return f;
}

Report report(std::vector<std::string> uuids, std::int16_t rssi = -60, std::uint8_t flags = 0x06) {
  Report r;
  r.address = "C0:FF:EE:00:00:01";
  r.name = "Sensor";
  r.uuids = std::move(uuids);
  r.rssi = rssi;
  r.flags = flags;
  return r;
}

const std::string kHr = "0000180d-0000-1000-8000-00805f9b34fb";
const std::string kEss = "0000181a-0000-1000-8000-00805f9b34fb";

TEST(ParsingADiscoveryFilter, AcceptsBluezsKeysWithTheirExactTypes) {
  bool empty = true;
  dbus::Dict d;
  d["UUIDs"] = value("as", std::vector<std::string>{"180D"});
  d["RSSI"] = value("n", std::int64_t{-70});
  d["Transport"] = value("s", std::string("le"));
  d["DuplicateData"] = value("b", true);
  d["Pattern"] = value("s", std::string("C0:"));
  auto f = parseDiscoveryFilter(d, empty);
  ASSERT_TRUE(f);
  EXPECT_FALSE(empty);
  EXPECT_EQ(f->uuids, std::vector<std::string>{kHr});  // 128-bit, lower case
  EXPECT_EQ(f->rssi, -70);
  EXPECT_TRUE(f->duplicateData);
  EXPECT_EQ(f->pattern, "C0:");
}

TEST(ParsingADiscoveryFilter, RefusesWhatBluezRefuses) {
  bool empty = false;
  auto refuse = [&](const std::string& key, dbus::Value v) {
    dbus::Dict d;
    d[key] = std::move(v);
    return !parseDiscoveryFilter(d, empty).has_value();
  };
  EXPECT_TRUE(refuse("RSSI", value("i", std::int64_t{-70})));   // must be n
  EXPECT_TRUE(refuse("RSSI", value("n", std::int64_t{-128})));  // -127..20
  EXPECT_TRUE(refuse("Pathloss", value("q", std::uint64_t{138})));
  EXPECT_TRUE(refuse("Transport", value("s", std::string("radio"))));
  EXPECT_TRUE(refuse("UUIDs", value("as", std::vector<std::string>{"not-a-uuid"})));
  EXPECT_TRUE(refuse("Unknown", value("b", true)));
  dbus::Dict both;
  both["RSSI"] = value("n", std::int64_t{-70});
  both["Pathloss"] = value("q", std::uint64_t{20});
  EXPECT_FALSE(parseDiscoveryFilter(both, empty));
  EXPECT_TRUE(parseDiscoveryFilter(dbus::Dict{}, empty));
  EXPECT_TRUE(empty);
}

TEST(MergingFilters, UsesPlainDiscoveryWithoutFilters) {
  EXPECT_FALSE(mergeFilters({nullptr, nullptr}).filtered);
}

TEST(MergingFilters, TakesTheSortedUnionOfUuidsAndTheLowestRssi) {
  const DiscoveryFilter a = filter({kHr}, -70), b = filter({kEss}, -80);
  const MergedFilter m = mergeFilters({&a, &b});
  EXPECT_TRUE(m.filtered);
  EXPECT_EQ(m.uuids, (std::vector<std::string>{kHr, kEss}));
  EXPECT_EQ(m.rssi, -80);
}

TEST(MergingFilters, DropsTheRssiThresholdWhenAnyFilterLacksOne) {
  const DiscoveryFilter a = filter({kHr}, -70), b = filter({kEss});
  EXPECT_FALSE(mergeFilters({&a, &b}).rssi);
}

TEST(MergingFilters, DropsTheUuidFilterWhenAnyFilterHasNone) {
  const DiscoveryFilter a = filter({kHr}), b = filter({});
  EXPECT_TRUE(mergeFilters({&a, &b}).uuids.empty());
}

TEST(MergingFilters, ClearsEverythingButStaysFilteredWithARegularSessionToo) {
  const DiscoveryFilter a = filter({kHr}, -70);
  const MergedFilter m = mergeFilters({&a, nullptr});
  EXPECT_TRUE(m.filtered);
  EXPECT_TRUE(m.uuids.empty());
  EXPECT_FALSE(m.rssi);
}

TEST(ApplyingFilters, TheKernelDropsReportsBelowTheThresholdOrWithoutAUuid) {
  const DiscoveryFilter a = filter({kHr}, -70);
  const MergedFilter m = mergeFilters({&a});
  EXPECT_TRUE(kernelPasses(m, report({kHr}, -60)));
  EXPECT_FALSE(kernelPasses(m, report({kHr}, -75)));
  EXPECT_FALSE(kernelPasses(m, report({kEss}, -60)));
}

TEST(ApplyingFilters, UnfilteredDiscoveryNeedsTheDiscoverableFlag) {
  EXPECT_TRUE(discoverable({nullptr}, false, report({}, -60, 0x06)));
  EXPECT_FALSE(discoverable({nullptr}, false, report({}, -60, 0x04)));
  EXPECT_TRUE(discoverable({nullptr}, true, report({}, -60, 0x04)));  // filtered: any flags
}

TEST(ApplyingFilters, APatternReplacesTheFlagRule) {
  DiscoveryFilter p;
  p.pattern = "Sen";
  EXPECT_TRUE(discoverable({&p}, true, report({})));  // the name starts with it
  p.pattern = "XX";
  EXPECT_FALSE(discoverable({&p}, true, report({})));
  p.pattern = "";
  EXPECT_TRUE(discoverable({&p}, true, report({}, -60, 0x00)));
}

TEST(ApplyingFilters, MatchesAnyClientsUuidsAndIgnoresRssiWithoutPathloss) {
  const DiscoveryFilter a = filter({kHr}, -40);
  // 5.66's proximity test passes whenever Pathloss is unset, whatever the RSSI.
  EXPECT_TRUE(filterMatch({&a}, report({kHr}, -90)));
  EXPECT_FALSE(filterMatch({&a}, report({kEss})));
  EXPECT_TRUE(filterMatch({&a, nullptr}, report({kEss})));
}

}  // namespace
}  // namespace gattway::sim
