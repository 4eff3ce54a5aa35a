#include "ble/central/session_manager.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

using EventLog = SessionEventLog;

class ASession : public CentralTest {
 protected:
  SessionManager& sessions() { return central->sessions(); }
};

TEST_F(ASession, GoesFromQueuedToConnectedAndSaysSo) {
  EventLog log;
  auto watch = sessions().watch(&log);
  auto s = connect();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state, SessionState::kConnected);
  EXPECT_EQ(s->adapter, "hci0");
  EXPECT_EQ(s->mtu, 247);
  EXPECT_EQ(s->connects, 1u);
  EXPECT_TRUE(s->leaseExpireTime.has_value());
  EXPECT_EQ(log.states(), (std::vector<SessionState>{SessionState::kQueued,
                                                     SessionState::kConnecting,
                                                     SessionState::kResolvingServices,
                                                     SessionState::kConnected}));
  EXPECT_FALSE(log.events[0].previous.has_value());
  EXPECT_EQ(log.events[1].previous, SessionState::kQueued);
  EXPECT_EQ(metrics.connectAttempts[0].value(), 1u);
  EXPECT_EQ(metrics.sessions[static_cast<std::size_t>(SessionStateMetric::kConnected)].value(), 1);
}

TEST_F(ASession, ConnectsByAddressWithoutAPriorScan) {
  EXPECT_EQ(backend.device("hci0", addr(kDevice)), nullptr);
  auto s = connect();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(backend.connected(addr(kDevice)));
}

TEST_F(ASession, ReturnsTheExistingSessionToASecondConnect) {
  auto first = connect();
  ASSERT_TRUE(first.ok());
  ConnectOptions o;
  o.address = addr(kDevice);
  o.labels = {{"room", "kitchen"}};
  auto second = connect(o);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->createTime, first->createTime);
  EXPECT_EQ(second->labels.at("room"), "kitchen");
  EXPECT_EQ(backend.calls(Op::kConnect), 1);
}

TEST_F(ASession, BoundsTheWholeAttemptWithItsTimeoutAndLeavesNoLink) {
  backend.setDelay(Op::kResolve, absl::Seconds(30));
  ConnectOptions o;
  o.address = addr(kDevice);
  o.timeout = absl::Seconds(2);
  auto s = connect(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.status().message().find("RESOLVING_SERVICES"), absl::string_view::npos) << s.status();
  clock.runUntilIdle();
  EXPECT_EQ(sessions().sessionCount(), 0u);
  EXPECT_EQ(backend.calls(Op::kDisconnect), 1);
  EXPECT_FALSE(backend.connected(addr(kDevice)));
  EXPECT_EQ(metrics.connectAttempts[static_cast<std::size_t>(ConnectResult::kTimeout)].value(), 1u);
}

TEST_F(ASession, ReportsAFailedConnectWithTheBluezError) {
  backend.radioDevice(addr(kDevice)).inRange = false;
  auto s = connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::metadata(s.status(), "bluez_error"), "org.bluez.Error.Failed");
  EXPECT_EQ(err::metadata(s.status(), "bluez_message"), "le-connection-abort-by-local");
  EXPECT_EQ(sessions().sessionCount(), 0u);
}

TEST_F(ASession, AnswersAbortedWhenBluezHasAConnectInProgressTheGatewayDidNotStart) {
  // Another client's connect, for all anyone knows yet (adapter_watchdog_test.cc has the answer
  // once the adapter is taken for wedged: UNAVAILABLE).
  backend.failNext(Op::kConnect, err::fromBluez("org.bluez.Error.InProgress",
                                                "Operation already in progress", "connect"));
  auto s = connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(err::reasonOf(s.status()), err::Reason::kInProgress);
  EXPECT_EQ(err::metadata(s.status(), "bluez_error"), "org.bluez.Error.InProgress");
  EXPECT_EQ(metrics.connectAttempts[static_cast<std::size_t>(ConnectResult::kInProgress)].value(),
            1u);
}

TEST_F(ASession, IsRefusedWhenEverySlotIsTakenAndCallerWillNotWait) {
  central->scheduler().setLimit("hci0", 1);
  backend.addDevice(sampleDevice("AA:BB:CC:DD:EE:02"));
  ASSERT_TRUE(connect().ok());
  auto s = connect("AA:BB:CC:DD:EE:02");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(sessions().sessionCount(), 1u);
}

TEST_F(ASession, WaitsForASlotWhenAskedTo) {
  central->scheduler().setLimit("hci0", 1);
  backend.addDevice(sampleDevice("AA:BB:CC:DD:EE:02"));
  ASSERT_TRUE(connect().ok());
  std::optional<absl::StatusOr<SessionInfo>> second;
  ConnectOptions o;
  o.address = addr("AA:BB:CC:DD:EE:02");
  o.waitForSlot = true;
  sessions().connect(o, [&](absl::StatusOr<SessionInfo> r) { second = std::move(r); });
  clock.advance(absl::Seconds(1));
  EXPECT_FALSE(second);
  EXPECT_EQ(sessions().get(o.address)->state, SessionState::kQueued);
  sessions().disconnect(addr(kDevice), [](absl::StatusOr<SessionInfo>) {});
  clock.advance(absl::Seconds(1));
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->ok()) << second->status();
  EXPECT_EQ((*second)->state, SessionState::kConnected);
}

