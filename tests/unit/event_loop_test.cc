#include "ble/event_loop.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gattway {
namespace {

TEST(AnEventLoop, RunsPostedTasksInOrderOnItsThread) {
  LoopThread thread;
  std::vector<int> order;
  std::promise<std::thread::id> ran;
  for (int i = 0; i < 100; ++i) thread.loop().post([&order, i] { order.push_back(i); });
  thread.loop().post([&] { ran.set_value(std::this_thread::get_id()); });
  const auto loopId = ran.get_future().get();
  EXPECT_NE(loopId, std::this_thread::get_id());
  thread.runSync([&] { EXPECT_TRUE(thread.loop().isLoopThread()); });
  EXPECT_FALSE(thread.loop().isLoopThread());
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(AnEventLoop, FiresTimersInDeadlineOrder) {
  LoopThread thread;
  std::vector<int> fired;
  std::promise<void> done;
  std::vector<Timer> timers;
  thread.runSync([&] {
    timers.push_back(thread.loop().runAfter(absl::Milliseconds(30), [&] {
      fired.push_back(30);
      done.set_value();
    }));
    timers.push_back(thread.loop().runAfter(absl::Milliseconds(10), [&] { fired.push_back(10); }));
    timers.push_back(thread.loop().runAfter(absl::Milliseconds(20), [&] { fired.push_back(20); }));
  });
  done.get_future().wait();
  thread.runSync([&] { timers.clear(); });
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30}));
}

TEST(AnEventLoop, DoesNotRunACancelledTimer) {
  LoopThread thread;
  std::atomic<bool> cancelledRan{false};
  std::promise<void> done;
  Timer keep;
  thread.runSync([&] {
    Timer dropped = thread.loop().runAfter(absl::Milliseconds(5), [&] { cancelledRan = true; });
    dropped.cancel();
    { Timer scoped = thread.loop().runAfter(absl::Milliseconds(5), [&] { cancelledRan = true; }); }
    keep = thread.loop().runAfter(absl::Milliseconds(20), [&] { done.set_value(); });
  });
  done.get_future().wait();
  EXPECT_FALSE(cancelledRan.load());
  thread.runSync([&] { keep.cancel(); });
}

TEST(AnEventLoop, DoesNotRunATimerCancelledByAnotherDueInTheSameTurn) {
  // A session's connect timeout and the connect operation's own deadline fall due together; the
  // first abandons the operation (destroying its Timer), so the second must not run.
  LoopThread thread;
  std::atomic<bool> cancelledRan{false};
  std::promise<void> done;
  Timer second, last;
  Timer first;
  thread.runSync([&] {
    first = thread.loop().runAfter(absl::Milliseconds(1), [&] { second.cancel(); });
    second = thread.loop().runAfter(absl::Milliseconds(1), [&] { cancelledRan = true; });
    last = thread.loop().runAfter(absl::Milliseconds(20), [&] { done.set_value(); });
    // Hold the loop until both are due, so that they run in the same turn.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  done.get_future().wait();
  EXPECT_FALSE(cancelledRan.load());
}

TEST(AnEventLoop, AcceptsPostsFromManyThreads) {
  LoopThread thread;
  std::atomic<int> count{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) thread.loop().post([&] { count.fetch_add(1); });
    });
  }
  for (auto& p : posters) p.join();
  thread.runSync([] {});
  EXPECT_EQ(count.load(), 4000);
}

TEST(AnEventLoop, DropsTasksPostedAfterItStopped) {
  auto thread = std::make_unique<LoopThread>();
  EventLoop& loop = thread->loop();
  loop.stop();
  thread.reset();  // joined
  // Nothing to assert beyond "does not crash or leak" (ASan checks the latter).
}

}  // namespace
}  // namespace gattway
