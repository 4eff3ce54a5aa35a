// Method calls to BlueZ, asynchronous and bounded: at most `limit` in flight on the connection,
// the rest queued in order. The system bus lets a connection have 128 replies pending
// (max_replies_per_connection, DBUS-PERF.md); past that dbus-daemon refuses calls outright, so the
// gateway queues its own instead, with room left for everything else on the connection.
//
// A call counts as in flight until sd-bus is done with it (reply, error, or sd-bus's own timeout),
// even when its caller has given up: dbus-daemon keeps counting it until then too. Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ble/bluez/bus.h"
#include "ble/bluez/message_parsing.h"
#include "ble/executor.h"

namespace gattway::bluez {

class CallLimiter;

// Runs once, on the loop thread: with the reply (positioned at its first argument) and no error,
// or with the error (a D-Bus error reply, or why the call could not be sent) and maybe no reply.
using ReplyCallback = absl::AnyInvocable<void(sd_bus_message* reply, const ReplyError* error)>;

// A queued or in-flight call. Destroying it (or reset()) means its callback will not run. Must
// not outlive its CallLimiter. Move-only.
class PendingCall {
 public:
  PendingCall() = default;
  PendingCall(PendingCall&& other) noexcept : owner_(other.owner_), id_(other.id_) {
    other.owner_ = nullptr;
  }
  PendingCall& operator=(PendingCall&& other) noexcept;
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;
  ~PendingCall() { reset(); }

  void reset();
  // Forgets the call without cancelling it: its callback still runs (fire and forget).
  void release() { owner_ = nullptr; }
  // Whether this handle still waits for its callback.
  bool pending() const;

 private:
  friend class CallLimiter;
  PendingCall(CallLimiter* owner, std::uint64_t id) : owner_(owner), id_(id) {}
  CallLimiter* owner_ = nullptr;
  std::uint64_t id_ = 0;
};

class CallLimiter {
 public:
  static constexpr std::size_t kDefaultLimit = 64;
  // dbus-daemon's reply_timeout on the system bus: no reply can take longer.
  static constexpr absl::Duration kMaxTimeout = absl::Seconds(25);

  CallLimiter(sd_bus* bus, Executor& executor, std::size_t limit = kDefaultLimit);
  // Drops every call; no callback runs.
  ~CallLimiter();
  CallLimiter(const CallLimiter&) = delete;
  CallLimiter& operator=(const CallLimiter&) = delete;

  // A method call for the caller to fill with sd-bus's append functions. Null only when sd-bus is
  // out of memory or the connection is closed; send() reports that.
  MessagePtr newCall(absl::string_view destination, absl::string_view path,
                     absl::string_view interface, absl::string_view member);

  // Sends `call` now, or once fewer than the limit are in flight. `timeout` (at most kMaxTimeout)
  // runs from the moment it is sent; callers bound queueing with their own deadline. A call that
  // cannot be sent fails on the next loop turn, never inside send().
  [[nodiscard]] PendingCall send(MessagePtr call, absl::Duration timeout, ReplyCallback onReply);

  std::size_t inFlight() const { return inFlight_; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t limit() const { return limit_; }

 private:
  friend class PendingCall;
  friend struct ReplyTrampoline;  // sd-bus's reply handler, in the .cc
  struct Entry;
  void onReply(Entry& entry, sd_bus_message* reply);
  void start(Entry& entry);
  void fail(Entry& entry, ReplyError error);
  void finished(std::uint64_t id);
  void cancel(std::uint64_t id);
  bool pending(std::uint64_t id) const;
  void startQueued();

  sd_bus* bus_;
  Executor& executor_;
  std::size_t limit_;
  std::size_t inFlight_ = 0;
  std::uint64_t nextId_ = 1;
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<Entry>> entries_;  // queued and in flight
  std::deque<std::uint64_t> queue_;  // ids waiting for a slot; cancelled ones are skipped
};

}  // namespace gattway::bluez
