// A fleet of 200 persistent sessions on the simulated BlueZ (4 adapters): half the links drop,
// bluetoothd restarts, an adapter is power-cycled, adapters wedge and the watchdog power-cycles
// them, the gateway restarts on its state directory. Everything comes back, never more than one LE
// connect in flight per adapter, and sessions waiting together connect in priority order; the
// subscriptions a policy keeps come back with the restarted gateway. What is asserted is observed
// through WatchSessions and ListSessions, as a client sees it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ble/log.h"
#include "ble/metrics.h"
#include "ble/sim/fleet.h"
#include "gattway/v1/session.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "server/gateway.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

constexpr int kDevices = 200;
constexpr int kAdapters = 4;
// The load devices' notifying characteristic (sim::loadDevices).
constexpr char kLoadCharacteristic[] = "67617474-7761-7900-0000-006c6f616401";

// Every session state change a WatchSessions stream saw, in order.
class Watcher {
 public:
  explicit Watcher(v1::SessionService::Stub& stub) {
    reader_ = stub.WatchSessions(&ctx_, v1::WatchSessionsRequest());
    reader_->WaitForInitialMetadata();  // live before the caller makes the first change
    thread_ = std::thread([this] {
      v1::WatchSessionsResponse e;
      while (reader_->Read(&e)) {
        std::lock_guard<std::mutex> lock(mu_);
        if (e.has_gap()) gaps_ += e.gap().dropped();
        events_.push_back(e.session());
      }
    });
  }
  ~Watcher() {
    ctx_.TryCancel();
    thread_.join();
  }
  std::vector<v1::Session> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::uint64_t gaps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return gaps_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchSessionsResponse>> reader_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<v1::Session> events_;
  std::uint64_t gaps_ = 0;
};

// The most sessions ever CONNECTING at once on one adapter.
int maxConnectsInFlight(const std::vector<v1::Session>& events) {
  std::map<std::string, std::string> connectingOn;  // address → adapter
  std::map<std::string, int> inFlight;
  int most = 0;
  for (const auto& e : events) {
    auto it = connectingOn.find(e.address());
    if (it != connectingOn.end()) {
      --inFlight[it->second];
      connectingOn.erase(it);
    }
    if (e.state() == v1::SESSION_STATE_CONNECTING) {
      connectingOn[e.address()] = e.adapter();
      most = std::max(most, ++inFlight[e.adapter()]);
    }
  }
  return most;
}

// Pairs of sessions waiting on one adapter at the same time, and how many of them connected
// lower priority first.
struct PriorityOrder {
  int pairs = 0;
  int inversions = 0;
};
PriorityOrder priorityOrder(const std::vector<v1::Session>& events) {
  struct Wait {
    std::string adapter;
    int priority;
    std::size_t queued, connecting;
  };
  std::map<std::string, std::pair<std::size_t, v1::Session>> queuedAt;
  std::vector<Wait> waits;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.state() == v1::SESSION_STATE_QUEUED) queuedAt[e.address()] = {i, e};
    if (e.state() == v1::SESSION_STATE_CONNECTING) {
      auto it = queuedAt.find(e.address());
      if (it == queuedAt.end()) continue;
      waits.push_back({it->second.second.adapter(), it->second.second.priority(),
                       it->second.first, i});
      queuedAt.erase(it);
    }
  }
  PriorityOrder out;
  for (const auto& a : waits) {
    for (const auto& b : waits) {
      if (a.adapter != b.adapter || a.priority <= b.priority) continue;
      // Both were in the queue before either was granted.
      if (a.queued < b.connecting && b.queued < a.connecting) {
        ++out.pairs;
        if (b.connecting < a.connecting) ++out.inversions;
      }
    }
  }
  return out;
}

