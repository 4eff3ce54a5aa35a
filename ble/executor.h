// The one way into the BLE layer's thread: post a task, or arm a timer.
//
// One event-loop thread owns all BLE state (ARCHITECTURE.md, "Threads and time"). Other threads
// (gRPC's) get in with post(); results come back through callbacks that say which thread runs
// them. Tests use a fake executor with a manual clock (tests/support/fake_executor.h) so that
// backoff, leases and deadlines are tested without sleeping.
#pragma once

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gattway {

using Task = absl::AnyInvocable<void()>;

class Timer;

class Executor {
 public:
  virtual ~Executor() = default;

  // Runs `task` on the loop thread, after the tasks already posted from the same thread.
  // Callable from any thread. Tasks posted after the loop stopped are dropped (and destroyed).
  virtual void post(Task task) = 0;

  // Runs `task` on the loop thread once `delay` has passed (a non-positive delay: on the next
  // turn). Loop thread only. The returned Timer cancels the task when destroyed, so a callback
  // never outlives the object that armed it.
  [[nodiscard]] virtual Timer runAfter(absl::Duration delay, Task task) = 0;

  // Wall-clock time, for timestamps. Any thread.
  virtual absl::Time now() const = 0;

  // Whether the caller is on the loop thread.
  virtual bool isLoopThread() const = 0;

 private:
  friend class Timer;
  // Loop thread only. Unknown or already fired ids are ignored.
  virtual void cancelTimer(std::uint64_t id) = 0;
};

// A pending runAfter() task. Move-only; destroying or cancelling it (on the loop thread) makes
// sure the task will not run.
class Timer {
 public:
  Timer() = default;
  Timer(Executor* executor, std::uint64_t id) : executor_(executor), id_(id) {}
  Timer(Timer&& other) noexcept : executor_(other.executor_), id_(other.id_) {
    other.executor_ = nullptr;
  }
  Timer& operator=(Timer&& other) noexcept {
    if (this != &other) {
      cancel();
      executor_ = other.executor_;
      id_ = other.id_;
      other.executor_ = nullptr;
    }
    return *this;
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() { cancel(); }

  void cancel() {
    if (executor_ != nullptr) executor_->cancelTimer(id_);
    executor_ = nullptr;
  }
  // Whether this handle still refers to a timer (it may have fired already).
  bool held() const { return executor_ != nullptr; }

 private:
  Executor* executor_ = nullptr;
  std::uint64_t id_ = 0;
};

}  // namespace gattway
