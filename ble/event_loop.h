// The real executor: a poll(2) loop over an eventfd for posted tasks, a timer queue on the
// monotonic clock, and pollable sources (the D-Bus connection).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "ble/executor.h"

namespace gattway {

// Something the loop polls, e.g. an sd-bus connection. All methods run on the loop thread.
class PollSource {
 public:
  struct Interest {
    int fd = -1;
    short events = 0;
    // When the source needs dispatch() even without I/O (sd-bus's own timeouts).
    std::optional<std::chrono::steady_clock::time_point> deadline;
  };
  virtual ~PollSource() = default;
  virtual Interest interest() = 0;
  // Handles I/O or an expired deadline. Returns true when it stopped early with more work ready,
  // so the loop comes back without sleeping (fairness with posted tasks and timers).
  virtual bool dispatch(short revents) = 0;
};

class EventLoop final : public Executor {
 public:
  EventLoop();
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Loop thread (or before run()). The source must outlive its registration.
  void addSource(PollSource* source);
  void removeSource(PollSource* source);

  // Runs on the calling thread, which becomes the loop thread, until stop().
  void run();
  // Any thread. run() returns after the current turn.
  void stop();

  void post(Task task) override;
  [[nodiscard]] Timer runAfter(absl::Duration delay, Task task) override;
  absl::Time now() const override { return absl::Now(); }
  bool isLoopThread() const override;

 private:
  using Clock = std::chrono::steady_clock;
  void cancelTimer(std::uint64_t id) override;
  void runPosted();
  void runDueTimers();
  int pollTimeoutMs(std::optional<Clock::time_point> sourceDeadline) const;

  int wakeFd_ = -1;
  std::mutex mu_;
  std::vector<Task> posted_;  // guarded by mu_
  bool wakePending_ = false;  // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::atomic<std::thread::id> loopThread_{};

  // Loop thread only.
  std::map<std::pair<Clock::time_point, std::uint64_t>, Task> timers_;
  std::map<std::uint64_t, Clock::time_point> timerDeadlines_;
  std::uint64_t nextTimerId_ = 1;
  std::vector<PollSource*> sources_;
};

// An EventLoop running on its own thread; stops and joins on destruction.
class LoopThread {
 public:
  explicit LoopThread(const char* name = "gattway-loop");
  ~LoopThread();
  EventLoop& loop() { return loop_; }

  // Runs `fn` on the loop thread and waits for it. For setup, teardown and tests only: never on
  // a gRPC thread or on the loop thread itself.
  void runSync(absl::AnyInvocable<void()> fn);

 private:
  EventLoop loop_;
  std::thread thread_;
};

}  // namespace gattway