class AFleet : public SimFixture {
 protected:
  void SetUp() override {
    log::configure(log::Format::kText, log::Level::kWarn);
    sim::SimOptions o = fastOptions();
    o.fleet.devices = sim::loadDevices(kDevices, 20);
    for (const auto& d : o.fleet.devices) devices_.push_back(d.address.toString());
    o.adapters = kAdapters;
    o.connectionSlots = 64;
    startSim(o);
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("gattway-fleet-", ::getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // Half the fleet is declared in the config file, half opened with Connect: "high" sessions
    // (priority 50) and "low" ones (0). The second file is the same without sessions.
    writeConfig(dir_ / "gattway.yaml", true);
    writeConfig(dir_ / "no-sessions.yaml", false);
    startGateway(dir_ / "gattway.yaml");
    for (int i = kDevices / 2; i < kDevices; ++i) {
      grpc::ClientContext ctx;
      v1::ConnectRequest r;
      r.set_address(devices_[static_cast<std::size_t>(i)]);
      r.set_address_type(v1::ADDRESS_TYPE_RANDOM);
      r.set_persistent(true);
      r.set_no_wait(true);
      (*r.mutable_labels())["tier"] = i % 2 == 0 ? "high" : "low";
      v1::ConnectResponse resp;
      ASSERT_TRUE(stub_->Connect(&ctx, r, &resp).ok());
    }
  }
  void writeConfig(const std::filesystem::path& path, bool withSessions) {
    std::ofstream config(path);
    config << "adapters:\n";
    for (int a = 0; a < kAdapters; ++a) {
      config << "  - {name: hci" << a << ", connection_slot_limit: 60}\n";
    }
    config << "policies:\n"
              "  - name: high\n"
              "    selector: {labels: {tier: high}}\n"
              "    priority: 50\n"
              "    reconnect: {initial_backoff: 0.05s, max_backoff: 1s}\n"
              "  - name: low\n"
              "    selector: {labels: {tier: low}}\n"
              "    reconnect: {initial_backoff: 0.05s, max_backoff: 1s}\n"
              "sessions:\n";
    if (!withSessions) config << "  []\n";
    for (int i = 0; withSessions && i < kDevices / 2; ++i) {
      config << "  - {address: \"" << devices_[static_cast<std::size_t>(i)]
             << "\", address_type: ADDRESS_TYPE_RANDOM, labels: {tier: "
             << (i % 2 == 0 ? "high" : "low") << "}}\n";
    }
  }
  void TearDown() override {
    gateway_.reset();
    stopSim();
    std::filesystem::remove_all(dir_);
  }

  void startGateway(const std::filesystem::path& config) {
    server::GatewayOptions g;
    g.grpcAddress = "127.0.0.1:0";
    g.dbusAddress = bus_.address();
    g.stateDir = dir_ / "state";
    g.configFile = config;
    // The simulator's connects take milliseconds: 2 s of InProgress stands in for the kernel's
    // 20 s LE connect timeout that the default span outlasts.
    g.watchdog.inProgressSpan = absl::Seconds(2);
    gateway_ = std::make_unique<server::Gateway>(g);
    ASSERT_TRUE(gateway_->start().ok());
    stub_ = v1::SessionService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", gateway_->grpcPort()), grpc::InsecureChannelCredentials()));
  }

  std::vector<v1::Session> list(v1::SessionState state = v1::SESSION_STATE_UNSPECIFIED) {
    grpc::ClientContext ctx;
    v1::ListSessionsRequest r;
    if (state != v1::SESSION_STATE_UNSPECIFIED) r.mutable_filter()->add_states(state);
    v1::ListSessionsResponse resp;
    if (!stub_->ListSessions(&ctx, r, &resp).ok()) return {};
    return {resp.sessions().begin(), resp.sessions().end()};
  }
  // Waits (up to 2 minutes: a slow machine is not a failure) until `pred` holds.
  bool eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Every session is CONNECTED, those in `dropped` on a new link.
  bool backAfterDrop(const std::vector<std::string>& dropped) {
    const auto connected = list(v1::SESSION_STATE_CONNECTED);
    if (connected.size() != kDevices) return false;
    for (const auto& s : connected) {
      if (std::find(dropped.begin(), dropped.end(), s.address()) != dropped.end() &&
          s.connects() < 2) {
        return false;
      }
    }
    return true;
  }
  bool allConnected() {
    return eventually([&] { return list(v1::SESSION_STATE_CONNECTED).size() == kDevices; });
  }
  // Whether each of `addresses` is CONNECTED under `policy` with its one kept subscription active.
  bool keptActive(const std::vector<std::string>& addresses, const std::string& policy) {
    int active = 0;
    for (const auto& s : list(v1::SESSION_STATE_CONNECTED)) {
      if (std::find(addresses.begin(), addresses.end(), s.address()) == addresses.end()) continue;
      if (s.policy() == policy && s.subscriptions_size() == 1 && s.subscriptions(0).active()) {
        ++active;
      }
    }
    return active == static_cast<int>(addresses.size());
  }
  // For failure messages: how many sessions are in which state, and a detail of each.
  std::string census() {
    std::map<std::string, std::pair<int, std::string>> by;
    for (const auto& s : list()) {
      auto& [n, detail] = by[v1::SessionState_Name(s.state()) + " on " + s.adapter()];
      ++n;
      detail = v1::SessionReason_Name(s.reason()) + " " + s.detail();
    }
    std::string out;
    for (const auto& [state, v] : by) absl::StrAppend(&out, state, ": ", v.first, " (", v.second, ")\n");
    return out;
  }

  std::vector<std::string> devices_;
  std::filesystem::path dir_;
  std::unique_ptr<server::Gateway> gateway_;
  std::unique_ptr<v1::SessionService::Stub> stub_;
};

TEST_F(AFleet, ComesBackAfterHalfTheLinksDropOneConnectPerAdapterInPriorityOrder) {
  ASSERT_TRUE(allConnected()) << census();
  Watcher watch(*stub_);
  std::vector<std::string> dropped;
  for (int i = 0; i < kDevices; ++i) {
    if (i % 4 < 2) dropped.push_back(devices_[static_cast<std::size_t>(i)]);  // 50 high, 50 low
  }
  const auto t0 = std::chrono::steady_clock::now();
  onLoop([&] {
    for (const auto& a : dropped) {
      ASSERT_TRUE(sim_->dropLink(*Address::parse(a), sim::DropReason::kTimeout).ok()) << a;
    }
  });
  ASSERT_TRUE(eventually([&] { return backAfterDrop(dropped); }))
      << list(v1::SESSION_STATE_CONNECTED).size() << " connected";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto events = watch.events();
  ASSERT_EQ(watch.gaps(), 0u);
  const int inFlight = maxConnectsInFlight(events);
  const PriorityOrder order = priorityOrder(events);
  std::printf("[ figures  ] %zu dropped sessions back in %.2f s; connects in flight per adapter "
              "at most %d; %d priority pairs waiting together, %d inversions\n",
              dropped.size(), seconds, inFlight, order.pairs, order.inversions);
  EXPECT_EQ(inFlight, 1);
  EXPECT_GT(order.pairs, 0);  // the check below compared something
  EXPECT_EQ(order.inversions, 0);
  int backingOff = 0;
  for (const auto& e : events) backingOff += e.state() == v1::SESSION_STATE_BACKING_OFF ? 1 : 0;
  EXPECT_GE(backingOff, static_cast<int>(dropped.size()));
}

TEST_F(AFleet, ComesBackAfterBluetoothdRestarts) {
  ASSERT_TRUE(allConnected());
  Watcher watch(*stub_);
  const auto t0 = std::chrono::steady_clock::now();
  onLoop([&] { sim_->restartBluetoothd(absl::Milliseconds(200)); });
  ASSERT_TRUE(eventually([&] {
    return list(v1::SESSION_STATE_WAITING_FOR_ADAPTER).size() +
               list(v1::SESSION_STATE_QUEUED).size() > 0 ||
           list(v1::SESSION_STATE_CONNECTED).size() < kDevices;
  }));
  ASSERT_TRUE(allConnected()) << census();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto events = watch.events();
  // Every session waited for BlueZ (reason BLUEZ_DOWN, or ADAPTER_OFF when the adapter's removal
  // was reported first).
  std::set<std::string> waitedFor;
  for (const auto& e : events) {
    if (e.state() == v1::SESSION_STATE_WAITING_FOR_ADAPTER &&
        (e.reason() == v1::SESSION_REASON_BLUEZ_DOWN ||
         e.reason() == v1::SESSION_REASON_ADAPTER_OFF)) {
      waitedFor.insert(e.address());
    }
  }
  const int waited = static_cast<int>(waitedFor.size());
  const int inFlight = maxConnectsInFlight(events);
  const PriorityOrder order = priorityOrder(events);
  std::printf("[ figures  ] %d sessions back %.2f s after bluetoothd restarted; connects in "
              "flight per adapter at most %d; %d pairs, %d inversions\n",
              kDevices, seconds, inFlight, order.pairs, order.inversions);
  EXPECT_EQ(waited, kDevices);
  EXPECT_EQ(inFlight, 1);
  EXPECT_EQ(order.inversions, 0);
}

TEST_F(AFleet, WaitsThroughAnAdapterPowerCycleAndComesBackOneConnectAtATime) {
  ASSERT_TRUE(allConnected()) << census();
  std::size_t onHci0 = 0;
  for (const auto& s : list()) onHci0 += s.adapter() == "hci0" ? 1 : 0;
  ASSERT_GT(onHci0, 0u);
  Watcher watch(*stub_);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", false); }).ok());
  ASSERT_TRUE(eventually([&] {
    return list(v1::SESSION_STATE_WAITING_FOR_ADAPTER).size() == onHci0;
  })) << census();
  // The adapter stays off a while (the scenario, not a wait for a result).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", true); }).ok());
  ASSERT_TRUE(allConnected()) << census();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto events = watch.events();
  ASSERT_EQ(watch.gaps(), 0u);
  // Every session on hci0 went DISCONNECTED → WAITING_FOR_ADAPTER (ADAPTER_OFF), and none
  // connected on hci0 between the first of those and the power-on (the first QUEUED after it).
  std::set<std::string> waited;
  std::size_t firstWait = events.size(), resumed = events.size();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.state() == v1::SESSION_STATE_WAITING_FOR_ADAPTER) {
      EXPECT_EQ(e.reason(), v1::SESSION_REASON_ADAPTER_OFF);
      waited.insert(e.address());
      firstWait = std::min(firstWait, i);
    }
    if (e.state() == v1::SESSION_STATE_QUEUED && firstWait < i && resumed == events.size()) resumed = i;
  }
  EXPECT_EQ(waited.size(), onHci0);
  for (std::size_t i = firstWait; i < resumed; ++i) {
    EXPECT_FALSE(events[i].state() == v1::SESSION_STATE_CONNECTING && events[i].adapter() == "hci0")
        << events[i].address();
  }
  const int inFlight = maxConnectsInFlight(events);
  const PriorityOrder order = priorityOrder(events);
  std::printf("[ figures  ] %zu sessions on hci0 back %.2f s after it was powered off (0.3 s off); "
              "connects in flight per adapter at most %d; %d pairs, %d inversions\n",
              onHci0, seconds, inFlight, order.pairs, order.inversions);
  EXPECT_EQ(inFlight, 1);
  EXPECT_EQ(order.inversions, 0);
}

