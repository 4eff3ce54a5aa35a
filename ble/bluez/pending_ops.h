// The backend's operations in flight, and what CentralBackend promises about them
// (central_backend.h): each callback runs exactly once, never inside the call that started it, and
// never after the caller destroyed its Operation; a deadline ends the operation with
// DEADLINE_EXCEEDED; when BlueZ goes away every operation fails with UNAVAILABLE.
//
// An operation owns everything it waits on (PendingCalls, Timers), so removing it from the
// registry cancels all of that at once. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/object_mirror.h"
#include "ble/central_backend.h"
#include "ble/executor.h"

namespace gattway::bluez {

class OpRegistry;

class OpState {
 public:
  virtual ~OpState() = default;
  std::uint64_t id() const { return id_; }

  // Ends the operation with an error: its callback runs.
  virtual void fail(absl::Status status) = 0;
  // The caller gave up (destroyed its Operation) or the deadline passed: undo what was started
  // on the radio (a connect attempt's link). The operation ends right after; no callback here.
  virtual void abandon() {}
  // A device appeared, changed connection or service state, or went away (mirror events that
  // are not advertisement reports).
  virtual void onDeviceEvent(const MirrorEvent& /*event*/) {}

 protected:
  explicit OpState(OpRegistry& registry) : registry_(registry) {}
  OpRegistry& registry() { return registry_; }
  Executor& executor();
  // When `timeout` passes: abandon(), then fail() with DEADLINE_EXCEEDED (reason TIMEOUT) and the
  // message "<what>: no answer within <timeout>". Infinite: none.
  void armDeadline(absl::Duration timeout, std::string what);
  // The time left before the deadline (InfiniteDuration when there is none).
  absl::Duration remaining() const;

 private:
  friend class OpRegistry;
  OpRegistry& registry_;
  std::uint64_t id_ = 0;
  Timer deadlineTimer_;
  absl::Time deadline_ = absl::InfiniteFuture();
};

// An operation whose callback takes `Result` (absl::Status or absl::StatusOr<T>).
template <typename Result>
class Op : public OpState {
 public:
  void fail(absl::Status status) override { finish(Result(std::move(status))); }

 protected:
  Op(OpRegistry& registry, Callback<Result> done) : OpState(registry), done_(std::move(done)) {}
  // Ends the operation: it leaves the registry (which destroys it, cancelling what it waits on),
  // then the callback runs. Touch no member after calling it.
  void finish(Result result);
  // finish() on the next loop turn: for results known before the starting call has returned.
  void finishLater(Result result) {
    later_ = executor().runAfter(absl::ZeroDuration(),
                                 [this, r = std::move(result)]() mutable { finish(std::move(r)); });
  }

 private:
  Callback<Result> done_;
  Timer later_;
};

// An operation that is one call, or one wait on something that reports back with a Result: it
// holds the call and finishes with whatever the completer() is given.
template <typename Result>
class SimpleOp final : public Op<Result> {
 public:
  SimpleOp(OpRegistry& registry, Callback<Result> done) : Op<Result>(registry, std::move(done)) {}

  using Op<Result>::armDeadline;
  using Op<Result>::finishLater;
  void hold(PendingCall call) { call_ = std::move(call); }
  // Finishes this operation; a no-op once it has ended (so it may outlive it).
  Callback<Result> completer();

 private:
  PendingCall call_;
};

class OpRegistry {
 public:
  explicit OpRegistry(Executor& executor);
  // Drops every operation without running callbacks; Operations still held become no-ops.
  ~OpRegistry();
  OpRegistry(const OpRegistry&) = delete;
  OpRegistry& operator=(const OpRegistry&) = delete;

  Executor& executor() { return executor_; }

  // Registers an operation built with `args` (after the registry) and returns it; start it, then
  // hand the caller operation(op.id()).
  template <typename T, typename... Args>
  T& emplace(Args&&... args) {
    auto op = std::make_unique<T>(*this, std::forward<Args>(args)...);
    T& ref = *op;
    ref.id_ = nextId_++;
    ops_.emplace(ref.id_, std::move(op));
    return ref;
  }
  // The handle for the caller: destroying it abandons the operation.
  Operation operation(std::uint64_t id);

  OpState* find(std::uint64_t id);
  // Removes the operation and hands it over (nullptr when it is gone).
  std::unique_ptr<OpState> take(std::uint64_t id);
  // Every operation fails with `status` (BlueZ left; the backend stops).
  void failAll(const absl::Status& status);
  // Passes `event` to every operation. Operations may end meanwhile.
  void broadcast(const MirrorEvent& event);
  std::size_t size() const { return ops_.size(); }
  // The operations now, for walks during which some may end.
  std::vector<std::uint64_t> ids() const;

 private:
  void abandon(std::uint64_t id);

  Executor& executor_;
  std::map<std::uint64_t, std::unique_ptr<OpState>> ops_;
  std::uint64_t nextId_ = 1;
  // Operation handles hold a weak reference, so they outlive the registry harmlessly.
  std::shared_ptr<OpRegistry*> self_;
};

template <typename Result>
Callback<Result> SimpleOp<Result>::completer() {
  return [&ops = this->registry(), id = this->id()](Result result) {
    if (auto* self = static_cast<SimpleOp*>(ops.find(id))) self->finish(std::move(result));
  };
}

template <typename Result>
void Op<Result>::finish(Result result) {
  auto done = std::move(done_);
  auto self = registry().take(id());  // this object, now owned here
  self.reset();                       // cancels what it waited on
  if (done) done(std::move(result));
}

}  // namespace gattway::bluez
