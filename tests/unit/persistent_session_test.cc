// Persistent sessions over the fake backend and the fake clock: reconnect after drops by the
// policy's backoff, give up by its max_attempts, wait for the adapter and BlueZ, keep Subscribe
// streams across the gap.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ble/central/session_manager.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

using EventLog = SessionEventLog;

using Stream = RecordingStream;

class APersistentSession : public CentralTest {
 protected:
  SessionManager& sessions() { return central->sessions(); }

  ReconnectPolicy policy(const char* name, ReconnectSettings r = {}, int priority = 0) {
    ReconnectPolicy p;
    p.name = name;
    p.reconnect = r;
    p.priority = priority;
    return p;
  }
  absl::StatusOr<SessionInfo> connectPersistent(const char* address = kDevice,
                                                std::string policyName = "") {
    ConnectOptions o;
    o.address = addr(address);
    o.persistent = true;
    o.policy = std::move(policyName);
    return connect(std::move(o));
  }
  // The device goes out of range and its link drops: every attempt fails from now on.
  void loseTheDevice() {
    backend.radioDevice(addr(kDevice)).inRange = false;
    backend.dropLink(addr(kDevice));
  }
  // A session under a policy that gives up after `maxAttempts` (100 ms apart), whose device is
  // then lost.
  void keepThenLose(const char* name, std::uint32_t maxAttempts,
                    GiveUpAction action = GiveUpAction::kKeep,
                    absl::Duration cooldown = absl::Hours(1)) {
    ReconnectSettings r;
    r.initialBackoff = absl::Milliseconds(100);
    r.maxAttempts = maxAttempts;
    r.onGiveUp = action;
    r.giveUpCooldown = cooldown;
    ASSERT_TRUE(central->policies().create(policy(name, r), clock.now()).ok());
    ASSERT_TRUE(connectPersistent(kDevice, name).ok());
    loseTheDevice();
  }
  absl::StatusOr<Subscription> subscribeHeartRate(Stream& stream) {
    SubscribeOptions so;
    so.address = addr(kDevice);
    so.characteristic = charRef(0x2A37);
    return central->subscriptions().subscribe(so, &stream);
  }
  SessionState state(const char* address = kDevice) {
    auto s = sessions().get(addr(address));
    return s.ok() ? s->state : SessionState::kRemoved;
  }
};

TEST_F(APersistentSession, ReconnectsAfterTheLinkDropsByWayOfBackingOff) {
  EventLog log;
  auto watch = sessions().watch(&log);
  ASSERT_TRUE(connectPersistent().ok());
  log.events.clear();
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  ASSERT_EQ(state(), SessionState::kBackingOff);
  auto s = sessions().get(addr(kDevice));
  ASSERT_TRUE(s->nextAttemptTime.has_value());
  // The default policy: 1 s less up to 20 % jitter.
  EXPECT_GE(*s->nextAttemptTime - clock.now(), absl::Milliseconds(800));
  EXPECT_LE(*s->nextAttemptTime - clock.now(), absl::Seconds(1));
  clock.advance(absl::Seconds(2));
  EXPECT_EQ(state(), SessionState::kConnected);
  EXPECT_EQ(log.states(), (std::vector<SessionState>{
                              SessionState::kDisconnected, SessionState::kBackingOff,
                              SessionState::kQueued, SessionState::kConnecting,
                              SessionState::kResolvingServices, SessionState::kConnected}));
  EXPECT_EQ(log.events[0].session.reason, SessionReason::kLinkLost);
  EXPECT_EQ(sessions().get(addr(kDevice))->connects, 2u);
  EXPECT_EQ(metrics.reconnects.value(), 1u);
}

