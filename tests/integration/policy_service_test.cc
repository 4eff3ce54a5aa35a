// SessionService's policies and persistent sessions over real gRPC, the gateway in-process over
// the fake backend.
#include <filesystem>

#include "server/state_file.h"
#include "tests/support/fake_gateway.h"

namespace gattway::testing {
namespace {

using C = grpc::StatusCode;

class PolicyService : public FakeGatewayTest {
 protected:
  void configure(server::GatewayOptions& options) override {
    if (stateDir.empty()) {
      stateDir = std::filesystem::temp_directory_path() /
                 ("gattway-policy-test-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(stateDir);
    }
    options.stateDir = stateDir;
  }
  void TearDown() override {
    FakeGatewayTest::TearDown();
    std::filesystem::remove_all(stateDir);
  }
  void restart() {
    gateway->shutdown(absl::ZeroDuration());
    FakeGatewayTest::TearDown();
    SetUp();
  }

  static v1::Policy policy(const std::string& name) {
    v1::Policy p;
    p.set_name(name);
    return p;
  }
  grpc::Status create(const v1::Policy& p, v1::Policy* out = nullptr) {
    grpc::ClientContext ctx;
    v1::CreatePolicyRequest r;
    *r.mutable_policy() = p;
    v1::CreatePolicyResponse resp;
    auto s = sessions->CreatePolicy(&ctx, r, &resp);
    if (out != nullptr) *out = resp.policy();
    return s;
  }
  grpc::Status connectWith(v1::ConnectRequest r, v1::Session* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(std::chrono::milliseconds(5000)));
    if (r.address().empty()) r.set_address(kDevice);
    v1::ConnectResponse resp;
    auto s = sessions->Connect(&ctx, r, &resp);
    if (out != nullptr) *out = resp.session();
    return s;
  }
  v1::Session session(const std::string& address = kDevice) {
    grpc::ClientContext ctx;
    v1::GetSessionRequest r;
    r.set_address(address);
    v1::GetSessionResponse resp;
    sessions->GetSession(&ctx, r, &resp);
    return resp.session();
  }
  bool sessionIn(v1::SessionState state) {
    return eventually([&] { return true; }) &&
           [&] {
             for (int i = 0; i < 500; ++i) {
               if (session().state() == state) return true;
               std::this_thread::sleep_for(std::chrono::milliseconds(10));
             }
             return false;
           }();
  }

