#include "ble/central/batch_executor.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

using Op = FakeCentralBackend::Op;

struct Steps : BatchSink {
  void onStepFinished(StepResult r) override { results.push_back(std::move(r)); }
  void onBatchFinished(const absl::Status& s) override { outcome = s; }
  std::vector<StepResult> results;
  std::optional<absl::Status> outcome;
};

class ABatch : public CentralTest {
 protected:
  ABatch() { EXPECT_TRUE(connect().ok()); }
  BatchHandle run(Steps& sink, std::vector<BatchStep> steps,
                  std::optional<absl::Duration> budget = std::nullopt, bool stopOnError = false) {
    BatchOptions o;
    o.address = addr(kDevice);
    o.steps = std::move(steps);
    o.budget = budget;
    o.stopOnError = stopOnError;
    auto h = central->batches().start(std::move(o), &sink);
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? std::move(*h) : BatchHandle();
  }
  void runUntilDone(Steps& sink, absl::Duration step = absl::Milliseconds(100)) {
    for (int i = 0; i < 1000 && !sink.outcome; ++i) clock.advance(step);
  }
};

TEST_F(ABatch, RunsItsStepsInOrder) {
  Steps sink;
  auto h = run(sink, {DiscoverStep{uuid(0x180D), std::nullopt}, ReadStep{charRef(0x2A38), 0},
                      WriteStep{charRef(0x2A39), {0x01}, WriteMode::kAuto, 0},
                      WaitStep{absl::Milliseconds(200)}});
  runUntilDone(sink);
  ASSERT_TRUE(sink.outcome);
  EXPECT_TRUE(sink.outcome->ok()) << *sink.outcome;
  ASSERT_EQ(sink.results.size(), 4u);
  for (std::uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sink.results[i].index, i);
    EXPECT_TRUE(sink.results[i].status.ok()) << sink.results[i].status;
  }
  EXPECT_EQ(std::get<ReadResult>(sink.results[1].result).value, std::vector<std::uint8_t>{1});
  EXPECT_GE(sink.results[3].elapsed, absl::Milliseconds(200));
  EXPECT_EQ(metrics.batches[static_cast<std::size_t>(BatchOutcome::kOk)].value(), 1u);
}

TEST_F(ABatch, CancelsTheRunningStepWhenTheBudgetRunsOutAndKeepsEarlierResults) {
  backend.setDelay(Op::kRead, absl::Seconds(3));  // a slow device
  Steps sink;
  auto h = run(sink, {WriteStep{charRef(0x2A39), {0x01}, WriteMode::kAuto, 0},
                      ReadStep{charRef(0x2A38), 0}, ReadStep{charRef(0x2A19, 0x180F), 0}},
               absl::Seconds(2));
  runUntilDone(sink);
  ASSERT_TRUE(sink.outcome);
  EXPECT_EQ(sink.outcome->code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(err::reasonOf(*sink.outcome), err::Reason::kBudgetExhausted);
  EXPECT_EQ(err::metadata(*sink.outcome, "steps_completed"), "1");
  ASSERT_EQ(sink.results.size(), 2u);
  EXPECT_TRUE(sink.results[0].status.ok());
  EXPECT_EQ(sink.results[1].status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(backend.pendingOperations(), 0u);  // the read was cancelled
  EXPECT_EQ(metrics.batches[static_cast<std::size_t>(BatchOutcome::kDeadlineExceeded)].value(),
            1u);
}

TEST_F(ABatch, GoesOnAfterAFailedStepUnlessToldToStop) {
  Steps going, stopping;
  std::vector<BatchStep> steps = {ReadStep{charRef(0x2A39), 0}, ReadStep{charRef(0x2A38), 0}};
  auto h1 = run(going, steps);
  runUntilDone(going);
  ASSERT_TRUE(going.outcome && going.outcome->ok());
  ASSERT_EQ(going.results.size(), 2u);
  EXPECT_EQ(going.results[0].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(going.results[1].status.ok());

  auto h2 = run(stopping, steps, std::nullopt, true);
  runUntilDone(stopping);
  ASSERT_TRUE(stopping.outcome);
  EXPECT_EQ(stopping.outcome->code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stopping.results.size(), 1u);
}

TEST_F(ABatch, EndsWithUnavailableWhenTheLinkDrops) {
  backend.setDelay(Op::kWrite, absl::Seconds(5));
  Steps sink;
  auto h = run(sink, {ReadStep{charRef(0x2A38), 0},
                      WriteStep{charRef(0x2A39), {0x01}, WriteMode::kAuto, 0},
                      ReadStep{charRef(0x2A38), 0}});
  clock.advance(absl::Seconds(1));
  backend.dropLink(addr(kDevice));
  ASSERT_TRUE(sink.outcome);
  EXPECT_EQ(sink.outcome->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::metadata(*sink.outcome, "steps_completed"), "1");
  ASSERT_EQ(sink.results.size(), 2u);
  EXPECT_EQ(sink.results[1].status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(ABatch, WithoutABudgetWaitsUntilTheLinkDrops) {
  Steps sink;
  auto h = run(sink, {WaitNotificationsStep{charRef(0x2A37), SubscribeMode::kAuto, 3}});
  clock.advance(absl::Hours(1));
  EXPECT_FALSE(sink.outcome);
  backend.dropLink(addr(kDevice));
  ASSERT_TRUE(sink.outcome);
  EXPECT_EQ(sink.outcome->code(), absl::StatusCode::kUnavailable);
}

TEST_F(ABatch, CollectsNotificationsThenUnsubscribes) {
  Steps sink;
  auto h = run(sink, {WaitNotificationsStep{charRef(0x2A37), SubscribeMode::kAuto, 2},
                      ReadStep{charRef(0x2A38), 0}},
               absl::Seconds(10));
  clock.advance(absl::Milliseconds(100));
  ASSERT_TRUE(backend.notify(addr(kDevice), 0x0010, {1}));
  ASSERT_TRUE(backend.notify(addr(kDevice), 0x0010, {2}));
  EXPECT_FALSE(backend.notify(addr(kDevice), 0x0010, {3}) && false);
  runUntilDone(sink);
  ASSERT_TRUE(sink.outcome && sink.outcome->ok()) << *sink.outcome;
  const auto& values = std::get<std::vector<NotificationValue>>(sink.results[0].result);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[1].value, std::vector<std::uint8_t>{2});
  EXPECT_EQ(values[1].sequence, 2u);
  EXPECT_FALSE(backend.notifying(addr(kDevice), 0x0010));
}

TEST_F(ABatch, RefusesAnEmptyBatchBeforeRunningAnything) {
  Steps sink;
  BatchOptions o;
  o.address = addr(kDevice);
  auto h = central->batches().start(std::move(o), &sink);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ABatch, StopsSilentlyWhenItsCallerGoesAway) {
  backend.setDelay(Op::kRead, absl::Seconds(1));
  Steps sink;
  {
    auto h = run(sink, {ReadStep{charRef(0x2A38), 0}});
    clock.advance(absl::Milliseconds(100));
  }
  clock.advance(absl::Seconds(2));
  EXPECT_FALSE(sink.outcome);
  EXPECT_EQ(central->batches().running(), 0u);
}

}  // namespace
}  // namespace gattway::testing