TEST_F(ASession, EndsWhenIdlePastItsLeaseAndClosesTheLink) {
  EventLog log;
  auto watch = sessions().watch(&log);
  ConnectOptions o;
  o.address = addr(kDevice);
  o.idleTimeout = absl::Seconds(30);
  ASSERT_TRUE(connect(o).ok());
  clock.advance(absl::Seconds(20));
  // A GATT call renews the lease.
  ASSERT_TRUE(central->gatt().discover(addr(kDevice), std::nullopt, std::nullopt).ok());
  clock.advance(absl::Seconds(29));
  EXPECT_EQ(sessions().sessionCount(), 1u);
  clock.advance(absl::Seconds(2));
  EXPECT_EQ(sessions().sessionCount(), 0u);
  EXPECT_FALSE(backend.connected(addr(kDevice)));
  ASSERT_GE(log.events.size(), 2u);
  EXPECT_EQ(log.events.back().session.state, SessionState::kRemoved);
  EXPECT_EQ(log.events.back().session.reason, SessionReason::kLeaseExpired);
}

TEST_F(ASession, IsKeptAliveByAHoldAndEndsWhenTheLastHoldGoesAfterTheTimeout) {
  ConnectOptions o;
  o.address = addr(kDevice);
  o.idleTimeout = absl::Seconds(10);
  ASSERT_TRUE(connect(o).ok());
  auto session = sessions().use(addr(kDevice));
  ASSERT_TRUE(session.ok());
  auto hold = sessions().holdLease(*session);
  clock.advance(absl::Minutes(5));
  EXPECT_EQ(sessions().sessionCount(), 1u);
  EXPECT_FALSE(sessions().get(addr(kDevice))->leaseExpireTime.has_value());
  hold.reset();
  clock.runUntilIdle();
  EXPECT_EQ(sessions().sessionCount(), 0u);
}

TEST_F(ASession, EndsWhenItsLinkDropsAndFailsWorkOnIt) {
  ASSERT_TRUE(connect().ok());
  auto session = sessions().use(addr(kDevice));
  std::optional<absl::Status> ended;
  auto watch = sessions().watchLink(*session, [&](const absl::Status& s) { ended = s; });
  backend.dropLink(addr(kDevice));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(*ended), err::Reason::kDisconnected);
  EXPECT_EQ(sessions().sessionCount(), 0u);
}

TEST_F(ASession, AnswersDisconnectOnceTheLinkIsClosed) {
  ASSERT_TRUE(connect().ok());
  backend.setDelay(Op::kDisconnect, absl::Seconds(2));
  std::optional<absl::StatusOr<SessionInfo>> out;
  sessions().disconnect(addr(kDevice), [&](absl::StatusOr<SessionInfo> r) { out = std::move(r); });
  clock.advance(absl::Seconds(1));
  EXPECT_FALSE(out);
  EXPECT_EQ(sessions().get(addr(kDevice)).status().code(), absl::StatusCode::kNotFound);
  clock.advance(absl::Seconds(1));
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->ok());
  EXPECT_EQ((*out)->state, SessionState::kRemoved);
  EXPECT_EQ((*out)->reason, SessionReason::kRequested);
  EXPECT_EQ(central->scheduler().inUse("hci0"), 0u);
}

TEST_F(ASession, CancelsAQueuedConnectOnDisconnect) {
  backend.setDelay(Op::kConnect, absl::Seconds(5));
  std::optional<absl::StatusOr<SessionInfo>> waiting;
  ConnectOptions o;
  o.address = addr(kDevice);
  sessions().connect(o, [&](absl::StatusOr<SessionInfo> r) { waiting = std::move(r); });
  clock.advance(absl::Seconds(1));
  std::optional<absl::StatusOr<SessionInfo>> removed;
  sessions().disconnect(o.address, [&](absl::StatusOr<SessionInfo> r) { removed = std::move(r); });
  clock.advance(absl::Seconds(1));
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(waiting->status()), err::Reason::kSessionEnded);
  ASSERT_TRUE(removed && removed->ok());
  EXPECT_FALSE(backend.connected(o.address));
}

TEST_F(ASession, EndsWhenItsAdapterIsPoweredOffOrBluezLeaves) {
  ASSERT_TRUE(connect().ok());
  backend.setAdapterPowered("hci0", false);
  EXPECT_EQ(sessions().sessionCount(), 0u);
  backend.setAdapterPowered("hci0", true);
  ASSERT_TRUE(connect().ok());
  backend.goDown();
  EXPECT_EQ(sessions().sessionCount(), 0u);
  auto refused = connect();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ASession, PicksTheAdapterWithTheMostFreeSlots) {
  backend.addAdapter("hci1");
  clock.runUntilIdle();
  central->scheduler().setLimit("hci0", 1);
  auto other = sampleDevice("AA:BB:CC:DD:EE:03");
  other.adapter = "hci1";
  backend.addDevice(other);
  auto s = connect("AA:BB:CC:DD:EE:03");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->adapter, "hci1");
}

TEST_F(ASession, RefusesAnUnknownOrUnpoweredAdapter) {
  ConnectOptions o;
  o.address = addr(kDevice);
  o.adapter = "hci5";
  EXPECT_EQ(connect(o).status().code(), absl::StatusCode::kNotFound);
  backend.addAdapter("hci1", false);
  clock.runUntilIdle();
  o.adapter = "hci1";
  EXPECT_EQ(connect(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ASession, ListsSessionsByAddress) {
  backend.addDevice(sampleDevice("AA:BB:CC:DD:EE:00"));
  ASSERT_TRUE(connect().ok());
  ASSERT_TRUE(connect("AA:BB:CC:DD:EE:00").ok());
  auto all = sessions().list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].address, addr("AA:BB:CC:DD:EE:00"));
}

}  // namespace
}  // namespace gattway::testing
