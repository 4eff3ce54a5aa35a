// ScanService over real gRPC against the gateway with the fake backend.
#include <atomic>
#include <thread>

#include "absl/strings/str_format.h"
#include "tests/support/fake_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

class AScanStream : public FakeGatewayTest {
 protected:
  // Adds devices DEV-00.. on hci0, each with its own name, manufacturer id 0x1000+i and service
  // 0xA000+i.
  void addFleet(int n) {
    onLoop([&] {
      for (int i = 0; i < n; ++i) {
        FakeDevice d;
        d.address = fleetAddress(i);
        d.advertisement.name = absl::StrFormat("DEV-%02d", i);
        d.advertisement.manufacturerData = {{static_cast<std::uint16_t>(0x1000 + i), {1}}};
        d.advertisement.serviceUuids = {Uuid::fromShort(static_cast<std::uint32_t>(0xA000 + i))};
        d.advertisement.flags = 0x06;
        fake->addDevice(d);
      }
    });
  }
  static Address fleetAddress(int i) {
    return *Address::parse(absl::StrFormat("C0:00:00:00:00:%02X", i));
  }
  void advertise(int device, int times, std::int16_t rssi = -50) {
    onLoop([&] {
      for (int k = 0; k < times; ++k) fake->advertise(fleetAddress(device), rssi);
    });
  }
  // Waits until `n` Scan streams are subscribed on the loop.
  void waitForStreams(std::int64_t n) {
    ASSERT_TRUE(eventually([&] { return gateway->metrics().scanStreams.value() >= n; }));
    onLoop([] {});  // their subscriptions were posted before this
  }
};

TEST_F(AScanStream, DeliversResultsWithEveryFieldAndEndsWithOkAfterItsDuration) {
  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  v1::ScanRequest request;
  request.mutable_duration()->set_nanos(800'000'000);
  auto reader = scan->Scan(&ctx, request);
  waitForStreams(1);
  onLoop([&] { fake->advertise(*Address::parse(kDevice), -42); });
  v1::ScanResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  const v1::ScanResult& r = response.results(0);
  EXPECT_EQ(r.address(), kDevice);
  EXPECT_EQ(r.address_type(), v1::ADDRESS_TYPE_PUBLIC);
  EXPECT_EQ(r.adapter(), "hci0");
  EXPECT_EQ(r.rssi(), -42);
  EXPECT_EQ(r.name(), "HRM-1");
  EXPECT_EQ(r.service_uuids(0), "180D");
  EXPECT_EQ(r.manufacturer_data(0).company_id(), 0x004Cu);
  EXPECT_EQ(r.tx_power(), -8);
  EXPECT_EQ(r.appearance(), 0x0340u);
  EXPECT_EQ(r.flags(), 0x06u);
  EXPECT_TRUE(r.connectable());
  EXPECT_TRUE(r.has_first_seen());
  EXPECT_TRUE(r.has_last_seen());
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(eventually([&] { return !fake->gatewayDiscovering("hci0"); }));
}