TEST_F(APersistentSession, HasNoLease) {
  ConnectOptions o;
  o.address = addr(kDevice);
  o.persistent = true;
  o.idleTimeout = absl::Seconds(1);
  ASSERT_TRUE(connect(o).ok());
  clock.advance(absl::Minutes(5));
  EXPECT_EQ(state(), SessionState::kConnected);
  EXPECT_FALSE(sessions().get(addr(kDevice))->leaseExpireTime.has_value());
}

TEST_F(APersistentSession, BacksOffExponentiallyWithinTheJitterBounds) {
  ReconnectSettings r;
  r.initialBackoff = absl::Seconds(1);
  r.maxBackoff = absl::Seconds(8);
  r.multiplier = 2.0;
  r.jitter = 0.25;
  ASSERT_TRUE(central->policies().create(policy("fast", r), clock.now()).ok());
  ASSERT_TRUE(connectPersistent(kDevice, "fast").ok());
  loseTheDevice();
  clock.runUntilIdle();
  // Drop, then failed attempts 1..5: waits of 1, 1, 2, 4, 8, 8 s, each less up to 25 %.
  const double expected[] = {1, 1, 2, 4, 8, 8};
  for (double base : expected) {
    auto s = sessions().get(addr(kDevice));
    ASSERT_EQ(s->state, SessionState::kBackingOff) << base;
    const double wait = absl::ToDoubleSeconds(*s->nextAttemptTime - clock.now());
    EXPECT_LE(wait, base);
    EXPECT_GE(wait, base * 0.75);
    // Let the attempt run and fail (the device is out of range).
    clock.advance(*s->nextAttemptTime - clock.now());
    for (int i = 0; i < 200 && state() != SessionState::kBackingOff; ++i) {
      clock.advance(absl::Milliseconds(100));
    }
  }
  EXPECT_EQ(sessions().get(addr(kDevice))->failedAttempts, 6u);
}

TEST_F(APersistentSession, GivesUpAfterMaxAttemptsAndStaysUntilAConnect) {
  keepThenLose("three", 3);
  clock.advance(absl::Seconds(120));
  auto s = sessions().get(addr(kDevice));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, SessionState::kGaveUp);
  EXPECT_EQ(s->reason, SessionReason::kMaxAttempts);
  EXPECT_EQ(s->failedAttempts, 3u);
  EXPECT_NE(s->detail.find("gave up after 3 failed attempts"), std::string::npos) << s->detail;
  EXPECT_EQ(backend.calls(Op::kConnect), 4);  // the first link and three attempts
  EXPECT_EQ(metrics.giveUps.value(), 1u);
  // It stays given up...
  clock.advance(absl::Minutes(10));
  EXPECT_EQ(state(), SessionState::kGaveUp);
  // ...until a Connect.
  backend.radioDevice(addr(kDevice)).inRange = true;
  auto again = connectPersistent(kDevice);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state, SessionState::kConnected);
}

TEST_F(APersistentSession, IsRemovedOnGivingUpWhenThePolicySaysSo) {
  EventLog log;
  auto watch = sessions().watch(&log);
  keepThenLose("once", 1, GiveUpAction::kRemove);
  clock.advance(absl::Seconds(60));
  EXPECT_EQ(state(), SessionState::kRemoved);
  ASSERT_NE(log.last(SessionState::kRemoved), nullptr);
  EXPECT_EQ(log.last(SessionState::kRemoved)->session.reason, SessionReason::kMaxAttempts);
}

TEST_F(APersistentSession, StartsCountingAfreshAfterTheCoolDown) {
  keepThenLose("rest", 1, GiveUpAction::kCoolDown, absl::Minutes(1));
  clock.advance(absl::Seconds(20));
  ASSERT_EQ(state(), SessionState::kGaveUp);
  EXPECT_TRUE(sessions().get(addr(kDevice))->nextAttemptTime.has_value());
  backend.radioDevice(addr(kDevice)).inRange = true;
  clock.advance(absl::Seconds(50));
  EXPECT_EQ(state(), SessionState::kConnected);
}

