// Subscriptions a policy keeps on its persistent sessions, over the fake backend and the fake
// clock: started on every CONNECTED, restarted after a drop, changed live with the policy, shared
// with Subscribe streams through one notify session, and reported in Session.subscriptions.
#include "ble/central/kept_subscriptions.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

// The sample device's handles (tests/support/fake_central_backend.h).
constexpr std::uint16_t kHeartRate = 0x0010;  // 2A37 in 180D, notify
constexpr std::uint16_t kBattery = 0x0020;    // 2A19 in 180F, read|notify

using Stream = RecordingStream;

PolicySubscription keep(AttributeQuery q, SubscribeMode mode = SubscribeMode::kAuto) {
  return PolicySubscription{std::move(q), mode};
}

class AKeptSubscription : public CentralTest {
 protected:
  SessionManager& sessions() { return central->sessions(); }
  PolicyStore& policies() { return central->policies(); }

  // A policy with a short backoff keeping `subs`.
  static ReconnectPolicy policy(const char* name, std::vector<PolicySubscription> subs) {
    ReconnectPolicy p;
    p.name = name;
    p.reconnect.initialBackoff = absl::Milliseconds(100);
    p.subscriptions = std::move(subs);
    return p;
  }
  void apply(const ReconnectPolicy& p) {
    ASSERT_TRUE(policies().update(p, true, clock.now()).ok());
    clock.runUntilIdle();
  }
  absl::StatusOr<SessionInfo> connectPersistent(std::string policyName = "",
                                                bool persistent = true) {
    ConnectOptions o;
    o.address = addr(kDevice);
    o.persistent = persistent;
    o.policy = std::move(policyName);
    auto s = connect(std::move(o));
    clock.runUntilIdle();
    return s;
  }
  std::vector<KeptSubscriptionInfo> kept() {
    auto s = sessions().get(addr(kDevice));
    return s.ok() ? s->subscriptions : std::vector<KeptSubscriptionInfo>{};
  }
  absl::StatusOr<Subscription> openStream(Stream& stream, AttributeQuery q = charRef(0x2A37)) {
    SubscribeOptions so;
    so.address = addr(kDevice);
    so.characteristic = std::move(q);
    auto sub = central->subscriptions().subscribe(so, &stream);
    clock.runUntilIdle();
    return sub;
  }
  bool notify(std::uint16_t handle, std::uint8_t value) {
    const bool delivered = backend.notify(addr(kDevice), handle, {value});
    clock.runUntilIdle();
    return delivered;
  }
  SessionState state() {
    auto s = sessions().get(addr(kDevice));
    return s.ok() ? s->state : SessionState::kRemoved;
  }
};

TEST_F(AKeptSubscription, IsStartedWhenThePersistentSessionConnects) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  EXPECT_TRUE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_EQ(backend.calls(Op::kStartNotify), 1);
  auto k = kept();
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k[0].subscription.characteristic, charRef(0x2A37));
  EXPECT_TRUE(k[0].active);
  EXPECT_EQ(k[0].detail, "");
}

TEST_F(AKeptSubscription, FollowsThePolicyResolvePolicyPicks) {
  ReconnectPolicy p = policy("by-address", {keep(charRef(0x2A37))});
  p.selector.addresses.push_back(addr(kDevice));
  apply(p);
  ASSERT_TRUE(connectPersistent().ok());  // names no policy
  EXPECT_EQ(sessions().get(addr(kDevice))->policy, "by-address");
  ASSERT_EQ(kept().size(), 1u);
  EXPECT_TRUE(kept()[0].active);
}

TEST_F(AKeptSubscription, ShowsInactiveUntilThereIsALink) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  backend.setDelay(Op::kConnect, absl::Seconds(1));
  ConnectOptions o;
  o.address = addr(kDevice);
  o.persistent = true;
  o.policy = "hr";
  o.noWait = true;
  ASSERT_TRUE(connect(o).ok());
  clock.runUntilIdle();
  ASSERT_NE(state(), SessionState::kConnected);
  auto k = kept();
  ASSERT_EQ(k.size(), 1u);
  EXPECT_FALSE(k[0].active);
  EXPECT_EQ(k[0].detail, "not connected");
  clock.advance(absl::Seconds(2));
  ASSERT_EQ(state(), SessionState::kConnected);
  EXPECT_TRUE(kept()[0].active);
}

TEST_F(AKeptSubscription, IsStartedAgainAfterADropAndReconnect) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  ASSERT_EQ(state(), SessionState::kBackingOff);
  auto k = kept();
  ASSERT_EQ(k.size(), 1u);
  EXPECT_FALSE(k[0].active);
  EXPECT_EQ(k[0].detail, "not connected");
  EXPECT_FALSE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_EQ(central->subscriptions().notifySessionCount(), 0u);
  clock.advance(absl::Seconds(1));
  ASSERT_EQ(state(), SessionState::kConnected);
  clock.runUntilIdle();
  EXPECT_TRUE(kept()[0].active);
  EXPECT_TRUE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_EQ(backend.calls(Op::kStartNotify), 2);
}

