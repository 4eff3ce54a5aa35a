// The adapter watchdog over the fake backend and the fake clock: the recovery ladder (restart
// discovery, then power cycle), its rate bound, no false alarm for a quiet healthy adapter nor for
// an InProgress streak another client's connect could explain, and what callers see meanwhile.
#include "ble/central/adapter_watchdog.h"

#include "ble/central/scan_hub.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

class AnAdapterWatchdog : public CentralTest {
 protected:
  AnAdapterWatchdog() { restart(WatchdogOptions{}); }

  // A new Central with these watchdog options.
  void restart(WatchdogOptions options) {
    central.reset();
    clock.runUntilIdle();
    central = std::make_unique<Central>(clock, backend, metrics, options);
    central->start();
    clock.runUntilIdle();
  }
  ScanSubscription scan(RecordingSink& sink) {
    ScanOptions o;
    o.filter.normalize();
    auto s = central->scanHub().subscribe(std::move(o), &sink);
    EXPECT_TRUE(s.ok()) << s.status();
    clock.runUntilIdle();
    return s.ok() ? std::move(*s) : ScanSubscription();
  }
  std::uint64_t wedges(WedgeKind k) const {
    return metrics.adapterWedged[static_cast<std::size_t>(k)].value();
  }
  std::uint64_t steps(RecoveryStep s) const {
    return metrics.adapterRecoveries[static_cast<std::size_t>(s)].value();
  }
  bool powered() const { return backend.adapters().front().powered; }
  SessionState state(const char* address = kDevice) {
    auto s = central->sessions().get(addr(address));
    return s.ok() ? s->state : SessionState::kRemoved;
  }
  // Runs the clock (up to 2 minutes: a wedge takes the span, and the session's backoff grows
  // meanwhile) until the session is CONNECTED.
  void untilConnected() {
    for (int i = 0; i < 240 && state() != SessionState::kConnected; ++i) {
      clock.advance(absl::Milliseconds(500));
    }
  }
  void connectPersistent(const char* address) {
    ConnectOptions o;
    o.address = addr(address);
    o.persistent = true;
    o.noWait = true;
    ASSERT_TRUE(connect(std::move(o)).ok());
  }
};

TEST_F(AnAdapterWatchdog, RestartsADiscoveryThatNeverTurnsDiscoveringOnThenPowerCyclesTheAdapter) {
  backend.wedgeDiscovery("hci0");
  RecordingSink sink;
  auto sub = scan(sink);
  ASSERT_EQ(backend.calls(Op::kStartDiscovery), 1);
  // Within the bound nothing happens.
  clock.advance(absl::Seconds(8));
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 0u);
  // Step 1: stop and start discovery.
  clock.advance(absl::Seconds(4));
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 1u);
  EXPECT_EQ(steps(RecoveryStep::kRestartDiscovery), 1u);
  EXPECT_EQ(backend.calls(Op::kStopDiscovery), 1);
  EXPECT_EQ(backend.calls(Op::kStartDiscovery), 2);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
  // Still wedged: step 2, a power cycle (off, then on), which cures the fake's wedge.
  clock.advance(absl::Seconds(12));
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 2u);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 2);
  EXPECT_TRUE(powered());
  // The Scan subscription carried on through the power cycle, discovery is back, reports flow.
  EXPECT_FALSE(sink.ended.has_value());
  EXPECT_TRUE(backend.adapters().front().discovering);
  backend.advertise(addr(kDevice), -50);
  clock.runUntilIdle();
  EXPECT_FALSE(sink.results.empty());
  // Healthy now: no further step.
  clock.advance(absl::Minutes(5));
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 2u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 2);
}

TEST_F(AnAdapterWatchdog, StopsAtTheDiscoveryRestartWhenThatCuresIt) {
  backend.wedgeDiscovery("hci0");
  RecordingSink sink;
  auto sub = scan(sink);
  clock.advance(absl::Seconds(11));
  ASSERT_EQ(steps(RecoveryStep::kRestartDiscovery), 1u);
  backend.wedgeDiscovery("hci0", false);  // the restart worked
  clock.advance(absl::Minutes(5));
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 1u);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 0u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
  EXPECT_TRUE(backend.adapters().front().discovering);
}

