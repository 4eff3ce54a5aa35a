#include "ble/central/connect_scheduler.h"

#include <vector>

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/fake_executor.h"

namespace gattway::testing {
namespace {

class AConnectScheduler : public ::testing::Test {
 protected:
  ConnectScheduler::Ticket ask(int tag, int priority = 0, bool wait = true) {
    auto t = scheduler.request("hci0", priority, wait, [this, tag](ConnectScheduler::Grant g) {
      granted.push_back(tag);
      grants.push_back(std::move(g));
    });
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(*t) : ConnectScheduler::Ticket();
  }
  FakeExecutor clock;
  Metrics metrics;
  ConnectScheduler scheduler{clock, metrics};
  std::vector<int> granted;
  std::vector<ConnectScheduler::Grant> grants;
};

TEST_F(AConnectScheduler, RunsOneConnectAtATimePerAdapter) {
  auto t1 = ask(1);
  auto t2 = ask(2);
  clock.runUntilIdle();
  EXPECT_EQ(granted, std::vector<int>{1});
  grants[0].turn.reset();  // the first connect finished; its link keeps the slot
  clock.runUntilIdle();
  EXPECT_EQ(granted, (std::vector<int>{1, 2}));
  EXPECT_EQ(scheduler.inUse("hci0"), 2u);
}

TEST_F(AConnectScheduler, RefusesWhenEverySlotIsTakenUnlessAskedToWait) {
  scheduler.setLimit("hci0", 1);
  auto t1 = ask(1);
  clock.runUntilIdle();
  auto refused = scheduler.request("hci0", 0, false, [](ConnectScheduler::Grant) {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(err::reasonOf(refused.status()), err::Reason::kNoFreeSlot);
  auto t2 = ask(2, 0, true);
  grants[0].turn.reset();
  clock.runUntilIdle();
  EXPECT_EQ(granted, std::vector<int>{1});  // slot still held by the first link
  grants[0].slot.reset();
  clock.runUntilIdle();
  EXPECT_EQ(granted, (std::vector<int>{1, 2}));
}

TEST_F(AConnectScheduler, CountsQueuedRequestsAgainstFreeSlots) {
  scheduler.setLimit("hci0", 2);
  auto t1 = ask(1);
  auto t2 = ask(2);
  EXPECT_EQ(scheduler.available("hci0"), 0u);
  auto refused = scheduler.request("hci0", 0, false, [](ConnectScheduler::Grant) {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(AConnectScheduler, GrantsHigherPriorityFirstThenOldest) {
  auto busy = ask(0);
  clock.runUntilIdle();
  auto low = ask(1, -5);
  auto mid1 = ask(2, 10);
  auto mid2 = ask(3, 10);
  auto high = ask(4, 50);
  for (int i = 0; i < 4; ++i) {
    grants.back().turn.reset();
    clock.runUntilIdle();
  }
  EXPECT_EQ(granted, (std::vector<int>{0, 4, 2, 3, 1}));
}

TEST_F(AConnectScheduler, ForgetsARequestWhoseTicketIsDropped) {
  auto busy = ask(0);
  clock.runUntilIdle();
  {
    auto dropped = ask(1);
  }
  EXPECT_EQ(scheduler.queued("hci0"), 0u);
  grants[0].turn.reset();
  clock.runUntilIdle();
  EXPECT_EQ(granted, std::vector<int>{0});
}

TEST_F(AConnectScheduler, LowersTheLimitWithoutTakingSlotsBack) {
  auto t1 = ask(1);
  clock.runUntilIdle();
  grants[0].turn.reset();
  auto t2 = ask(2);
  clock.runUntilIdle();
  scheduler.setLimit("hci0", 1);
  EXPECT_EQ(scheduler.inUse("hci0"), 2u);
  auto t3 = ask(3);
  grants[1].turn.reset();
  grants[1].slot.reset();
  clock.runUntilIdle();
  EXPECT_EQ(granted, (std::vector<int>{1, 2}));  // still one over the new limit
  grants[0].slot.reset();
  clock.runUntilIdle();
  EXPECT_EQ(granted, (std::vector<int>{1, 2, 3}));
}

TEST_F(AConnectScheduler, PublishesSlotsPerAdapter) {
  scheduler.setPowered("hci0", true);
  auto t1 = ask(1);
  clock.runUntilIdle();
  auto slots = metrics.adapters();
  ASSERT_TRUE(slots.contains("hci0"));
  EXPECT_EQ(slots["hci0"].inUse, 1u);
  EXPECT_EQ(slots["hci0"].limit, 7u);
  EXPECT_TRUE(slots["hci0"].powered);
}

TEST_F(AConnectScheduler, GrantsHigherPriorityFirstThenTheOldest) {
  scheduler.hold("hci0", absl::Seconds(1));  // let the whole queue gather
  auto a = ask(1, 0);
  auto b = ask(2, 50);
  auto c = ask(3, -10);
  auto d = ask(4, 50);
  clock.advance(absl::Seconds(1));
  for (int i = 0; i < 4; ++i) {
    grants.back().turn.reset();
    clock.runUntilIdle();
  }
  EXPECT_EQ(granted, (std::vector<int>{2, 4, 1, 3}));
}

TEST_F(AConnectScheduler, LetsALongWaiterOvertakeFreshHigherPriorityRequests) {
  // No starvation: a request at -100 that has waited 201 aging steps beats a new one at 100.
  auto first = ask(0, 0);
  clock.runUntilIdle();
  ASSERT_EQ(granted, std::vector<int>{0});
  auto low = ask(1, -100);
  clock.advance(ConnectScheduler::kAgingStep * 201);
  auto high = ask(2, 100);
  grants.back().turn.reset();
  clock.runUntilIdle();
  EXPECT_EQ(granted, (std::vector<int>{0, 1}));
}

TEST_F(AConnectScheduler, GrantsNothingWhileHeldAndKeepsOneConnectInFlight) {
  scheduler.hold("hci0", absl::Milliseconds(500));
  std::vector<ConnectScheduler::Ticket> tickets;
  for (int i = 0; i < 20; ++i) tickets.push_back(ask(i, i % 3));
  clock.advance(absl::Milliseconds(499));
  EXPECT_TRUE(granted.empty());
  clock.advance(absl::Milliseconds(1));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(granted.size(), static_cast<std::size_t>(std::min(i + 1, 7)));
    if (granted.size() == 7) break;
    grants.back().turn.reset();
    clock.runUntilIdle();
  }
  EXPECT_EQ(scheduler.maxInFlight(), 1u);
  // Priority 2 first: tags 2, 5, 8, 11, 14, 17, then priority 1.
  EXPECT_EQ(granted, (std::vector<int>{2, 5, 8, 11, 14, 17, 1}));
}

}  // namespace
}  // namespace gattway::testing