TEST_F(AKeptSubscription, ChangesLiveWithThePolicy) {
  apply(policy("hr", {}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  EXPECT_TRUE(kept().empty());
  // Added: started on the connected session.
  apply(policy("hr", {keep(charRef(0x2A37)), keep(charRef(0x2A19, 0x180F))}));
  auto k = kept();
  ASSERT_EQ(k.size(), 2u);
  EXPECT_TRUE(k[0].active && k[1].active);
  EXPECT_TRUE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_TRUE(backend.notifying(addr(kDevice), kBattery));
  // Removed: stopped; the other one stays on, not restarted.
  apply(policy("hr", {keep(charRef(0x2A19, 0x180F))}));
  ASSERT_EQ(kept().size(), 1u);
  EXPECT_FALSE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_TRUE(backend.notifying(addr(kDevice), kBattery));
  EXPECT_EQ(backend.calls(Op::kStartNotify), 2);
  // The policy deleted: the session falls back to the defaults, which keep nothing.
  ASSERT_TRUE(policies().remove("hr").ok());
  clock.runUntilIdle();
  EXPECT_TRUE(kept().empty());
  EXPECT_FALSE(backend.notifying(addr(kDevice), kBattery));
  EXPECT_EQ(central->subscriptions().notifySessionCount(), 0u);
}

TEST_F(AKeptSubscription, IsDroppedWhenTheSessionsPolicyChangesAway) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  apply(policy("battery", {keep(charRef(0x2A19, 0x180F))}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  ASSERT_TRUE(backend.notifying(addr(kDevice), kHeartRate));
  // Connect naming another policy switches the session to it.
  ASSERT_TRUE(connectPersistent("battery").ok());
  EXPECT_EQ(sessions().get(addr(kDevice))->policy, "battery");
  auto k = kept();
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(k[0].subscription.characteristic, charRef(0x2A19, 0x180F));
  EXPECT_TRUE(k[0].active);
  EXPECT_FALSE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_TRUE(backend.notifying(addr(kDevice), kBattery));
}

TEST_F(AKeptSubscription, SaysWhyWhenTheCharacteristicIsNotOnTheDevice) {
  apply(policy("env", {keep(charRef(0x2A6E)), keep(charRef(0x2A19)), keep(charRef(0x2A38))}));
  ASSERT_TRUE(connectPersistent("env").ok());
  auto k = kept();
  ASSERT_EQ(k.size(), 3u);
  for (const auto& s : k) EXPECT_FALSE(s.active);
  EXPECT_NE(k[0].detail.find("2A6E"), std::string::npos) << k[0].detail;
  EXPECT_NE(k[0].detail.find("does not exist on the device"), std::string::npos) << k[0].detail;
  EXPECT_NE(k[1].detail.find("occurs in services"), std::string::npos) << k[1].detail;
  EXPECT_NE(k[2].detail.find("neither notify nor indicate"), std::string::npos) << k[2].detail;
  EXPECT_EQ(backend.calls(Op::kStartNotify), 0);
  EXPECT_EQ(state(), SessionState::kConnected);  // the session itself is fine
}

TEST_F(AKeptSubscription, ReportsBluezRefusalAndTriesAgainOnTheNextLink) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  backend.failNext(Op::kStartNotify, err::fromBluez("org.bluez.Error.NotPermitted",
                                                    "Notify acquired", "StartNotify"));
  ASSERT_TRUE(connectPersistent("hr").ok());
  auto k = kept();
  ASSERT_EQ(k.size(), 1u);
  EXPECT_FALSE(k[0].active);
  EXPECT_NE(k[0].detail.find("Notify acquired"), std::string::npos) << k[0].detail;
  backend.dropLink(addr(kDevice));
  clock.advance(absl::Seconds(1));
  ASSERT_EQ(state(), SessionState::kConnected);
  clock.runUntilIdle();
  EXPECT_TRUE(kept()[0].active);
}

TEST_F(AKeptSubscription, SharesOneNotifySessionWithAStreamOpenedLater) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  // No stream: values are counted and dropped.
  ASSERT_TRUE(notify(kHeartRate, 1));
  EXPECT_EQ(metrics.notificationsUnclaimed.value(), 1u);
  Stream stream;
  auto sub = openStream(stream);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(backend.calls(Op::kStartNotify), 1);  // joined, no second StartNotify
  ASSERT_TRUE(notify(kHeartRate, 2));
  EXPECT_EQ(stream.log, (std::vector<std::string>{"started", "value 2"}));
  EXPECT_EQ(metrics.notificationsUnclaimed.value(), 1u);
  // The stream ends: the kept subscription stays on.
  sub->reset();
  clock.runUntilIdle();
  EXPECT_EQ(backend.calls(Op::kStopNotify), 0);
  EXPECT_TRUE(backend.notifying(addr(kDevice), kHeartRate));
  EXPECT_TRUE(kept()[0].active);
  ASSERT_TRUE(notify(kHeartRate, 3));
  EXPECT_EQ(metrics.notificationsUnclaimed.value(), 2u);
}

TEST_F(AKeptSubscription, LeavesAStreamOnWhenThePolicyStopsKeepingIt) {
  Stream stream;
  ASSERT_TRUE(connectPersistent().ok());
  auto sub = openStream(stream);
  ASSERT_TRUE(sub.ok());
  apply(policy("hr", {keep(charRef(0x2A37))}));  // the catch-all now applies to the session
  ASSERT_EQ(kept().size(), 1u);
  EXPECT_TRUE(kept()[0].active);
  EXPECT_EQ(backend.calls(Op::kStartNotify), 1);
  apply(policy("hr", {}));
  EXPECT_TRUE(kept().empty());
  EXPECT_TRUE(backend.notifying(addr(kDevice), kHeartRate));
  ASSERT_TRUE(notify(kHeartRate, 7));
  EXPECT_EQ(stream.log.back(), "value 7");
  // And the stream alone still stops it when it ends.
  sub->reset();
  clock.runUntilIdle();
  EXPECT_FALSE(backend.notifying(addr(kDevice), kHeartRate));
}

TEST_F(AKeptSubscription, AndAStreamComeBackTogetherAfterADrop) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  Stream stream;
  auto sub = openStream(stream);
  ASSERT_TRUE(sub.ok());
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  EXPECT_FALSE(kept()[0].active);
  clock.advance(absl::Seconds(1));
  ASSERT_EQ(state(), SessionState::kConnected);
  clock.runUntilIdle();
  EXPECT_TRUE(kept()[0].active);
  EXPECT_EQ(backend.calls(Op::kStartNotify), 2);  // one per link, shared
  ASSERT_TRUE(notify(kHeartRate, 9));
  EXPECT_EQ(stream.log, (std::vector<std::string>{"started", "interrupted", "resumed", "value 9"}));
  EXPECT_EQ(central->subscriptions().notifySessionCount(), 1u);
}