TEST_F(AnAdapterWatchdog, LeavesAQuietHealthyAdapterAlone) {
  // Discovering, and an empty room: no report for an hour is no wedge.
  RecordingSink sink;
  auto sub = scan(sink);
  clock.advance(absl::Hours(1));
  EXPECT_TRUE(sink.results.empty());
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 0u);
  EXPECT_EQ(backend.calls(Op::kStopDiscovery), 0);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
}

TEST_F(AnAdapterWatchdog, IgnoresAnAdapterThatIsNotDiscoveringForTheGateway) {
  backend.wedgeDiscovery("hci0");
  clock.advance(absl::Hours(1));
  EXPECT_EQ(wedges(WedgeKind::kDiscovery), 0u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
}

TEST_F(AnAdapterWatchdog, PowerCyclesAnAdapterWhoseConnectsFailWithInProgressForLongerThanTheSpan) {
  backend.wedgeConnects("hci0");
  SessionEventLog log;
  auto watch = central->sessions().watch(&log);
  connectPersistent(kDevice);
  // Another client's connect could hold the adapter this long: no wedge yet, the session keeps
  // trying, backing off as after failed attempts (1, 2, 4, 8 s less jitter: not 25 tries).
  clock.advance(absl::Seconds(25));
  const auto inProgress = [&] {
    return metrics.connectAttempts[static_cast<std::size_t>(ConnectResult::kInProgress)].value();
  };
  EXPECT_GE(inProgress(), 3u);
  EXPECT_LE(inProgress(), 6u);
  EXPECT_EQ(wedges(WedgeKind::kConnect), 0u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
  untilConnected();
  EXPECT_EQ(state(), SessionState::kConnected);
  EXPECT_EQ(wedges(WedgeKind::kConnect), 1u);
  // Not discovering: straight to the power cycle.
  EXPECT_EQ(steps(RecoveryStep::kRestartDiscovery), 0u);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
  // Before the wedge was declared the failures were BlueZ's answer (CONNECT_FAILED); the one that
  // declared it is the watchdog's; none counted against the policy.
  int busy = 0;
  int watchdog = 0;
  for (const auto& e : log.events) {
    EXPECT_EQ(e.session.failedAttempts, 0u);
    if (e.session.state != SessionState::kDisconnected) continue;
    busy += e.session.reason == SessionReason::kConnectFailed ? 1 : 0;
    watchdog += e.session.reason == SessionReason::kWatchdog ? 1 : 0;
    EXPECT_TRUE(e.session.reason == SessionReason::kConnectFailed ||
                e.session.reason == SessionReason::kWatchdog ||
                e.session.reason == SessionReason::kAdapterOff)
        << e.session.detail;
  }
  EXPECT_EQ(watchdog, 1);
  EXPECT_EQ(static_cast<std::uint64_t>(busy + watchdog), inProgress());
}

TEST_F(AnAdapterWatchdog, TakesAnInProgressStreakShorterThanTheSpanForAnotherClientsConnect) {
  backend.wedgeConnects("hci0");
  connectPersistent(kDevice);
  clock.advance(absl::Seconds(20));  // the kernel's LE connect timeout
  EXPECT_GE(metrics.connectAttempts[static_cast<std::size_t>(ConnectResult::kInProgress)].value(),
            3u);
  backend.wedgeConnects("hci0", false);  // the other client's connect ended
  untilConnected();
  EXPECT_EQ(state(), SessionState::kConnected);
  EXPECT_EQ(wedges(WedgeKind::kConnect), 0u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
  // A success ends the streak: the next one starts from nothing.
  backend.wedgeConnects("hci0");
  backend.dropLink(addr(kDevice));
  clock.advance(absl::Seconds(20));
  EXPECT_EQ(wedges(WedgeKind::kConnect), 0u);
}

TEST_F(AnAdapterWatchdog, ShowsCallersInProgressUntilTheAdapterIsTakenForWedged) {
  backend.wedgeConnects("hci0");
  const auto connectOnce = [&] {
    ConnectOptions o;
    o.address = addr(kDevice);
    return connect(std::move(o));
  };
  // Within the span it may be another client's connect: callers get BlueZ's answer.
  for (int i = 0; i < 3; ++i) {
    auto s = connectOnce();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kAborted) << s.status();
    EXPECT_EQ(err::reasonOf(s.status()), err::Reason::kInProgress);
    clock.advance(absl::Seconds(14));
  }
  EXPECT_EQ(wedges(WedgeKind::kConnect), 0u);
  // 42 s after the first, still refused: the watchdog's.
  auto s = connectOnce();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  EXPECT_EQ(err::reasonOf(s.status()), err::Reason::kBluezError);
  EXPECT_EQ(err::metadata(s.status(), "bluez_error"), "org.bluez.Error.InProgress");
  EXPECT_EQ(err::metadata(s.status(), "adapter"), "hci0");
  EXPECT_EQ(wedges(WedgeKind::kConnect), 1u);
}

TEST_F(AnAdapterWatchdog, PowerCyclesAtMostOncePerInterval) {
  WatchdogOptions o;
  o.minPowerCycleInterval = absl::Minutes(10);
  restart(o);
  backend.wedgeConnects("hci0");
  connectPersistent(kDevice);
  untilConnected();
  ASSERT_EQ(state(), SessionState::kConnected);
  ASSERT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
  // Wedged again at once: the cycle waits for the bound, the session keeps trying meanwhile.
  backend.wedgeConnects("hci0");
  backend.dropLink(addr(kDevice));
  clock.advance(absl::Minutes(1));
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
  EXPECT_GE(steps(RecoveryStep::kPowerCycleDeferred), 1u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 2);
  EXPECT_NE(state(), SessionState::kConnected);
  for (int i = 0; i < 1200 && state() != SessionState::kConnected; ++i) {
    clock.advance(absl::Seconds(1));
  }
  EXPECT_EQ(state(), SessionState::kConnected);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 2u);
  EXPECT_EQ(backend.calls(Op::kSetPowered), 4);
}

TEST_F(AnAdapterWatchdog, BringsSessionsBackOneConnectAtATimeAfterItsPowerCycle) {
  std::vector<std::string> devices;
  for (int i = 2; i < 2 + static_cast<int>(ConnectScheduler::kDefaultSlotLimit); ++i) {
    devices.push_back(absl::StrCat("AA:BB:CC:DD:EE:0", i));
    backend.addDevice(sampleDevice(devices.back().c_str()));
  }
  for (const auto& d : devices) connectPersistent(d.c_str());
  clock.advance(absl::Seconds(5));
  for (const auto& d : devices) ASSERT_EQ(state(d.c_str()), SessionState::kConnected) << d;
  backend.wedgeConnects("hci0");
  backend.dropLink(addr(devices[0].c_str()));
  for (int i = 0; i < 200 && steps(RecoveryStep::kPowerCycle) == 0; ++i) {
    clock.advance(absl::Milliseconds(500));
  }
  ASSERT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
  clock.advance(absl::Seconds(30));
  for (const auto& d : devices) EXPECT_EQ(state(d.c_str()), SessionState::kConnected) << d;
  EXPECT_EQ(central->scheduler().maxInFlight(), 1u);
}

TEST_F(AnAdapterWatchdog, WhenOffLeavesInProgressToTheCaller) {
  WatchdogOptions o;
  o.enabled = false;
  restart(o);
  backend.wedgeConnects("hci0");
  auto s = connect();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(err::reasonOf(s.status()), err::Reason::kInProgress);
  clock.advance(absl::Hours(1));
  EXPECT_EQ(backend.calls(Op::kSetPowered), 0);
}

TEST_F(AnAdapterWatchdog, TakesTimeoutsToManyDevicesAsAWedgeOnlyWhenAskedTo) {
  // Absent devices time out: by default that is no sign.
  std::vector<std::string> devices;
  for (int i = 2; i < 6; ++i) {
    devices.push_back(absl::StrCat("AA:BB:CC:DD:EE:0", i));
    backend.addDevice(sampleDevice(devices.back().c_str()));
  }
  backend.hangNext(Op::kConnect, 100);
  for (const auto& d : devices) {
    ConnectOptions o;
    o.address = addr(d.c_str());
    o.timeout = absl::Seconds(1);
    EXPECT_EQ(connect(std::move(o)).status().code(), absl::StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(wedges(WedgeKind::kConnect), 0u);
  WatchdogOptions opts;
  opts.timeoutFailures = 3;
  restart(opts);
  for (const auto& d : devices) {
    ConnectOptions o;
    o.address = addr(d.c_str());
    o.timeout = absl::Seconds(1);
    (void)connect(std::move(o));
  }
  EXPECT_EQ(wedges(WedgeKind::kConnect), 1u);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
}

}  // namespace
}  // namespace gattway::testing
