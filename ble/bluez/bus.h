// Owning handles for sd-bus objects, and the sd-bus connection behind an sdbus-c++ one. The
// BlueZ backend builds its calls and reads its messages with sd-bus directly: sdbus-c++ 1.2 has
// no asynchronous AddMatch and copies byte arrays a byte at a time (DBUS-PERF.md). Everything
// here runs on the loop thread, which already drives the connection (dbus::LoopConnection).
#pragma once

#include <memory>

#include "sdbus-c++/IConnection.h"

struct sd_bus;
struct sd_bus_message;
struct sd_bus_slot;

namespace gattway::bluez {

struct MessageUnref {
  void operator()(sd_bus_message* m) const;
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

// Destroying a slot cancels what it stands for: a pending reply is dropped, a match removed.
struct SlotUnref {
  void operator()(sd_bus_slot* s) const;
};
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

// The sd-bus connection `connection` wraps; it lives as long as `connection`.
sd_bus* rawBus(sdbus::IConnection& connection);

}  // namespace gattway::bluez
