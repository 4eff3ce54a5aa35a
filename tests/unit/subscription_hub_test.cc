#include "ble/central/subscription_hub.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

struct Values : NotificationSink {
  void onSubscribed(const SubscriptionStarted& s) override { started = s; }
  void onNotification(absl::Span<const std::uint8_t> v, absl::Time) override {
    values.emplace_back(v.begin(), v.end());
  }
  void onSubscriptionEnded(const absl::Status& s) override { ended = s; }
  std::optional<SubscriptionStarted> started;
  std::vector<std::vector<std::uint8_t>> values;
  std::optional<absl::Status> ended;
};

class ASubscriptionHub : public CentralTest {
 protected:
  ASubscriptionHub() { EXPECT_TRUE(connect().ok()); }
  Subscription subscribe(Values& sink, AttributeQuery q = charRef(0x2A37),
                         SubscribeMode mode = SubscribeMode::kAuto, bool acquire = false) {
    SubscribeOptions o;
    o.address = addr(kDevice);
    o.characteristic = q;
    o.mode = mode;
    o.acquire = acquire;
    auto s = central->subscriptions().subscribe(o, &sink);
    EXPECT_TRUE(s.ok()) << s.status();
    clock.runUntilIdle();
    return s.ok() ? std::move(*s) : Subscription();
  }
  absl::Status refusal(AttributeQuery q, SubscribeMode mode, bool acquire = false) {
    SubscribeOptions o;
    o.address = addr(kDevice);
    o.characteristic = q;
    o.mode = mode;
    o.acquire = acquire;
    Values sink;
    return central->subscriptions().subscribe(o, &sink).status();
  }
};

TEST_F(ASubscriptionHub, SharesOneNotifySessionBetweenStreamsAndFansValuesOut) {
  Values a, b;
  auto sa = subscribe(a);
  auto sb = subscribe(b);
  EXPECT_EQ(backend.calls(Op::kStartNotify), 1);
  ASSERT_TRUE(a.started && b.started);
  EXPECT_EQ(a.started->method, NotifyMethod::kStartNotify);
  ASSERT_TRUE(backend.notify(addr(kDevice), 0x0010, {0x06, 0x48}));
  EXPECT_EQ(a.values.size(), 1u);
  EXPECT_EQ(b.values, a.values);
  EXPECT_EQ(metrics.notificationsReceived.value(), 1u);
}

TEST_F(ASubscriptionHub, StopsNotifyWhenTheLastStreamLeaves) {
  Values a, b;
  auto sa = subscribe(a);
  auto sb = subscribe(b);
  sa.reset();
  clock.runUntilIdle();
  EXPECT_TRUE(backend.notifying(addr(kDevice), 0x0010));
  sb.reset();
  clock.runUntilIdle();
  EXPECT_FALSE(backend.notifying(addr(kDevice), 0x0010));
  EXPECT_EQ(backend.calls(Op::kStopNotify), 1);
  EXPECT_EQ(central->subscriptions().notifySessionCount(), 0u);
}

TEST_F(ASubscriptionHub, RestartsWhenAStreamJoinsWhileItStops) {
  backend.setDelay(Op::kStopNotify, absl::Seconds(1));
  Values a, b;
  auto sa = subscribe(a);
  sa.reset();
  clock.runUntilIdle();
  auto sb = subscribe(b);
  EXPECT_FALSE(b.started);
  clock.advance(absl::Seconds(1));
  ASSERT_TRUE(b.started);
  EXPECT_TRUE(backend.notifying(addr(kDevice), 0x0010));
  EXPECT_EQ(backend.calls(Op::kStartNotify), 2);
}

TEST_F(ASubscriptionHub, EndsEveryStreamWhenTheLinkDropsAndReleasesBluezSession) {
  Values a, b;
  auto sa = subscribe(a);
  auto sb = subscribe(b, charRef(0x2A19, 0x180F));
  backend.dropLink(addr(kDevice));
  ASSERT_TRUE(a.ended && b.ended);
  EXPECT_EQ(a.ended->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(*a.ended), err::Reason::kDisconnected);
  clock.runUntilIdle();
  EXPECT_EQ(central->subscriptions().subscriberCount(), 0u);
  EXPECT_EQ(backend.calls(Op::kStopNotify), 2);
}

TEST_F(ASubscriptionHub, ReportsAFailedStartToItsStreams) {
  backend.failNext(Op::kStartNotify,
                   err::fromBluez("org.bluez.Error.NotPermitted", "Notify acquired", "StartNotify"));
  Values a;
  auto sa = subscribe(a);
  ASSERT_TRUE(a.ended);
  EXPECT_EQ(a.ended->code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::metadata(*a.ended, "bluez_error"), "org.bluez.Error.NotPermitted");
}

TEST_F(ASubscriptionHub, RefusesWhatBluezCannotHonourOrTheCharacteristicLacks) {
  EXPECT_EQ(refusal(charRef(0x2A38), SubscribeMode::kAuto).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refusal(charRef(0x2A37), SubscribeMode::kIndicate).code(),
            absl::StatusCode::kFailedPrecondition);
  AttributeQuery both;
  both.characteristic = *Uuid::parse("6e400004-b5a3-f393-e0a9-e50e24dcca9e");
  auto s = refusal(both, SubscribeMode::kIndicate);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::reasonOf(s), err::Reason::kBackendLimitation);
  AttributeQuery indicateOnly;
  indicateOnly.characteristic = *Uuid::parse("6e400003-b5a3-f393-e0a9-e50e24dcca9e");
  s = refusal(indicateOnly, SubscribeMode::kAuto, true);
  EXPECT_EQ(err::reasonOf(s), err::Reason::kBackendLimitation);
  EXPECT_EQ(refusal(charRef(0x2A00), SubscribeMode::kAuto).code(), absl::StatusCode::kNotFound);
}

TEST_F(ASubscriptionHub, SubscribesToIndicationsOfAnIndicateOnlyCharacteristic) {
  AttributeQuery indicateOnly;
  indicateOnly.characteristic = *Uuid::parse("6e400003-b5a3-f393-e0a9-e50e24dcca9e");
  Values a;
  auto sa = subscribe(a, indicateOnly);
  ASSERT_TRUE(a.started);
  EXPECT_TRUE(a.started->indicate);
}

TEST_F(ASubscriptionHub, HoldsTheSessionLeaseWhileSubscribed) {
  Values a;
  auto sa = subscribe(a);
  clock.advance(absl::Minutes(10));  // far past the 60 s idle timeout
  EXPECT_EQ(central->sessions().sessionCount(), 1u);
  sa.reset();
  clock.runUntilIdle();
  EXPECT_EQ(central->sessions().sessionCount(), 0u);
}

}  // namespace
}  // namespace gattway::testing