TEST_F(APersistentSession, KeepsTryingAfterAFailedFirstAttemptAndTellsTheCallerWhy) {
  backend.failNext(Op::kConnect, absl::UnavailableError("org.bluez.Error.Failed: le-connection-abort-by-local"));
  auto first = connectPersistent();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(state(), SessionState::kBackingOff);
  EXPECT_EQ(sessions().get(addr(kDevice))->reason, SessionReason::kConnectFailed);
  clock.advance(absl::Seconds(3));
  EXPECT_EQ(state(), SessionState::kConnected);
}

TEST_F(APersistentSession, WaitsWhileTheAdapterIsOffAndResumesOnPower) {
  ASSERT_TRUE(connectPersistent().ok());
  backend.setAdapterPowered("hci0", false);
  clock.runUntilIdle();
  ASSERT_EQ(state(), SessionState::kWaitingForAdapter);
  EXPECT_EQ(sessions().get(addr(kDevice))->reason, SessionReason::kAdapterOff);
  clock.advance(absl::Minutes(5));
  EXPECT_EQ(state(), SessionState::kWaitingForAdapter);
  EXPECT_EQ(backend.calls(Op::kConnect), 1);
  backend.setAdapterPowered("hci0", true);
  clock.advance(absl::Seconds(2));
  EXPECT_EQ(state(), SessionState::kConnected);
}

TEST_F(APersistentSession, WaitsWhileBluezIsGoneAndResumesWhenItComesBack) {
  ASSERT_TRUE(connectPersistent().ok());
  backend.goDown();
  clock.runUntilIdle();
  ASSERT_EQ(state(), SessionState::kWaitingForAdapter);
  EXPECT_EQ(sessions().get(addr(kDevice))->reason, SessionReason::kBluezDown);
  backend.comeUp();
  clock.advance(absl::Seconds(2));
  EXPECT_EQ(state(), SessionState::kConnected);
}

TEST_F(APersistentSession, SpreadsOverAdaptersThatComeBackOneByOne) {
  // Sessions coming back all queue on the first adapter BlueZ reports; the next one to appear
  // takes half of them (each adapter connects one at a time), although the first has room.
  backend.addAdapter("hci1", false);
  std::vector<std::string> addresses;
  for (int i = 0; i < 6; ++i) {
    addresses.push_back(absl::StrCat("AA:BB:CC:DD:EE:1", i));
    backend.addDevice(sampleDevice(addresses.back()));
  }
  backend.setAdapterPowered("hci0", false);
  clock.runUntilIdle();
  for (const auto& a : addresses) {
    ConnectOptions o;
    o.address = addr(a.c_str());
    o.persistent = true;
    o.noWait = true;
    ASSERT_TRUE(connect(o).ok());
  }
  backend.setAdapterPowered("hci0", true);   // all six queue here, held for the settling time
  backend.setAdapterPowered("hci1", true);
  std::map<std::string, int> queuedOn;
  for (const auto& a : addresses) {
    auto s = sessions().get(addr(a.c_str()));
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->state, SessionState::kQueued);
    ++queuedOn[s->adapter];
  }
  EXPECT_EQ(queuedOn["hci0"], 3);
  EXPECT_EQ(queuedOn["hci1"], 3);
}

TEST_F(APersistentSession, IsKeptWhenCreatedWhileBluezIsDown) {
  backend.goDown();
  clock.runUntilIdle();
  ConnectOptions o;
  o.address = addr(kDevice);
  o.persistent = true;
  o.noWait = true;
  auto s = connect(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state, SessionState::kWaitingForAdapter);
  backend.comeUp();
  clock.advance(absl::Seconds(2));
  EXPECT_EQ(state(), SessionState::kConnected);
}