TEST_F(AFleet, ComesBackFromWedgedConnectsThroughTheWatchdogsPowerCycle) {
  ASSERT_TRUE(allConnected()) << census();
  Watcher watch(*stub_);
  // Every controller wedges (whichever adapter a session is placed on, its connects fail), then
  // a tenth of the links drop.
  std::vector<std::string> dropped;
  for (int i = 0; i < kDevices; i += 10) dropped.push_back(devices_[static_cast<std::size_t>(i)]);
  const auto t0 = std::chrono::steady_clock::now();
  onLoop([&] {
    for (int a = 0; a < kAdapters; ++a) ASSERT_TRUE(sim_->wedgeConnects(absl::StrCat("hci", a)).ok());
    for (const auto& a : dropped) {
      ASSERT_TRUE(sim_->dropLink(*Address::parse(a), sim::DropReason::kTimeout).ok()) << a;
    }
  });
  const Metrics& m = gateway_->metrics();
  ASSERT_TRUE(eventually([&] {
    return m.adapterRecoveries[static_cast<std::size_t>(RecoveryStep::kPowerCycle)].value() > 0 &&
           backAfterDrop(dropped);
  })) << census();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto events = watch.events();
  ASSERT_EQ(watch.gaps(), 0u);
  // The refused connects reach WatchSessions as BlueZ's InProgress (CONNECT_FAILED) until the
  // streak outlasts the span, then as the watchdog's (WATCHDOG); neither counts as a failed
  // attempt.
  int watchdogEvents = 0;
  int inProgressEvents = 0;
  for (const auto& e : events) {
    watchdogEvents += e.reason() == v1::SESSION_REASON_WATCHDOG ? 1 : 0;
    if (absl::StrContains(absl::AsciiStrToLower(e.detail()), "in progress")) {
      ++inProgressEvents;
      EXPECT_EQ(e.reason(), v1::SESSION_REASON_CONNECT_FAILED) << e.detail();
    }
    if (e.reason() == v1::SESSION_REASON_WATCHDOG ||
        e.reason() == v1::SESSION_REASON_CONNECT_FAILED) {
      EXPECT_EQ(e.failed_attempts(), 0u) << e.detail();
    }
  }
  const std::uint64_t cycles =
      m.adapterRecoveries[static_cast<std::size_t>(RecoveryStep::kPowerCycle)].value();
  const int inFlight = maxConnectsInFlight(events);
  std::printf("[ figures  ] %zu dropped sessions back %.2f s after every adapter wedged; %llu "
              "watchdog power cycles; %d InProgress then %d WATCHDOG events; connects in flight per "
              "adapter at most %d\n",
              dropped.size(), seconds, static_cast<unsigned long long>(cycles), inProgressEvents,
              watchdogEvents, inFlight);
  EXPECT_GT(watchdogEvents, 0);
  EXPECT_GE(cycles, 1u);
  EXPECT_LE(cycles, static_cast<std::uint64_t>(kAdapters));  // at most once per adapter
  EXPECT_EQ(inFlight, 1);
}