  std::string stateDir;
};

TEST_F(PolicyService, CreatesGetsListsUpdatesAndDeletesPolicies) {
  v1::Policy cams = policy("cameras");
  cams.mutable_selector()->set_name_prefix("Cam-");
  cams.set_priority(50);
  cams.mutable_reconnect()->mutable_initial_backoff()->set_nanos(200'000'000);
  v1::Policy stored;
  ASSERT_TRUE(create(cams, &stored).ok());
  EXPECT_EQ(stored.priority(), 50);
  EXPECT_EQ(stored.reconnect().initial_backoff().nanos(), 200'000'000);
  EXPECT_EQ(stored.reconnect().max_backoff().seconds(), 60);  // the default, filled in
  EXPECT_TRUE(stored.has_create_time());
  EXPECT_EQ(create(cams).error_code(), C::ALREADY_EXISTS);

  {
    grpc::ClientContext ctx;
    v1::UpdatePolicyRequest r;
    *r.mutable_policy() = cams;
    r.mutable_policy()->set_priority(60);
    v1::UpdatePolicyResponse resp;
    ASSERT_TRUE(sessions->UpdatePolicy(&ctx, r, &resp).ok());
    EXPECT_EQ(resp.policy().priority(), 60);
  }
  {
    grpc::ClientContext ctx;
    v1::UpdatePolicyRequest r;
    *r.mutable_policy() = policy("missing");
    v1::UpdatePolicyResponse resp;
    EXPECT_EQ(sessions->UpdatePolicy(&ctx, r, &resp).error_code(), C::NOT_FOUND);
  }
  ASSERT_TRUE(create(policy("all")).ok());
  {
    grpc::ClientContext ctx;
    v1::ListPoliciesResponse resp;
    ASSERT_TRUE(sessions->ListPolicies(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.policies_size(), 2);
    EXPECT_EQ(resp.policies(0).name(), "all");
    EXPECT_EQ(resp.policies(1).name(), "cameras");
  }
  {
    grpc::ClientContext ctx;
    v1::DeletePolicyRequest r;
    r.set_name("all");
    v1::DeletePolicyResponse resp;
    ASSERT_TRUE(sessions->DeletePolicy(&ctx, r, &resp).ok());
    grpc::ClientContext again;
    EXPECT_EQ(sessions->DeletePolicy(&again, r, &resp).error_code(), C::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::GetPolicyRequest r;
    r.set_name("all");
    v1::GetPolicyResponse resp;
    EXPECT_EQ(sessions->GetPolicy(&ctx, r, &resp).error_code(), C::NOT_FOUND);
  }
}

TEST_F(PolicyService, RefusesABadPolicyNamingTheField) {
  struct Case {
    std::function<void(v1::Policy&)> mutate;
    const char* field;
  };
  const Case cases[] = {
      {[](v1::Policy& p) { p.set_name("Bad Name"); }, "policy.name"},
      {[](v1::Policy& p) { p.mutable_reconnect()->set_jitter(1.5); }, "policy.reconnect.jitter"},
      {[](v1::Policy& p) { p.mutable_reconnect()->mutable_max_backoff()->set_seconds(100000); },
       "policy.reconnect.max_backoff"},
      {[](v1::Policy& p) { p.mutable_selector()->add_service_uuids("nope"); },
       "policy.selector.service_uuids[0]"},
      {[](v1::Policy& p) { p.mutable_selector()->add_addresses("AA:BB"); },
       "policy.selector.addresses[0]"},
      {[](v1::Policy& p) { p.set_priority(101); }, "policy.priority"},
      {[](v1::Policy& p) { p.mutable_reconnect()->set_on_give_up(static_cast<v1::GiveUpAction>(9)); },
       "policy.reconnect.on_give_up"},
  };
  for (const auto& c : cases) {
    v1::Policy p = policy("ok");
    c.mutate(p);
    auto s = create(p);
    EXPECT_EQ(s.error_code(), C::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(s.error_message().find(c.field), std::string::npos) << s.error_message();
  }
}

TEST_F(PolicyService, ExplainsWhichPolicyAppliesAndWhy) {
  v1::Policy byName = policy("hrm");
  byName.mutable_selector()->set_name_prefix("HRM");
  v1::Policy byAddress = policy("this-one");
  byAddress.mutable_selector()->add_addresses(kDevice);
  v1::Policy other = policy("cams");
  other.mutable_selector()->set_name_prefix("Cam-");
  ASSERT_TRUE(create(byName).ok());
  ASSERT_TRUE(create(byAddress).ok());
  ASSERT_TRUE(create(other).ok());
  grpc::ClientContext ctx;
  v1::ResolvePolicyRequest r;
  r.set_address(kDevice);
  r.set_name("HRM-1");
  v1::ResolvePolicyResponse resp;
  ASSERT_TRUE(sessions->ResolvePolicy(&ctx, r, &resp).ok());
  EXPECT_EQ(resp.policy().name(), "this-one");
  EXPECT_NE(resp.reason().find("wins over 1 other matching policy"), std::string::npos)
      << resp.reason();
  ASSERT_EQ(resp.candidates_size(), 3);
  EXPECT_EQ(resp.candidates(0).specificity(), 4u);
  EXPECT_EQ(resp.candidates(1).policy(), "hrm");
  EXPECT_FALSE(resp.candidates(2).matches());
  EXPECT_EQ(resp.effective().max_backoff().seconds(), 60);
  grpc::ClientContext bad;
  r.add_service_uuids("zz");
  EXPECT_EQ(sessions->ResolvePolicy(&bad, r, &resp).error_code(), C::INVALID_ARGUMENT);
}

TEST_F(PolicyService, KeepsAPersistentSessionAcrossDropsAndReportsEachStep) {
  v1::Policy fast = policy("fast");
  fast.mutable_reconnect()->mutable_initial_backoff()->set_nanos(100'000'000);
  fast.set_priority(20);
  ASSERT_TRUE(create(fast).ok());
  grpc::ClientContext watchCtx;
  v1::WatchSessionsRequest w;
  w.mutable_filter()->set_persistent(true);
  auto watch = sessions->WatchSessions(&watchCtx, w);
  watch->WaitForInitialMetadata();  // live: the Connect's first event will be seen
  v1::ConnectRequest r;
  r.set_persistent(true);
  r.set_policy("fast");
  (*r.mutable_labels())["room"] = "lab";
  v1::Session s;
  ASSERT_TRUE(connectWith(r, &s).ok());
  EXPECT_TRUE(s.persistent());
  EXPECT_EQ(s.policy(), "fast");
  EXPECT_EQ(s.priority(), 20);
  onLoop([this] { fake->dropLink(*Address::parse(kDevice)); });
  std::vector<v1::SessionState> seen;
  v1::WatchSessionsResponse e;
  bool sawBackoffTime = false;
  while (watch->Read(&e)) {
    seen.push_back(e.session().state());
    if (e.session().state() == v1::SESSION_STATE_BACKING_OFF) {
      sawBackoffTime = e.session().has_next_attempt_time();
      EXPECT_EQ(e.session().reason(), v1::SESSION_REASON_LINK_LOST);
    }
    if (e.session().state() == v1::SESSION_STATE_CONNECTED && e.session().connects() == 2) break;
  }
  watchCtx.TryCancel();
  const std::vector<v1::SessionState> expected = {
      v1::SESSION_STATE_QUEUED,           v1::SESSION_STATE_CONNECTING,
      v1::SESSION_STATE_RESOLVING_SERVICES, v1::SESSION_STATE_CONNECTED,
      v1::SESSION_STATE_DISCONNECTED,     v1::SESSION_STATE_BACKING_OFF,
      v1::SESSION_STATE_QUEUED,           v1::SESSION_STATE_CONNECTING,
      v1::SESSION_STATE_RESOLVING_SERVICES, v1::SESSION_STATE_CONNECTED};
  EXPECT_EQ(seen, expected);
  EXPECT_TRUE(sawBackoffTime);

  // ListSessions filters by state, labels and policy.
  auto list = [&](std::function<void(v1::SessionFilter&)> f) {
    grpc::ClientContext ctx;
    v1::ListSessionsRequest req;
    f(*req.mutable_filter());
    v1::ListSessionsResponse resp;
    EXPECT_TRUE(sessions->ListSessions(&ctx, req, &resp).ok());
    return resp.sessions_size();
  };
  EXPECT_EQ(list([](auto& f) { f.add_states(v1::SESSION_STATE_CONNECTED); }), 1);
  EXPECT_EQ(list([](auto& f) { f.add_states(v1::SESSION_STATE_BACKING_OFF); }), 0);
  EXPECT_EQ(list([](auto& f) { (*f.mutable_labels())["room"] = "lab"; }), 1);
  EXPECT_EQ(list([](auto& f) { (*f.mutable_labels())["room"] = "hall"; }), 0);
  EXPECT_EQ(list([](auto& f) { f.set_policy("fast"); }), 1);
  EXPECT_EQ(list([](auto& f) { f.set_policy("slow"); }), 0);
}

TEST_F(PolicyService, RefusesAnUnknownPolicyAtConnect) {
  v1::ConnectRequest r;
  r.set_persistent(true);
  r.set_policy("nope");
  auto s = connectWith(r);
  EXPECT_EQ(s.error_code(), C::NOT_FOUND);
  EXPECT_NE(s.error_message().find("nope"), std::string::npos);
}

TEST_F(PolicyService, KeepsASubscribeStreamAcrossTheGapWithInterruptedAndResumed) {
  v1::Policy fast = policy("fast");
  fast.mutable_reconnect()->mutable_initial_backoff()->set_nanos(100'000'000);
  ASSERT_TRUE(create(fast).ok());
  v1::ConnectRequest r;
  r.set_persistent(true);
  r.set_policy("fast");
  ASSERT_TRUE(connectWith(r).ok());
  grpc::ClientContext ctx;
  v1::SubscribeRequest sr;
  sr.set_address(kDevice);
  sr.mutable_characteristic()->set_characteristic_uuid("2A37");
  auto reader = gatt->Subscribe(&ctx, sr);
  v1::SubscribeResponse m;
  ASSERT_TRUE(reader->Read(&m));
  EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
  onLoop([this] { fake->dropLink(*Address::parse(kDevice)); });
  ASSERT_TRUE(reader->Read(&m));
  EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_INTERRUPTED);
  EXPECT_FALSE(m.event().reason().empty());
  ASSERT_TRUE(reader->Read(&m));
  EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_RESUMED);
  EXPECT_TRUE(m.event().has_interruption());
  bool delivered = false;
  onLoop([&] { delivered = fake->notify(*Address::parse(kDevice), 0x0010, {0x00, 0x48}); });
  EXPECT_TRUE(delivered);
  ASSERT_TRUE(reader->Read(&m));
  ASSERT_EQ(m.notifications_size(), 1);
  ctx.TryCancel();
}

TEST_F(PolicyService, RestoresPoliciesAndPersistentSessionsAfterARestart) {
  v1::Policy cams = policy("cameras");
  cams.set_priority(30);
  cams.add_subscriptions()->mutable_characteristic()->set_characteristic_uuid("2A37");
  ASSERT_TRUE(create(cams).ok());
  v1::ConnectRequest r;
  r.set_persistent(true);
  (*r.mutable_labels())["room"] = "lab";
  ASSERT_TRUE(connectWith(r).ok());
  // An ephemeral session is not kept.
  ASSERT_TRUE(eventually([&] {
    return std::filesystem::exists(std::filesystem::path(stateDir) / "state.json");
  }));
  restart();
  {
    grpc::ClientContext ctx;
    v1::GetPolicyRequest g;
    g.set_name("cameras");
    v1::GetPolicyResponse resp;
    ASSERT_TRUE(sessions->GetPolicy(&ctx, g, &resp).ok());
    EXPECT_EQ(resp.policy().priority(), 30);
    ASSERT_EQ(resp.policy().subscriptions_size(), 1);
    EXPECT_EQ(resp.policy().subscriptions(0).characteristic().characteristic_uuid(), "2A37");
  }
  ASSERT_TRUE(sessionIn(v1::SESSION_STATE_CONNECTED));
  // The policy's kept subscription is started on the restored session.
  bool active = false;
  for (int i = 0; i < 500 && !active; ++i) {
    const v1::Session k = session();  // over gRPC: polled from the test's thread
    active = k.subscriptions_size() == 1 && k.subscriptions(0).active();
    if (!active) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(active) << session().DebugString();
  v1::Session s = session();
  EXPECT_TRUE(s.persistent());
  EXPECT_EQ(s.labels().at("room"), "lab");
  EXPECT_EQ(s.reason(), v1::SESSION_REASON_PROGRESS);
  // Disconnect removes it from the state too.
  {
    grpc::ClientContext ctx;
    v1::DisconnectRequest d;
    d.set_address(kDevice);
    v1::DisconnectResponse resp;
    ASSERT_TRUE(sessions->Disconnect(&ctx, d, &resp).ok());
  }
  restart();
  grpc::ClientContext ctx;
  v1::GetSessionRequest g;
  g.set_address(kDevice);
  v1::GetSessionResponse resp;
  EXPECT_EQ(sessions->GetSession(&ctx, g, &resp).error_code(), C::NOT_FOUND);
}

}  // namespace
}  // namespace gattway::testing
