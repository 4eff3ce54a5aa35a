#include "ble/sim/dbus/bus.h"

#include <poll.h>

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway::sim::dbus {
namespace {

// Messages handled per loop turn before posted tasks and timers get their turn.
constexpr int kMessagesPerTurn = 256;

struct ReplyState {
  Bus::ReplyHandler fn;
};

// Runs a handler called from inside sd-bus (C code): nothing may unwind through it.
template <typename F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log::error("sim.dbus.handler_failed", {{"handler", what}, {"error", e.what()}});
  }
}

int onReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* state = static_cast<ReplyState*>(userdata);
  // The handler may destroy the Slot that owns `state`: move the function out first.
  auto fn = std::move(state->fn);
  if (fn) guarded("reply", [&] { fn(m, errorOf(m)); });
  return 1;
}

struct SignalState {
  Bus::SignalHandler fn;
};

int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* state = static_cast<SignalState*>(userdata);
  auto fn = state->fn;  // a copy: the handler may cancel its own match
  guarded("signal", [&] { fn(m); });
  return 0;  // let other matches see it too
}

struct NameState {
  absl::AnyInvocable<void(const std::string&)> fn;
};

int onNameReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* state = static_cast<NameState*>(userdata);
  auto fn = std::move(state->fn);
  const Error e = errorOf(m);
  std::string error = e.empty() ? std::string() : absl::StrCat(e.name, ": ", e.message);
  // RequestName answers with a code: 1 primary owner, 4 already the owner; 3 (exists) means
  // someone else has it (sd-bus asks not to be queued).
  std::uint32_t code = 0;
  if (error.empty() && (sd_bus_message_read(m, "u", &code) < 0 || (code != 1 && code != 4))) {
    error = absl::StrCat("the name is owned by another connection (RequestName answered ", code, ")");
  }
  if (fn) guarded("name", [&] { fn(error); });
  return 1;
}

}  // namespace

Error errorOf(sd_bus_message* m) {
  if (m == nullptr) return {"org.freedesktop.DBus.Error.NoReply", "no reply"};
  const sd_bus_error* e = sd_bus_message_get_error(m);
  if (e == nullptr || e->name == nullptr) return {};
  return {e->name, e->message != nullptr ? e->message : ""};
}

absl::StatusOr<std::unique_ptr<Bus>> Bus::open(EventLoop& loop, const std::string& address) {
  sd_bus* bus = nullptr;
  int r = 0;
  if (address.empty()) {
    r = sd_bus_open_system(&bus);
  } else {
    r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0) r = sd_bus_negotiate_fds(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
  }
  const char* unique = nullptr;
  if (r >= 0) r = sd_bus_get_unique_name(bus, &unique);  // waits for Hello's reply, once
  if (r < 0) {
    sd_bus_flush_close_unref(bus);
    const std::string where = address.empty() ? std::string("system bus") : address;
    return err::make(err::Reason::kBluezUnavailable,
                     absl::StrCat("cannot connect to the D-Bus ", where, ": ", std::strerror(-r)));
  }
  auto out = std::unique_ptr<Bus>(new Bus(loop, bus));
  out->uniqueName_ = unique;
  Bus* self = out.get();
  out->nameOwnerMatch_ = out->match(
      "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
      "interface='org.freedesktop.DBus',member='NameOwnerChanged'",
      [self](sd_bus_message* m) {
        const char *name = nullptr, *oldOwner = nullptr, *newOwner = nullptr;
        if (sd_bus_message_read(m, "sss", &name, &oldOwner, &newOwner) < 0) return;
        // A unique name (":1.42") whose owner went away: that client left the bus.
        if (name[0] != ':' || newOwner[0] != '\0') return;
        const std::string gone = name;
        // Handlers may unregister (their owner dies): iterate over a snapshot.
        std::vector<NameLostHandler> handlers(self->nameLost_.begin(), self->nameLost_.end());
        for (auto& h : handlers) h(gone);
      });
  return out;
}

Bus::Bus(EventLoop& loop, sd_bus* bus) : loop_(loop), bus_(bus) { loop_.addSource(this); }

Bus::~Bus() {
  nameOwnerMatch_.reset();
  loop_.removeSource(this);
  sd_bus_flush_close_unref(bus_);
}

std::uint64_t Bus::queuedWrites() const {
  std::uint64_t n = 0;
  sd_bus_get_n_queued_write(bus_, &n);
  return n;
}

void Bus::send(const Message& m) {
  if (beforeSend_) beforeSend_();
  sendRaw(m);
}

void Bus::sendRaw(const Message& m) {
  const int r = sd_bus_send(bus_, m.get(), nullptr);
  if (r < 0) log::warn("sim.dbus.send_failed", {{"error", std::strerror(-r)}});
}

Slot Bus::call(const Message& m, ReplyHandler onReply_, absl::Duration timeout) {
  if (beforeSend_) beforeSend_();
  auto state = std::make_shared<ReplyState>();
  state->fn = std::move(onReply_);
  sd_bus_slot* slot = nullptr;
  const std::uint64_t usec =
      timeout <= absl::ZeroDuration() ? 0 : static_cast<std::uint64_t>(absl::ToInt64Microseconds(timeout));
  const int r = sd_bus_call_async(bus_, &slot, m.get(), onReply, state.get(), usec);
  if (r < 0) {
    // Report the failure from the loop, never re-entrantly from inside call().
    loop_.post([state, r] {
      auto fn = std::move(state->fn);
      if (fn) fn(nullptr, Error{"org.freedesktop.DBus.Error.Failed", std::strerror(-r)});
    });
    return Slot(nullptr, state);
  }
  return Slot(slot, std::move(state));
}

void Bus::callNoReply(Message m) {
  if (beforeSend_) beforeSend_();
  sd_bus_message_set_expect_reply(m.get(), 0);
  sendRaw(m);
}

void CallSet::call(const Message& m, Bus::ReplyHandler onReply_, absl::Duration timeout) {
  const std::uint64_t id = next_++;
  slots_[id] = bus_.call(
      m,
      [this, id, fn = std::move(onReply_)](sd_bus_message* reply, const Error& e) mutable {
        auto keep = std::move(fn);
        slots_.erase(id);  // the reply is in: the slot is done
        keep(reply, e);
      },
      timeout);
}

Message Bus::newCall(const std::string& destination, const std::string& path,
                     const std::string& interface, const std::string& member) const {
  sd_bus_message* m = nullptr;
  sd_bus_message_new_method_call(bus_, &m, destination.c_str(), path.c_str(), interface.c_str(),
                                 member.c_str());
  return Message::adopt(m);
}

Slot Bus::match(const std::string& rule, SignalHandler handler) {
  auto state = std::make_shared<SignalState>();
  state->fn = std::move(handler);
  sd_bus_slot* slot = nullptr;
  const int r = sd_bus_add_match_async(bus_, &slot, rule.c_str(), onSignal, nullptr, state.get());
  if (r < 0) {
    log::warn("sim.dbus.match_failed", {{"rule", rule}, {"error", std::strerror(-r)}});
    return {};
  }
  return Slot(slot, std::move(state));
}

Slot Bus::requestName(const std::string& name,
                      absl::AnyInvocable<void(const std::string& error)> done) {
  auto state = std::make_shared<NameState>();
  state->fn = std::move(done);
  sd_bus_slot* slot = nullptr;
  const int r = sd_bus_request_name_async(bus_, &slot, name.c_str(), 0, onNameReply, state.get());
  if (r < 0) {
    loop_.post([state, r] {
      auto fn = std::move(state->fn);
      if (fn) fn(std::strerror(-r));
    });
    return Slot(nullptr, state);
  }
  return Slot(slot, std::move(state));
}

void Bus::releaseName(const std::string& name) {
  sd_bus_release_name_async(bus_, nullptr, name.c_str(), nullptr, nullptr);
}

Bus::NameLostToken Bus::onNameLost(NameLostHandler handler) {
  return nameLost_.insert(nameLost_.end(), std::move(handler));
}

void Bus::removeNameLost(NameLostToken token) { nameLost_.erase(token); }

PollSource::Interest Bus::interest() {
  Interest in;
  if (closed_) return in;
  in.fd = sd_bus_get_fd(bus_);
  const int events = sd_bus_get_events(bus_);
  in.events = static_cast<short>(events < 0 ? 0 : events);
  std::uint64_t usec = 0;
  if (sd_bus_get_timeout(bus_, &usec) >= 0 && usec != std::numeric_limits<std::uint64_t>::max()) {
    // sd-bus gives an absolute CLOCK_MONOTONIC time, the clock steady_clock uses on Linux.
    in.deadline = std::chrono::steady_clock::time_point(std::chrono::microseconds(usec));
  }
  return in;
}

bool Bus::dispatch(short) {
  for (int i = 0; i < kMessagesPerTurn; ++i) {
    const int r = sd_bus_process(bus_, nullptr);
    if (r < 0) {
      if (r != -ECONNRESET && r != -ENOTCONN) {
        log::warn("sim.dbus.process_failed", {{"error", std::strerror(-r)}});
      }
      if (!closed_ && sd_bus_is_open(bus_) <= 0) {
        closed_ = true;
        if (onClosed_) {
          auto fn = onClosed_;
          loop_.post([fn] { fn(); });  // not from inside sd-bus
        }
      }
      return false;
    }
    if (r == 0) return false;
  }
  return true;
}

}  // namespace gattway::sim::dbus
