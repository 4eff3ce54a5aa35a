// Sixteen concurrent Scan streams with different filters over one shared BlueZ discovery, against
// the simulated demo fleet advertising fast: each stream gets exactly the devices its filter asks
// for and nothing else, and a stalled consumer is told of its losses by a gap while the others
// lose nothing. Delivery figures are printed, never asserted (speed lives in benchmarks).
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "ble/metrics.h"
#include "tests/support/sim_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

// The demo fleet.
const std::set<std::string> kEnv = {"C0:FF:EE:00:00:01", "C0:FF:EE:00:00:02", "C0:FF:EE:00:00:03"};
const std::set<std::string> kCams = {"00:1B:DC:0C:A0:01", "00:1B:DC:0C:A0:02"};
constexpr char kBeaconIb[] = "D0:BE:AC:00:00:01";
constexpr char kBeaconEd[] = "D0:BE:AC:00:00:02";
constexpr char kCamService[] = "67617474-7761-7900-0000-0063616d0000";

std::set<std::string> unite(std::initializer_list<std::set<std::string>> sets) {
  std::set<std::string> out;
  for (const auto& s : sets) out.insert(s.begin(), s.end());
  return out;
}

struct StreamCase {
  std::string name;
  std::function<void(v1::ScanRequest&)> request;
  std::set<std::string> expected;  // exactly these devices
  // Holds for every result (beyond the device set).
  std::function<bool(const v1::ScanResult&)> check = [](const v1::ScanResult&) { return true; };
};

struct StreamOutcome {
  std::set<std::string> devices;
  std::uint64_t results = 0;
  std::uint64_t gaps = 0;
  std::vector<std::string> wrong;  // results that break the case's check
  grpc::Status status;
};

bool hasUuid(const v1::ScanResult& r, const std::string& uuid) {
  for (const auto& u : r.service_uuids()) {
    if (u == uuid) return true;
  }
  return false;
}

class SixteenScanStreams : public SimGatewayTest {
 protected:
  void SetUp() override {
    auto o = fastOptions();
    o.advertisingInterval = absl::Milliseconds(10);  // 8 devices × 100 events/s
    startAll(std::move(o));
  }
};

