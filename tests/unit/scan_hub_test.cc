#include "ble/central/scan_hub.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

class AScanHub : public CentralTest {
 protected:
  AScanHub() {
    backend.addDevice(sampleDevice("AA:BB:CC:DD:EE:02", "THERMO-2"));
    auto& other = backend.radioDevice(addr("AA:BB:CC:DD:EE:02"));
    other.advertisement.serviceUuids = {uuid(0x181A)};
    other.advertisement.manufacturerData = {{0x0059, {9}}};
  }
  ScanHub& hub() { return central->scanHub(); }
  ScanSubscription subscribe(RecordingSink& sink, ScanOptions o = {}) {
    o.filter.normalize();
    auto s = hub().subscribe(std::move(o), &sink);
    EXPECT_TRUE(s.ok()) << s.status();
    clock.runUntilIdle();
    return s.ok() ? std::move(*s) : ScanSubscription();
  }
};

TEST_F(AScanHub, SharesOneDiscoveryAndStopsItWithTheLastSubscriber) {
  RecordingSink a, b;
  auto sa = subscribe(a);
  auto sb = subscribe(b);
  EXPECT_TRUE(backend.gatewayDiscovering("hci0"));
  EXPECT_EQ(backend.calls(FakeCentralBackend::Op::kStartDiscovery), 1);
  EXPECT_EQ(metrics.discoverySessions.value(), 1);
  sa.reset();
  clock.runUntilIdle();
  EXPECT_TRUE(backend.gatewayDiscovering("hci0"));
  sb.reset();
  clock.runUntilIdle();
  EXPECT_FALSE(backend.gatewayDiscovering("hci0"));
  EXPECT_EQ(backend.calls(FakeCentralBackend::Op::kStopDiscovery), 1);
  EXPECT_EQ(metrics.discoverySessions.value(), 0);
}

TEST_F(AScanHub, KeepsTheBluezFilterTheMergeOfItsSubscribers) {
  RecordingSink a, b;
  ScanOptions strong;
  strong.filter.minRssi = -50;
  auto sa = subscribe(a, strong);
  EXPECT_EQ(backend.discoveryFilter("hci0").rssi, std::optional<std::int16_t>(-50));
  ScanOptions weak;
  weak.filter.minRssi = -90;
  weak.mode = ScanMode::kAll;
  auto sb = subscribe(b, weak);
  EXPECT_EQ(backend.discoveryFilter("hci0").rssi, std::optional<std::int16_t>(-90));
  EXPECT_TRUE(backend.discoveryFilter("hci0").duplicateData);
  sb.reset();
  clock.runUntilIdle();
  EXPECT_EQ(backend.discoveryFilter("hci0").rssi, std::optional<std::int16_t>(-50));
  EXPECT_FALSE(backend.discoveryFilter("hci0").duplicateData);
}

TEST_F(AScanHub, GivesEachSubscriberOnlyWhatItsFilterAsks) {
  RecordingSink hr, thermo;
  ScanOptions a;
  a.filter.serviceUuids = {uuid(0x180D)};
  ScanOptions b;
  b.filter.manufacturerIds = {0x0059};
  auto sa = subscribe(hr, a);
  auto sb = subscribe(thermo, b);
  backend.advertise(addr(kDevice), -40);
  backend.advertise(addr("AA:BB:CC:DD:EE:02"), -40);
  ASSERT_EQ(hr.results.size(), 1u);
  EXPECT_EQ(hr.results[0].address, addr(kDevice));
  EXPECT_EQ(hr.results[0].data().name, "HRM-1");
  ASSERT_EQ(thermo.results.size(), 1u);
  EXPECT_EQ(thermo.results[0].address, addr("AA:BB:CC:DD:EE:02"));
}

TEST_F(AScanHub, ReportsChangesOnlyWhenTheAdvertisedDataChanges) {
  RecordingSink changes, all;
  ScanOptions c;
  c.mode = ScanMode::kChanges;
  ScanOptions e;
  e.mode = ScanMode::kAll;
  auto sc = subscribe(changes, c);
  auto se = subscribe(all, e);
  backend.advertise(addr(kDevice), -40);
  backend.advertise(addr(kDevice), -41);
  backend.advertise(addr(kDevice), -42);
  EXPECT_EQ(changes.results.size(), 1u);
  EXPECT_EQ(all.results.size(), 3u);
  auto data = backend.radioDevice(addr(kDevice)).advertisement;
  data.manufacturerData[0x004C] = {0x07};
  backend.advertise(addr(kDevice), -42, data);
  ASSERT_EQ(changes.results.size(), 2u);
  EXPECT_EQ(changes.results[1].data().manufacturerData.at(0x004C), std::vector<std::uint8_t>{0x07});
  EXPECT_EQ(all.results.size(), 4u);
}

TEST_F(AScanHub, EndsASubscriptionWithOkWhenItsDurationElapses) {
  RecordingSink sink;
  ScanOptions o;
  o.duration = absl::Seconds(5);
  auto s = subscribe(sink, o);
  clock.advance(absl::Seconds(4));
  EXPECT_FALSE(sink.ended);
  clock.advance(absl::Seconds(1));
  ASSERT_TRUE(sink.ended);
  EXPECT_TRUE(sink.ended->ok());
  clock.runUntilIdle();
  EXPECT_FALSE(backend.gatewayDiscovering("hci0"));
}

TEST_F(AScanHub, RefusesUnknownAndUnpoweredAdapters) {
  RecordingSink sink;
  ScanOptions o;
  o.adapter = "hci9";
  auto s = hub().subscribe(o, &sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  backend.addAdapter("hci1", false);
  clock.runUntilIdle();
  o.adapter = "hci1";
  s = hub().subscribe(o, &sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::reasonOf(s.status()), err::Reason::kAdapterOff);
}

TEST_F(AScanHub, EndsStreamsWithUnavailableWhenBluezLeavesAndResumesSurvivors) {
  RecordingSink stream, internal;
  auto s1 = subscribe(stream);
  ScanOptions keep;
  keep.survivesBackendRestart = true;
  auto s2 = subscribe(internal, keep);
  backend.goDown();
  ASSERT_TRUE(stream.ended);
  EXPECT_EQ(stream.ended->code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(internal.ended);
  backend.comeUp();
  clock.runUntilIdle();
  EXPECT_TRUE(backend.gatewayDiscovering("hci0"));
  backend.advertise(addr(kDevice), -40);
  EXPECT_EQ(internal.results.size(), 1u);
}

TEST_F(AScanHub, RefusesNewStreamsWhileBluezIsDown) {
  backend.goDown();
  RecordingSink sink;
  auto s = hub().subscribe(ScanOptions(), &sink);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(s.status()), err::Reason::kBluezUnavailable);
}

TEST_F(AScanHub, EndsSubscribersOfAnAdapterThatIsPoweredOff) {
  RecordingSink sink;
  ScanOptions o;
  o.adapter = "hci0";
  auto s = subscribe(sink, o);
  backend.setAdapterPowered("hci0", false);
  ASSERT_TRUE(sink.ended);
  EXPECT_EQ(sink.ended->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(*sink.ended), err::Reason::kAdapterOff);
}

TEST_F(AScanHub, DeliversKnownDevicesFirstWhenAsked) {
  RecordingSink first;
  auto s1 = subscribe(first);
  backend.advertise(addr(kDevice), -40);
  RecordingSink later;
  ScanOptions o;
  o.includeKnown = true;
  auto s2 = subscribe(later, o);
  ASSERT_EQ(later.results.size(), 1u);
  EXPECT_EQ(later.results[0].address, addr(kDevice));
  backend.advertise(addr(kDevice), -41);  // no change for a CHANGES stream that already has it
  EXPECT_EQ(later.results.size(), 1u);
}

TEST_F(AScanHub, RemembersFirstAndLastSeenForListDevices) {
  RecordingSink sink;
  auto s = subscribe(sink);
  const absl::Time t0 = clock.now();
  backend.advertise(addr(kDevice), -40);
  clock.advance(absl::Seconds(3));
  backend.advertise(addr(kDevice), -45);
  backend.advertise(addr("AA:BB:CC:DD:EE:02"), -60);
  ScanFilter all;
  auto devices = hub().knownDevices("", all);
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].address, addr(kDevice));
  EXPECT_EQ((*devices)[0].firstSeen, t0);
  EXPECT_EQ((*devices)[0].lastSeen, t0 + absl::Seconds(3));
  EXPECT_EQ((*devices)[0].rssi, std::optional<std::int16_t>(-45));
  ScanFilter onlyThermo;
  onlyThermo.namePrefix = "THERMO";
  EXPECT_EQ(hub().knownDevices("hci0", onlyThermo)->size(), 1u);
  EXPECT_EQ(hub().knownDevices("hci7", all).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(AScanHub, CountsWhatItReceives) {
  RecordingSink sink;
  auto s = subscribe(sink);
  for (int i = 0; i < 5; ++i) backend.advertise(addr(kDevice), static_cast<std::int16_t>(-40 - i));
  EXPECT_EQ(metrics.scanResultsReceived.value(), 5u);
}

}  // namespace
}  // namespace gattway::testing
