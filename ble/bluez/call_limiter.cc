#include "ble/bluez/call_limiter.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <string>
#include <utility>

namespace gattway::bluez {

struct CallLimiter::Entry {
  std::uint64_t id = 0;
  CallLimiter* owner = nullptr;
  MessagePtr call;         // until sent
  absl::Duration timeout;
  ReplyCallback onReply;   // empty once its caller gave up
  SlotPtr slot;            // while in flight
  Timer failure;           // a failure to send, reported on the next turn
  bool inFlight = false;
};

struct ReplyTrampoline {
  static int onReply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
    auto* entry = static_cast<CallLimiter::Entry*>(userdata);
    entry->owner->onReply(*entry, reply);
    return 0;
  }
};

PendingCall& PendingCall::operator=(PendingCall&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = other.owner_;
    id_ = other.id_;
    other.owner_ = nullptr;
  }
  return *this;
}

void PendingCall::reset() {
  if (owner_ != nullptr) owner_->cancel(id_);
  owner_ = nullptr;
}

bool PendingCall::pending() const { return owner_ != nullptr && owner_->pending(id_); }

CallLimiter::CallLimiter(sd_bus* bus, Executor& executor, std::size_t limit)
    : bus_(bus), executor_(executor), limit_(limit == 0 ? 1 : limit) {}

CallLimiter::~CallLimiter() {
  queue_.clear();
  entries_.clear();  // unrefs the slots: sd-bus drops their reply callbacks
}

MessagePtr CallLimiter::newCall(absl::string_view destination, absl::string_view path,
                                absl::string_view interface, absl::string_view member) {
  sd_bus_message* m = nullptr;
  const std::string d(destination), p(path), i(interface), n(member);
  if (sd_bus_message_new_method_call(bus_, &m, d.c_str(), p.c_str(), i.c_str(), n.c_str()) < 0) {
    return nullptr;
  }
  return MessagePtr(m);
}

PendingCall CallLimiter::send(MessagePtr call, absl::Duration timeout, ReplyCallback onReply) {
  auto owned = std::make_unique<Entry>();
  Entry& entry = *owned;
  entry.id = nextId_++;
  entry.owner = this;
  entry.call = std::move(call);
  entry.timeout = timeout;
  entry.onReply = std::move(onReply);
  entries_.emplace(entry.id, std::move(owned));
  if (!entry.call) {
    fail(entry, {"org.freedesktop.DBus.Error.NoMemory", "cannot build the method call"});
  } else if (inFlight_ < limit_) {
    start(entry);
  } else {
    queue_.push_back(entry.id);
  }
  return PendingCall(this, entry.id);
}

void CallLimiter::start(Entry& entry) {
  const absl::Duration t =
      std::clamp(entry.timeout, absl::Milliseconds(1), kMaxTimeout);
  sd_bus_slot* slot = nullptr;
  const int r = sd_bus_call_async(bus_, &slot, entry.call.get(), &ReplyTrampoline::onReply, &entry,
                                  static_cast<std::uint64_t>(absl::ToInt64Microseconds(t)));
  entry.call.reset();
  if (r < 0) {
    fail(entry, {"org.freedesktop.DBus.Error.Disconnected",
                 std::string("cannot send the call: ") + std::strerror(-r)});
    return;
  }
  entry.slot.reset(slot);
  entry.inFlight = true;
  ++inFlight_;
}

void CallLimiter::fail(Entry& entry, ReplyError error) {
  // On the next turn, so that send() never calls back into its caller.
  entry.failure = executor_.runAfter(
      absl::ZeroDuration(), [this, id = entry.id, error = std::move(error)]() mutable {
        auto it = entries_.find(id);
        if (it == entries_.end()) return;
        auto callback = std::move(it->second->onReply);
        entries_.erase(it);
        if (callback) callback(nullptr, &error);
      });
}

void CallLimiter::onReply(Entry& entry, sd_bus_message* reply) {
  auto callback = std::move(entry.onReply);
  // sd-bus holds its own reference to the slot while this runs, so the entry (and its slot) can
  // go now.
  --inFlight_;
  entries_.erase(entry.id);
  // Before the callback, which may destroy whoever owns this limiter.
  startQueued();
  if (callback) {
    const auto error = replyError(reply);
    callback(reply, error ? &*error : nullptr);
  }
}

void CallLimiter::startQueued() {
  while (inFlight_ < limit_ && !queue_.empty()) {
    const std::uint64_t id = queue_.front();
    queue_.pop_front();
    auto it = entries_.find(id);
    if (it != entries_.end()) start(*it->second);
  }
}

void CallLimiter::cancel(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  if (it->second->inFlight) {
    // dbus-daemon still counts it: keep the slot until sd-bus is done, but forget the caller.
    it->second->onReply = nullptr;
    return;
  }
  entries_.erase(it);  // queued (skipped when its turn comes) or failed
}

bool CallLimiter::pending(std::uint64_t id) const {
  auto it = entries_.find(id);
  return it != entries_.end() && it->second->onReply != nullptr;
}

}  // namespace gattway::bluez