TEST_F(AFleet, IsRestoredWhenTheGatewayRestartsOnItsStateDirectory) {
  ASSERT_TRUE(allConnected());
  // A policy created over gRPC, so that only the state directory knows it, keeps the load
  // characteristic subscribed on five "low" sessions (odd indices; its address selector beats
  // their label selector).
  std::vector<std::string> watched;
  for (std::size_t i = 1; i < 10; i += 2) watched.push_back(devices_[i]);
  {
    grpc::ClientContext ctx;
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_name("watched");
    for (const auto& a : watched) p->mutable_selector()->add_addresses(a);
    p->mutable_reconnect()->mutable_initial_backoff()->set_nanos(50'000'000);
    p->mutable_reconnect()->mutable_max_backoff()->set_seconds(1);
    p->add_subscriptions()->mutable_characteristic()->set_characteristic_uuid(kLoadCharacteristic);
    v1::CreatePolicyResponse resp;
    ASSERT_TRUE(stub_->CreatePolicy(&ctx, r, &resp).ok());
  }
  ASSERT_TRUE(eventually([&] { return keptActive(watched, "watched"); })) << census();
  gateway_->shutdown(absl::ZeroDuration());
  gateway_.reset();
  ASSERT_TRUE(std::filesystem::exists(dir_ / "state" / "state.json"));
  // A config file without sessions this time: the state directory alone restores the fleet.
  startGateway(dir_ / "no-sessions.yaml");
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(allConnected()) << census();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ figures  ] %d sessions restored and connected %.2f s after the restart\n",
              kDevices, seconds);
  int high = 0;
  for (const auto& s : list()) {
    EXPECT_TRUE(s.persistent());
    EXPECT_EQ(s.reason(), v1::SESSION_REASON_PROGRESS);
    if (s.labels().at("tier") == "high") {
      ++high;
      EXPECT_EQ(s.policy(), "high");
      EXPECT_EQ(s.priority(), 50);
    }
  }
  EXPECT_EQ(high, kDevices / 2);
  // Subscriptions included.
  EXPECT_TRUE(eventually([&] { return keptActive(watched, "watched"); })) << census();
  int kept = 0;
  for (const auto& s : list()) kept += s.subscriptions_size();
  EXPECT_EQ(kept, static_cast<int>(watched.size()));
}

}  // namespace
}  // namespace gattway::testing