TEST_F(APersistentSession, EndsOnlyOnDisconnect) {
  EventLog log;
  auto watch = sessions().watch(&log);
  ASSERT_TRUE(connectPersistent().ok());
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  ASSERT_EQ(state(), SessionState::kBackingOff);
  std::optional<absl::StatusOr<SessionInfo>> removed;
  sessions().disconnect(addr(kDevice), [&](absl::StatusOr<SessionInfo> s) { removed = s; });
  clock.advance(absl::Seconds(30));
  ASSERT_TRUE(removed && removed->ok());
  EXPECT_EQ((*removed)->state, SessionState::kRemoved);
  EXPECT_EQ(state(), SessionState::kRemoved);
  EXPECT_EQ(backend.calls(Op::kConnect), 1);  // the backoff was cancelled
}

TEST_F(APersistentSession, TakesItsPriorityFromItsPolicyUnlessGivenOne) {
  ASSERT_TRUE(central->policies().create(policy("cams", {}, 50), clock.now()).ok());
  auto s = connectPersistent(kDevice, "cams");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->priority, 50);
  EXPECT_EQ(s->policy, "cams");
}

TEST_F(APersistentSession, RefusesAnUnknownPolicy) {
  auto s = connectPersistent(kDevice, "nope");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(state(), SessionState::kRemoved);
}

TEST_F(APersistentSession, KeepsSubscribeStreamsAcrossTheGapAndSaysHowLongItWas) {
  ASSERT_TRUE(connectPersistent().ok());
  Stream stream;
  auto sub = subscribeHeartRate(stream);
  ASSERT_TRUE(sub.ok()) << sub.status();
  clock.runUntilIdle();
  ASSERT_TRUE(backend.notify(addr(kDevice), 0x0010, {1}));
  clock.runUntilIdle();
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  EXPECT_FALSE(backend.notify(addr(kDevice), 0x0010, {2}));
  clock.advance(absl::Seconds(3));
  ASSERT_EQ(state(), SessionState::kConnected);
  clock.runUntilIdle();
  ASSERT_TRUE(backend.notify(addr(kDevice), 0x0010, {3}));
  clock.runUntilIdle();
  EXPECT_EQ(stream.log, (std::vector<std::string>{"started", "value 1", "interrupted", "resumed",
                                                  "value 3"}));
  EXPECT_GE(stream.interruption, absl::Milliseconds(800));
  EXPECT_LE(stream.interruption, absl::Seconds(3));
  // Disconnect ends it.
  sessions().disconnect(addr(kDevice), [](absl::StatusOr<SessionInfo>) {});
  clock.advance(absl::Seconds(15));
  EXPECT_EQ(stream.log.back(), "ended UNAVAILABLE");
}

TEST_F(APersistentSession, EndsInterruptedStreamsWhenRemoved) {
  ASSERT_TRUE(connectPersistent().ok());
  Stream stream;
  auto sub = subscribeHeartRate(stream);
  ASSERT_TRUE(sub.ok());
  clock.runUntilIdle();
  backend.dropLink(addr(kDevice));
  clock.runUntilIdle();
  ASSERT_EQ(stream.log.back(), "interrupted");
  sessions().disconnect(addr(kDevice), [](absl::StatusOr<SessionInfo>) {});
  clock.runUntilIdle();
  EXPECT_EQ(stream.log.back(), "ended UNAVAILABLE");
  EXPECT_EQ(central->subscriptions().notifySessionCount(), 0u);
}

TEST_F(APersistentSession, ComesBackAfterAPolicyChangeWhenItHadGivenUp) {
  keepThenLose("p", 1);
  clock.advance(absl::Seconds(20));
  ASSERT_EQ(state(), SessionState::kGaveUp);
  backend.radioDevice(addr(kDevice)).inRange = true;
  ReconnectSettings r;
  r.maxAttempts = 0;
  ASSERT_TRUE(central->policies().update(policy("p", r), false, clock.now()).ok());
  clock.advance(absl::Seconds(2));
  EXPECT_EQ(state(), SessionState::kConnected);
}

}  // namespace
}  // namespace gattway::testing
