// An Executor for unit tests: one thread (the test's), a manual clock, and timers that run only
// when the test moves time with advance(). Posted tasks and due timers run in order.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <map>
#include <utility>

#include "absl/time/time.h"
#include "ble/executor.h"

namespace gattway::testing {

class FakeExecutor final : public Executor {
 public:
  explicit FakeExecutor(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}

  void post(Task task) override { posted_.push_back(std::move(task)); }

  [[nodiscard]] Timer runAfter(absl::Duration delay, Task task) override {
    const absl::Time at = delay <= absl::ZeroDuration() ? now_ : now_ + delay;
    const std::uint64_t id = nextId_++;
    timers_.emplace(std::make_pair(at, id), std::move(task));
    deadlines_.emplace(id, at);
    return Timer(this, id);
  }

  absl::Time now() const override { return now_; }
  bool isLoopThread() const override { return true; }

  // Runs posted tasks and timers due now until nothing is left to run at this instant.
  void runUntilIdle() {
    for (int guard = 0; guard < 10'000'000; ++guard) {
      if (!posted_.empty()) {
        Task t = std::move(posted_.front());
        posted_.pop_front();
        t();
        continue;
      }
      if (!timers_.empty() && timers_.begin()->first.first <= now_) {
        runFirstTimer();
        continue;
      }
      return;
    }
    std::fprintf(stderr, "FakeExecutor: tasks keep scheduling themselves at one instant\n");
    std::abort();
  }

  // Moves the clock forward by `d`, running everything that falls due on the way, in order.
  void advance(absl::Duration d) {
    const absl::Time target = now_ + d;
    runUntilIdle();
    while (!timers_.empty() && timers_.begin()->first.first <= target) {
      now_ = std::max(now_, timers_.begin()->first.first);
      runUntilIdle();
    }
    now_ = target;
    runUntilIdle();
  }

  std::size_t pendingTimers() const { return timers_.size(); }

 private:
  void cancelTimer(std::uint64_t id) override {
    auto it = deadlines_.find(id);
    if (it == deadlines_.end()) return;
    timers_.erase({it->second, id});
    deadlines_.erase(it);
  }

  void runFirstTimer() {
    auto node = timers_.extract(timers_.begin());
    deadlines_.erase(node.key().second);
    Task t = std::move(node.mapped());
    t();
  }

  absl::Time now_;
  std::deque<Task> posted_;
  std::map<std::pair<absl::Time, std::uint64_t>, Task> timers_;
  std::map<std::uint64_t, absl::Time> deadlines_;
  std::uint64_t nextId_ = 1;
};

}  // namespace gattway::testing
