// What every part of one running "bluetoothd" shares: the loop, the air, the bus connection and
// its object tree, settings, faults and counters. Owned by Daemon; loop thread only.
#pragma once

#include <random>

#include "ble/event_loop.h"
#include "ble/sim/air.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/object_tree.h"
#include "ble/sim/faults.h"
#include "ble/sim/options.h"
#include "ble/sim/ticker.h"

namespace gattway::sim {

// What outlives a "bluetoothd" restart: owned by the Simulator.
struct Environment {
  EventLoop& loop;
  Ticker& ticker;
  Air& air;
  SimOptions& options;
  Faults& faults;
  SimStats& stats;
  std::mt19937_64& rng;
};

struct Context : Environment {
  dbus::Bus& bus;
  dbus::ObjectTree& tree;

  // Whether a real-ordering quirk shows on this connect.
  bool quirk() {
    if (options.ordering != Ordering::kReal) return false;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    return u(rng) < options.realQuirkRate;
  }
  // Whether the bus is too backed up for one more high-rate signal.
  bool backedUp() const { return bus.queuedWrites() > options.maxQueuedMessages; }
};

}  // namespace gattway::sim