TEST_F(AScanStream, GivesSixteenConcurrentStreamsExactlyWhatEachAskedFor) {
  constexpr int kStreams = 16;
  constexpr std::size_t kTimes = 40;
  addFleet(kStreams);
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::ScanResponse>> reader;
    std::vector<v1::ScanResult> results;
    std::uint64_t gaps = 0;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  for (int i = 0; i < kStreams; ++i) {
    auto s = std::make_unique<Stream>();
    v1::ScanRequest request;
    request.set_mode(v1::SCAN_MODE_ALL);
    auto* f = request.mutable_filter();
    switch (i % 4) {  // each stream selects device i, each by a different kind of filter
      case 0: f->add_addresses(fleetAddress(i).toString()); break;
      case 1: f->set_name_prefix(absl::StrFormat("DEV-%02d", i)); break;
      case 2: f->add_manufacturer_ids(static_cast<std::uint32_t>(0x1000 + i)); break;
      case 3: f->add_service_uuids(absl::StrFormat("%04X", 0xA000 + i)); break;
    }
    s->ctx.set_deadline(in(10000ms));
    s->reader = scan->Scan(&s->ctx, request);
    streams.push_back(std::move(s));
  }
  waitForStreams(kStreams);
  std::vector<std::thread> readers;
  for (auto& s : streams) {
    readers.emplace_back([&s] {
      v1::ScanResponse r;
      while (s->results.size() < kTimes && s->reader->Read(&r)) {
        for (const auto& x : r.results()) s->results.push_back(x);
        s->gaps += r.gap().dropped();
      }
    });
  }
  for (std::size_t k = 0; k < kTimes; ++k) {
    onLoop([&] {
      for (int i = 0; i < kStreams; ++i) {
        fake->advertise(fleetAddress(i), static_cast<std::int16_t>(-40 - static_cast<int>(k)));
      }
    });
  }
  for (auto& t : readers) t.join();
  // Nothing more is on its way to anyone: every result the gateway wrote is one counted above.
  const std::uint64_t expected = static_cast<std::uint64_t>(kStreams) * kTimes;
  EXPECT_TRUE(eventually([&] { return gateway->metrics().scanResultsDelivered.value() >= expected; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(gateway->metrics().scanResultsDelivered.value(), expected);
  EXPECT_EQ(gateway->metrics().scanResultsDropped.value(), 0u);
  for (int i = 0; i < kStreams; ++i) {
    Stream& s = *streams[static_cast<std::size_t>(i)];
    s.ctx.TryCancel();
    s.reader->Finish();
    EXPECT_EQ(s.gaps, 0u) << i;
    ASSERT_EQ(s.results.size(), kTimes) << "stream " << i;
    for (const auto& r : s.results) ASSERT_EQ(r.address(), fleetAddress(i).toString()) << i;
    EXPECT_EQ(s.results.back().rssi(), -40 - static_cast<int>(kTimes - 1));
  }
}

TEST_F(AScanStream, DropsTheOldestForAStalledConsumerWithoutSlowingTheOthers) {
  constexpr int kResults = 6000;
  addFleet(1);
  grpc::ClientContext stalledCtx, liveCtx;
  stalledCtx.set_deadline(in(20000ms));
  liveCtx.set_deadline(in(20000ms));
  v1::ScanRequest stalledRequest;
  stalledRequest.set_mode(v1::SCAN_MODE_ALL);
  stalledRequest.set_queue_size(16);
  v1::ScanRequest liveRequest;
  liveRequest.set_mode(v1::SCAN_MODE_ALL);
  liveRequest.set_queue_size(65536);
  auto stalled = scan->Scan(&stalledCtx, stalledRequest);
  auto live = scan->Scan(&liveCtx, liveRequest);
  waitForStreams(2);

  std::atomic<int> liveCount{0};
  std::uint64_t liveGaps = 0;
  std::thread liveReader([&] {
    v1::ScanResponse r;
    while (liveCount < kResults && live->Read(&r)) {
      liveCount += r.results_size();
      liveGaps += r.gap().dropped();
    }
  });
  for (int chunk = 0; chunk < kResults / 500; ++chunk) advertise(0, 500);
  liveReader.join();
  EXPECT_EQ(liveCount.load(), kResults);
  EXPECT_EQ(liveGaps, 0u);

  // The stalled stream now reads: what it gets plus the gaps it is told of adds up.
  std::uint64_t got = 0, dropped = 0;
  v1::ScanResponse r;
  while (got + dropped < kResults && stalled->Read(&r)) {
    got += static_cast<std::uint64_t>(r.results_size());
    dropped += r.gap().dropped();
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(got + dropped, static_cast<std::uint64_t>(kResults));
  EXPECT_GE(gateway->metrics().scanResultsDropped.value(), dropped);
  stalledCtx.TryCancel();
  liveCtx.TryCancel();
  stalled->Finish();
  live->Finish();
}

TEST_F(AScanStream, RefusesWhatBluezCannotDoWithFailedPrecondition) {
  for (const char* field : {"interval", "window", "scan_type"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ScanRequest request;
    if (std::string(field) == "interval") request.mutable_interval()->set_nanos(1000);
    if (std::string(field) == "window") request.mutable_window()->set_nanos(1000);
    if (std::string(field) == "scan_type") request.set_scan_type(v1::SCAN_TYPE_PASSIVE);
    auto reader = scan->Scan(&ctx, request);
    v1::ScanResponse r;
    EXPECT_FALSE(reader->Read(&r));
    auto s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << field;
    EXPECT_EQ(errorInfo(s).reason(), "BACKEND_LIMITATION") << field;
    EXPECT_EQ(errorInfo(s).metadata().at("field"), field);
  }
}

TEST_F(AScanStream, BatchesResultsWhenAskedTo) {
  addFleet(1);
  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  v1::ScanRequest request;
  request.set_mode(v1::SCAN_MODE_ALL);
  request.mutable_batch_interval()->set_nanos(200'000'000);
  request.set_max_batch_size(1000);
  auto reader = scan->Scan(&ctx, request);
  waitForStreams(1);
  advertise(0, 50);
  v1::ScanResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.results_size(), 50);
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(AScanStream, EndsWithUnavailableWhenBluezLeaves) {
  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  auto reader = scan->Scan(&ctx, v1::ScanRequest());
  waitForStreams(1);
  onLoop([&] { fake->goDown(); });
  v1::ScanResponse r;
  EXPECT_FALSE(reader->Read(&r));
  auto s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(errorInfo(s).reason(), "BLUEZ_UNAVAILABLE");
}

TEST_F(AScanStream, ListsKnownDevicesByAddressWithoutScanning) {
  addFleet(3);
  grpc::ClientContext sctx;
  sctx.set_deadline(in(5000ms));
  auto reader = scan->Scan(&sctx, v1::ScanRequest());
  waitForStreams(1);
  for (int i = 2; i >= 0; --i) advertise(i, 1);
  sctx.TryCancel();
  reader->Finish();

  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  v1::ListDevicesRequest request;
  request.mutable_filter()->set_name_prefix("DEV-0");
  v1::ListDevicesResponse response;
  ASSERT_TRUE(scan->ListDevices(&ctx, request, &response).ok());
  ASSERT_EQ(response.devices_size(), 3);
  EXPECT_EQ(response.devices(0).address(), fleetAddress(0).toString());
  EXPECT_EQ(response.devices(2).name(), "DEV-02");
}

}  // namespace
}  // namespace gattway::testing
