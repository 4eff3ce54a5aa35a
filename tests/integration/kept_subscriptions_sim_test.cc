// A policy's kept subscriptions over real gRPC, through the production BlueZ backend, against the
// simulated BlueZ: the heart-rate strap's measurement is kept on by its policy; a Subscribe stream
// opened later gets the values without a new StartNotify; a link drop brings it back active; a
// gateway restarted on the same state directory restores the policy, its subscriptions included.
#include <algorithm>
#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "gattway/v1/metrics.grpc.pb.h"
#include "tests/support/sim_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

class KeptSubscriptionsOverBluez : public SimGatewayTest {
 protected:
  void SetUp() override {
    auto o = fastOptions();
    o.notificationInterval = absl::Milliseconds(20);  // heart rates every 20 ms
    o.ordering = GetParam();
    startSim(std::move(o));
    if (HasFatalFailure()) return;
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');  // "Keeps.../Tidy"
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("gattway-kept-", ::getpid(), "-", name);
    std::filesystem::remove_all(dir_);
    startGateway();
  }
  void TearDown() override {
    SimGatewayTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
  void startGateway() {
    server::GatewayOptions g;
    g.grpcAddress = "127.0.0.1:0";
    g.dbusAddress = bus_.address();
    g.stateDir = dir_ / "state";
    gateway = std::make_unique<server::Gateway>(g);
    ASSERT_TRUE(gateway->start().ok());
    dial(gateway->grpcPort());
    metrics = v1::MetricsService::NewStub(channel);
    ASSERT_TRUE(eventuallyServing());
  }
  void restartGateway() {
    gateway->shutdown(absl::ZeroDuration());
    gateway.reset();
    startGateway();
  }

  // Waits (up to a minute: a slow machine is not a failure) until `pred` holds.
  static bool eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  v1::Session session() {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::GetSessionRequest r;
    r.set_address(kHrmAddress);
    v1::GetSessionResponse resp;
    sessions->GetSession(&ctx, r, &resp);
    return resp.session();
  }
  bool keptActive() {
    const v1::Session s = session();
    return s.state() == v1::SESSION_STATE_CONNECTED && s.subscriptions_size() == 1 &&
           s.subscriptions(0).active();
  }
  v1::GattMetrics gattMetrics() {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::GetMetricsResponse resp;
    metrics->GetMetrics(&ctx, v1::GetMetricsRequest(), &resp);
    return resp.gatt();
  }
  // StartNotify calls the gateway made (GATT operations of kind "subscribe", any result).
  std::uint64_t startNotifies() {
    std::uint64_t n = 0;
    const v1::GattMetrics m = gattMetrics();
    for (const auto& c : m.operations()) {
      if (c.labels().at("kind") == "subscribe") n += c.value();
    }
    return n;
  }
  // Reads until a message with notifications (skipping events); false when the stream ends.
  static bool readValue(grpc::ClientReader<v1::SubscribeResponse>& reader) {
    v1::SubscribeResponse m;
    while (reader.Read(&m)) {
      if (m.notifications_size() > 0) return true;
    }
    return false;
  }
  // A Subscribe stream on the heart rate measurement, with room for a slow machine.
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> subscribeHeartRate(
      grpc::ClientContext& ctx) {
    ctx.set_deadline(in(60000ms));
    v1::SubscribeRequest request;
    request.set_address(kHrmAddress);
    *request.mutable_characteristic() = attribute(kHeartRateMeasurement);
    return gatt->Subscribe(&ctx, request);
  }
  static bool readEvent(grpc::ClientReader<v1::SubscribeResponse>& reader,
                        v1::SubscriptionEventType type) {
    v1::SubscribeResponse m;
    while (reader.Read(&m)) {
      if (m.has_event() && m.event().type() == type) return true;
    }
    return false;
  }

  std::filesystem::path dir_;
  std::unique_ptr<v1::MetricsService::Stub> metrics;
};

TEST_P(KeptSubscriptionsOverBluez, KeepsTheHeartRateOnAcrossDropsAndGatewayRestarts) {
  {
    grpc::ClientContext ctx;
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_name("hr");
    p->mutable_selector()->add_addresses(kHrmAddress);
    p->mutable_reconnect()->mutable_initial_backoff()->set_nanos(100'000'000);
    auto* kept = p->add_subscriptions();
    *kept->mutable_characteristic() = attribute(kHeartRateMeasurement, kHeartRateService);
    v1::CreatePolicyResponse resp;
    ASSERT_TRUE(sessions->CreatePolicy(&ctx, r, &resp).ok());
  }
  // WatchSessions tells when the kept subscription becomes active: an event in the same state.
  grpc::ClientContext watchCtx;
  watchCtx.set_deadline(in(60000ms));
  auto watch = sessions->WatchSessions(&watchCtx, v1::WatchSessionsRequest());
  watch->WaitForInitialMetadata();
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(30000ms));
    v1::ConnectRequest r;
    r.set_address(kHrmAddress);
    r.set_persistent(true);  // names no policy: the address selector picks "hr"
    r.mutable_timeout()->set_seconds(20);
    v1::ConnectResponse resp;
    ASSERT_TRUE(sessions->Connect(&ctx, r, &resp).ok());
    EXPECT_EQ(resp.session().policy(), "hr");
  }
  v1::WatchSessionsResponse e;
  bool sawActive = false;
  while (!sawActive && watch->Read(&e)) {
    sawActive = e.session().state() == v1::SESSION_STATE_CONNECTED &&
                e.previous_state() == v1::SESSION_STATE_CONNECTED &&
                e.session().subscriptions_size() == 1 && e.session().subscriptions(0).active();
  }
  ASSERT_TRUE(sawActive);
  watchCtx.TryCancel();
  ASSERT_TRUE(keptActive());
  const v1::Session s = session();
  EXPECT_EQ(s.subscriptions(0).characteristic().characteristic_uuid(), "2A37");
  EXPECT_EQ(s.subscriptions(0).detail(), "");
  const std::uint64_t starts = startNotifies();
  EXPECT_EQ(starts, 1u);
  // Values arrive with no stream open: counted and dropped.
  ASSERT_TRUE(eventually([&] { return gattMetrics().notifications_unclaimed() > 0; }));

  // A stream opened later joins the notify session: values, and no new StartNotify.
  {
    grpc::ClientContext ctx;
    auto reader = subscribeHeartRate(ctx);
    v1::SubscribeResponse first;
    ASSERT_TRUE(reader->Read(&first));
    EXPECT_EQ(first.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
    ASSERT_TRUE(readValue(*reader));
    EXPECT_EQ(startNotifies(), starts);

    // The link drops: the stream is interrupted and resumed, the kept subscription is back
    // active on the new link, both on one StartNotify.
    onLoop([&] {
      ASSERT_TRUE(sim_->dropLink(*Address::parse(kHrmAddress), sim::DropReason::kTimeout).ok());
    });
    ASSERT_TRUE(readEvent(*reader, v1::SUBSCRIPTION_EVENT_TYPE_INTERRUPTED));
    ASSERT_TRUE(readEvent(*reader, v1::SUBSCRIPTION_EVENT_TYPE_RESUMED));
    ASSERT_TRUE(readValue(*reader));
    ASSERT_TRUE(eventually([&] { return keptActive(); })) << session().DebugString();
    EXPECT_GE(session().connects(), 2u);
    // One StartNotify per link, shared by the stream and the kept subscription.
    EXPECT_EQ(startNotifies(), session().connects()) << gattMetrics().DebugString();
    ctx.TryCancel();
  }
  // The stream ended; the kept subscription stays on.
  const std::uint64_t unclaimed = gattMetrics().notifications_unclaimed();
  ASSERT_TRUE(eventually([&] { return gattMetrics().notifications_unclaimed() > unclaimed; }));
  EXPECT_TRUE(keptActive());

  // The gateway restarts on the same state directory: the policy and its subscriptions, and the
  // persistent session, come back; the subscription is active again.
  restartGateway();
  {
    grpc::ClientContext ctx;
    v1::GetPolicyRequest r;
    r.set_name("hr");
    v1::GetPolicyResponse resp;
    ASSERT_TRUE(sessions->GetPolicy(&ctx, r, &resp).ok());
    ASSERT_EQ(resp.policy().subscriptions_size(), 1);
    EXPECT_EQ(resp.policy().subscriptions(0).characteristic().characteristic_uuid(), "2A37");
    EXPECT_EQ(resp.policy().subscriptions(0).characteristic().service_uuid(), "180D");
  }
  ASSERT_TRUE(eventually([&] { return keptActive(); })) << session().DebugString();
  EXPECT_EQ(session().reason(), v1::SESSION_REASON_PROGRESS);
  // A link BlueZ still held from the last gateway may be adopted as it closes and come back; the
  // adopted one may close before its kept subscription starts. So: at most one StartNotify per
  // link, and a stream opened now joins the active notify session without one of its own.
  const std::uint64_t startsBeforeStream = startNotifies();
  EXPECT_GE(startsBeforeStream, 1u);
  EXPECT_LE(startsBeforeStream, session().connects()) << gattMetrics().DebugString();
  grpc::ClientContext ctx;
  auto reader = subscribeHeartRate(ctx);
  ASSERT_TRUE(readValue(*reader));
  EXPECT_EQ(startNotifies(), startsBeforeStream) << gattMetrics().DebugString();
  ctx.TryCancel();
}

