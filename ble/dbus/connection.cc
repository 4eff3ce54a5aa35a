#include "ble/dbus/connection.h"

#include <poll.h>
#include <systemd/sd-bus.h>

#include <cstring>

#include <limits>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"
#include "sdbus-c++/Error.h"

namespace gattway::dbus {
namespace {
// Messages handled per loop turn before posted tasks and timers get their turn.
constexpr int kMessagesPerTurn = 256;

// Opens and closes the bus with sd-bus itself. sdbus-c++ 1.2 leaks its sd_bus object when opening
// fails, so a bad address must be caught before it gets there. Returns -errno or 0.
int probe(const std::string& address) {
  sd_bus* bus = nullptr;
  int r = 0;
  if (address.empty()) {
    r = sd_bus_open_system(&bus);
  } else {
    r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
  }
  sd_bus_flush_close_unref(bus);
  return r < 0 ? r : 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<sdbus::IConnection>> openBus(const std::string& address) {
  const std::string where = address.empty() ? std::string("system bus") : address;
  if (const int r = probe(address); r < 0) {
    return err::make(err::Reason::kBluezUnavailable,
                     absl::StrCat("cannot connect to the D-Bus ", where, ": ", std::strerror(-r)));
  }
  try {
    if (address.empty()) return sdbus::createSystemBusConnection();
    return sdbus::createSessionBusConnectionWithAddress(address);
  } catch (const sdbus::Error& e) {
    return err::make(err::Reason::kBluezUnavailable,
                     absl::StrCat("cannot connect to the D-Bus ", where, ": ", e.getMessage()));
  }
}

LoopConnection::LoopConnection(EventLoop& loop, std::unique_ptr<sdbus::IConnection> connection)
    : loop_(loop), connection_(std::move(connection)) {
  loop_.addSource(this);
}

LoopConnection::~LoopConnection() { loop_.removeSource(this); }

PollSource::Interest LoopConnection::interest() {
  const auto data = connection_->getEventLoopPollData();
  Interest in;
  in.fd = data.fd;
  in.events = data.events;
  if (data.timeout_usec != std::numeric_limits<std::uint64_t>::max()) {
    // sd-bus gives an absolute CLOCK_MONOTONIC time, the clock steady_clock uses on Linux.
    in.deadline = std::chrono::steady_clock::time_point(std::chrono::microseconds(data.timeout_usec));
  }
  return in;
}

bool LoopConnection::dispatch(short) {
  for (int i = 0; i < kMessagesPerTurn; ++i) {
    try {
      if (!connection_->processPendingRequest()) return false;
    } catch (const std::exception& e) {
      // A handler threw: log it and carry on. Nothing may escape into the loop.
      log::error("dbus.handler_failed", {{"error", e.what()}});
    }
  }
  return true;
}

}  // namespace gattway::dbus