TEST_F(AKeptSubscription, IsNotKeptOnAnEphemeralSessionAndHoldsNoLease) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  ConnectOptions o;
  o.address = addr(kDevice);
  o.policy = "hr";
  o.idleTimeout = absl::Seconds(5);
  ASSERT_TRUE(connect(o).ok());
  clock.runUntilIdle();
  EXPECT_TRUE(kept().empty());
  EXPECT_EQ(backend.calls(Op::kStartNotify), 0);
  clock.advance(absl::Seconds(10));
  EXPECT_EQ(state(), SessionState::kRemoved);  // the lease expired as usual
}

TEST_F(AKeptSubscription, ChangingItsActiveStateIsASessionEvent) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  SessionEventLog log;
  auto watch = sessions().watch(&log);
  ASSERT_TRUE(connectPersistent("hr").ok());
  // The CONNECTED event, then one with the same state once notifications are on.
  const SessionEvent* connected = nullptr;
  const SessionEvent* active = nullptr;
  for (const auto& e : log.events) {
    if (e.session.state != SessionState::kConnected) continue;
    if (e.previous == SessionState::kResolvingServices) connected = &e;
    if (e.previous == SessionState::kConnected) active = &e;
  }
  ASSERT_NE(connected, nullptr);
  ASSERT_NE(active, nullptr);
  EXPECT_LT(connected, active);
  ASSERT_EQ(connected->session.subscriptions.size(), 1u);
  EXPECT_FALSE(connected->session.subscriptions[0].active);
  EXPECT_EQ(connected->session.subscriptions[0].detail, "enabling notifications");
  EXPECT_TRUE(active->session.subscriptions[0].active);
  EXPECT_EQ(active->session.reason, SessionReason::kProgress);
  // The drop is told by the DISCONNECTED event itself: already inactive there.
  log.events.clear();
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  ASSERT_FALSE(log.events.empty());
  EXPECT_EQ(log.events[0].session.state, SessionState::kDisconnected);
  EXPECT_FALSE(log.events[0].session.subscriptions[0].active);
  for (const auto& e : log.events) EXPECT_NE(e.previous, e.session.state);
}

TEST_F(AKeptSubscription, EndsWithTheSession) {
  apply(policy("hr", {keep(charRef(0x2A37))}));
  ASSERT_TRUE(connectPersistent("hr").ok());
  sessions().disconnect(addr(kDevice), [](absl::StatusOr<SessionInfo>) {});
  clock.advance(absl::Seconds(15));
  EXPECT_EQ(state(), SessionState::kRemoved);
  EXPECT_EQ(central->keptSubscriptions().size(), 0u);
  EXPECT_EQ(central->subscriptions().notifySessionCount(), 0u);
  EXPECT_FALSE(backend.notifying(addr(kDevice), kHeartRate));
}

}  // namespace
}  // namespace gattway::testing
