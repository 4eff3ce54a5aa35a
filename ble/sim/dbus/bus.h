// An sd-bus connection polled by the EventLoop, for the simulated BlueZ: method calls out with
// cancellable replies, signal matches, and clients leaving the bus.
//
// ble/dbus/LoopConnection does the same for sdbus-c++'s IConnection; the simulator needs sd-bus
// itself (see message.h), which sdbus-c++ 1.2 does not hand out. Loop thread only.
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/event_loop.h"
#include "ble/sim/dbus/message.h"

namespace gattway::sim::dbus {

// A D-Bus error as a name and a message ("org.bluez.Error.Failed", "Not connected").
struct Error {
  std::string name;
  std::string message;
  bool empty() const { return name.empty(); }
};

// An sd-bus slot (pending call, match, name request). Destroying it cancels: the callback will
// not run.
class Slot {
 public:
  Slot() = default;
  Slot(sd_bus_slot* slot, std::shared_ptr<void> state) : slot_(slot), state_(std::move(state)) {}
  Slot(Slot&& other) noexcept
      : slot_(std::exchange(other.slot_, nullptr)), state_(std::move(other.state_)) {}
  Slot& operator=(Slot&& other) noexcept {
    if (this != &other) {
      reset();
      slot_ = std::exchange(other.slot_, nullptr);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() { reset(); }
  void reset() {
    if (slot_ != nullptr) sd_bus_slot_unref(slot_);
    slot_ = nullptr;
    state_.reset();
  }
  bool held() const { return slot_ != nullptr; }

 private:
  sd_bus_slot* slot_ = nullptr;
  std::shared_ptr<void> state_;  // the callback, kept alive as long as the slot
};

class Bus final : public PollSource {
 public:
  // Connects to `address`; empty: the system bus (sd-bus honours DBUS_SYSTEM_BUS_ADDRESS).
  static absl::StatusOr<std::unique_ptr<Bus>> open(EventLoop& loop, const std::string& address);
  ~Bus() override;
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  sd_bus* raw() const { return bus_; }
  EventLoop& loop() const { return loop_; }
  const std::string& uniqueName() const { return uniqueName_; }
  // Messages sd-bus holds that the daemon has not taken yet (load shedding on hot paths).
  std::uint64_t queuedWrites() const;

  // Runs before every message this connection sends through send() or call(): the object tree
  // flushes its queued signals there, as BlueZ's gdbus does (g_dbus_send_message).
  void setBeforeSend(std::function<void()> hook) { beforeSend_ = std::move(hook); }

  // Sends a message (reply, error, signal) after the before-send hook.
  void send(const Message& m);
  // Sends without the hook (the object tree's own signals).
  void sendRaw(const Message& m);

  // Calls a method; `onReply` gets the reply or an error (Error non-empty). `timeout` zero: the
  // bus default (25 s).
  using ReplyHandler = absl::AnyInvocable<void(sd_bus_message* reply, const Error& error)>;
  [[nodiscard]] Slot call(const Message& m, ReplyHandler onReply,
                          absl::Duration timeout = absl::ZeroDuration());
  // Calls without wanting a reply (BlueZ's fire-and-forget StartNotify/StopNotify/Confirm).
  void callNoReply(Message m);
  // A new method call to `destination`.
  Message newCall(const std::string& destination, const std::string& path,
                  const std::string& interface, const std::string& member) const;

  // Matches signals; the handler gets each one.
  using SignalHandler = std::function<void(sd_bus_message* signal)>;
  [[nodiscard]] Slot match(const std::string& rule, SignalHandler handler);

  // Requests or releases a well-known name; `done` gets "" or the error text.
  [[nodiscard]] Slot requestName(const std::string& name,
                                 absl::AnyInvocable<void(const std::string& error)> done);
  void releaseName(const std::string& name);

  // Called with a unique name whenever a client leaves the bus.
  using NameLostHandler = std::function<void(const std::string& uniqueName)>;
  using NameLostToken = std::list<NameLostHandler>::iterator;
  NameLostToken onNameLost(NameLostHandler handler);
  void removeNameLost(NameLostToken token);

  // Runs once when the connection is lost without being closed by us (the daemon went away).
  void setOnClosed(std::function<void()> handler) { onClosed_ = std::move(handler); }

  Interest interest() override;
  bool dispatch(short revents) override;

 private:
  Bus(EventLoop& loop, sd_bus* bus);
  EventLoop& loop_;
  sd_bus* bus_;
  std::string uniqueName_;
  std::function<void()> beforeSend_;
  std::list<NameLostHandler> nameLost_;
  Slot nameOwnerMatch_;
  std::function<void()> onClosed_;
  bool closed_ = false;
};

// Outstanding method calls owned by one object: destroying the set cancels them all, so a reply
// never reaches a callback whose object is gone.
class CallSet {
 public:
  explicit CallSet(Bus& bus) : bus_(bus) {}
  CallSet(const CallSet&) = delete;
  CallSet& operator=(const CallSet&) = delete;
  void call(const Message& m, Bus::ReplyHandler onReply, absl::Duration timeout = absl::ZeroDuration());
  void clear() { slots_.clear(); }
  std::size_t size() const { return slots_.size(); }

 private:
  Bus& bus_;
  std::map<std::uint64_t, Slot> slots_;
  std::uint64_t next_ = 0;
};

// The D-Bus error carried by a message, if it is one.
Error errorOf(sd_bus_message* m);

}  // namespace gattway::sim::dbus