TEST_P(SixteenScanStreams, EachGetExactlyWhatItsFilterAsksForAndAStalledOneSeesAGap) {
  const auto all = unite({kEnv, kCams, {kHrmAddress, kBeaconIb, kBeaconEd}});
  const auto connectable = unite({kEnv, kCams, {kHrmAddress}});
  std::vector<StreamCase> cases = {
      {"everything", [](v1::ScanRequest&) {}, all},
      {"everything, every advertisement",
       [](v1::ScanRequest& r) { r.set_mode(v1::SCAN_MODE_ALL); }, all},
      {"heart rate", [](v1::ScanRequest& r) { r.mutable_filter()->add_service_uuids("180D"); },
       {kHrmAddress}, [](const v1::ScanResult& r) { return hasUuid(r, "180D"); }},
      {"heart rate, every advertisement",
       [](v1::ScanRequest& r) {
         r.mutable_filter()->add_service_uuids("0x180d");
         r.set_mode(v1::SCAN_MODE_ALL);
       },
       {kHrmAddress}},
      {"environmental sensing",
       [](v1::ScanRequest& r) { r.mutable_filter()->add_service_uuids("181A"); }, kEnv},
      {"camera service (128-bit)",
       [](v1::ScanRequest& r) { r.mutable_filter()->add_service_uuids(kCamService); }, kCams},
      {"eddystone service data",
       [](v1::ScanRequest& r) { r.mutable_filter()->add_service_uuids("FEAA"); }, {kBeaconEd}},
      {"name prefix Cam-", [](v1::ScanRequest& r) { r.mutable_filter()->set_name_prefix("Cam-"); },
       kCams, [](const v1::ScanResult& r) { return r.name().rfind("Cam-", 0) == 0; }},
      {"name prefix EnvSensor-2",
       [](v1::ScanRequest& r) { r.mutable_filter()->set_name_prefix("EnvSensor-2"); },
       {"C0:FF:EE:00:00:02"}},
      {"two addresses",
       [](v1::ScanRequest& r) {
         r.mutable_filter()->add_addresses("c0:ff:ee:00:00:03");
         r.mutable_filter()->add_addresses(kBeaconEd);
       },
       {"C0:FF:EE:00:00:03", kBeaconEd}},
      {"apple manufacturer data",
       [](v1::ScanRequest& r) { r.mutable_filter()->add_manufacturer_ids(0x004C); }, {kBeaconIb},
       [](const v1::ScanResult& r) {
         return r.manufacturer_data_size() > 0 && r.manufacturer_data(0).company_id() == 0x004C;
       }},
      {"connectable only",
       [](v1::ScanRequest& r) { r.mutable_filter()->set_connectable_only(true); }, connectable},
      {"strong signal",
       [](v1::ScanRequest& r) {
         r.mutable_filter()->set_min_rssi(-59);
         r.mutable_filter()->add_service_uuids("180D");
         r.set_mode(v1::SCAN_MODE_ALL);
       },
       {kHrmAddress}, [](const v1::ScanResult& r) { return r.has_rssi() && r.rssi() >= -59; }},
      {"service AND name",
       [](v1::ScanRequest& r) {
         r.mutable_filter()->add_service_uuids("181A");
         r.mutable_filter()->set_name_prefix("EnvSensor-3");
       },
       {"C0:FF:EE:00:00:03"}},
      {"battery service or heart rate",
       [](v1::ScanRequest& r) {
         r.mutable_filter()->add_service_uuids("180F");
         r.mutable_filter()->add_service_uuids("180D");
       },
       {kHrmAddress}},
      {"nothing matches",
       [](v1::ScanRequest& r) { r.mutable_filter()->set_name_prefix("NoSuchDevice"); }, {}},
  };
  ASSERT_EQ(cases.size(), 16u);

  // The stalled consumer: every advertisement, a small queue, and nobody reading for a while.
  // Its own connection, without BDP probing: HTTP/2's flow-control window stays at its default
  // (64 KiB) instead of growing to megabytes, so the gateway's queue is what overflows.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stalledStub = v1::ScanService::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(gateway->grpcPort()), grpc::InsecureChannelCredentials(),
      args));
  grpc::ClientContext stalledCtx;
  stalledCtx.set_deadline(in(90000ms));
  v1::ScanRequest stalledRequest;
  stalledRequest.set_mode(v1::SCAN_MODE_ALL);
  stalledRequest.set_queue_size(16);
  auto stalled = stalledStub->Scan(&stalledCtx, stalledRequest);

  std::vector<StreamOutcome> outcomes(cases.size());
  std::vector<std::thread> readers;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    readers.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(in(20000ms));
      v1::ScanRequest request;
      request.mutable_duration()->set_seconds(3);
      cases[i].request(request);
      auto reader = scan->Scan(&ctx, request);
      v1::ScanResponse m;
      auto& out = outcomes[i];
      while (reader->Read(&m)) {
        if (m.has_gap()) out.gaps += m.gap().dropped();
        for (const auto& r : m.results()) {
          ++out.results;
          out.devices.insert(r.address());
          if (!cases[i].check(r)) out.wrong.push_back(r.ShortDebugString());
        }
      }
      out.status = reader->Finish();
    });
  }
  for (auto& t : readers) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // The stalled stream's transport buffers fill, then its queue of 16 overflows: wait for the
  // gateway to count the drops (only that stream can drop: the others read promptly).
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (gateway->metrics().scanResultsDropped.value() == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_GT(gateway->metrics().scanResultsDropped.value(), 0u);
  // Reading again, it is told how many it lost.
  std::uint64_t dropped = 0;
  std::uint64_t stalledResults = 0;
  v1::ScanResponse m;
  for (int i = 0; i < 100000 && dropped == 0 && stalled->Read(&m); ++i) {
    if (m.has_gap()) dropped += m.gap().dropped();
    stalledResults += static_cast<std::uint64_t>(m.results_size());
  }
  stalledCtx.TryCancel();
  stalled->Finish();
  EXPECT_GT(dropped, 0u) << "the stalled stream never saw a gap";

  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const auto& out = outcomes[i];
    EXPECT_TRUE(out.status.ok()) << out.status.error_message();
    EXPECT_EQ(out.devices, cases[i].expected);
    EXPECT_TRUE(out.wrong.empty()) << out.wrong.front();
    EXPECT_EQ(out.gaps, 0u) << "a stream that reads promptly lost results";
    std::printf("[ figures  ] %-34s %6llu results in %.1f s (%.0f/s)\n", cases[i].name.c_str(),
                static_cast<unsigned long long>(out.results), seconds,
                static_cast<double>(out.results) / seconds);
  }
  std::printf("[ figures  ] stalled stream: %llu dropped before its next read\n",
              static_cast<unsigned long long>(dropped));
}

INSTANTIATE_TEST_SUITE_P(Orderings, SixteenScanStreams,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing
