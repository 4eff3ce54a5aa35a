// Reads and writes of one characteristic or descriptor, one at a time. BlueZ allows one pending
// write per attribute (a second gets InProgress) and joins reads only when their offsets match
// (bluez-5.66-api.md §3, §8.13), so the backend queues them per attribute instead of handing
// InProgress to the domain. Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/pending_ops.h"

namespace gattway::bluez {

// FIFO per attribute path: the head is the operation that talks to BlueZ.
class AttributeQueues {
 public:
  using Go = absl::AnyInvocable<void()>;
  // Queues `id`; `go` runs when it reaches the head. Returns true when it is the head already (and
  // `go` is not called: the caller goes on).
  bool join(const std::string& path, std::uint64_t id, Go go);
  // Removes `id`; when it was the head, the next one goes.
  void leave(const std::string& path, std::uint64_t id);
  std::size_t waiting(const std::string& path) const;

 private:
  struct Waiting {
    std::uint64_t id;
    Go go;
  };
  absl::flat_hash_map<std::string, std::deque<Waiting>> queues_;
};

// One queued GATT call: `send` starts it with the callback that finishes the operation.
template <typename Result>
class QueuedGattOp final : public Op<Result> {
 public:
  using Send = absl::AnyInvocable<PendingCall(Callback<Result>)>;
  QueuedGattOp(OpRegistry& registry, AttributeQueues& queues, std::string path, Send send,
               Callback<Result> done)
      : Op<Result>(registry, std::move(done)),
        queues_(queues),
        path_(std::move(path)),
        send_(std::move(send)) {}
  ~QueuedGattOp() override { queues_.leave(path_, this->id()); }

  // The timeout covers the wait in the queue too.
  void start(absl::Duration timeout, std::string what) {
    this->armDeadline(timeout, std::move(what));
    if (queues_.join(path_, this->id(), [this] { go(); })) go();
  }

 private:
  void go() {
    call_ = send_([this](Result result) { this->finish(std::move(result)); });
  }

  AttributeQueues& queues_;
  const std::string path_;
  Send send_;
  PendingCall call_;
};

}  // namespace gattway::bluez