TEST_P(KeptSubscriptionsOverBluez, SaysWhyACharacteristicTheDeviceLacksIsNotActive) {
  {
    grpc::ClientContext ctx;
    v1::CreatePolicyRequest r;
    v1::Policy* p = r.mutable_policy();
    p->set_name("env");
    *p->add_subscriptions()->mutable_characteristic() = attribute("2A6E");  // temperature
    *p->add_subscriptions()->mutable_characteristic() = attribute(kHeartRateMeasurement);
    v1::CreatePolicyResponse resp;
    ASSERT_TRUE(sessions->CreatePolicy(&ctx, r, &resp).ok());
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(in(15000ms));
  v1::ConnectRequest r;
  r.set_address(kHrmAddress);
  r.set_persistent(true);
  r.set_policy("env");
  v1::ConnectResponse resp;
  ASSERT_TRUE(sessions->Connect(&ctx, r, &resp).ok());
  ASSERT_TRUE(eventually([&] {
    const v1::Session s = session();
    return s.subscriptions_size() == 2 && s.subscriptions(1).active();
  })) << session().DebugString();
  const v1::Session s = session();
  EXPECT_FALSE(s.subscriptions(0).active());
  EXPECT_NE(s.subscriptions(0).detail().find("2A6E"), std::string::npos) << s.DebugString();
  EXPECT_NE(s.subscriptions(0).detail().find("does not exist on the device"), std::string::npos)
      << s.DebugString();
}

INSTANTIATE_TEST_SUITE_P(Orderings, KeptSubscriptionsOverBluez,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing
