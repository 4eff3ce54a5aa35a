// io.gattway.Sim1 at /io/gattway/sim, name io.gattway.Sim: the simulator's control interface on
// D-Bus (documented in docs/simulator.md). It has its own bus connection, so it stays reachable
// while "bluetoothd" restarts. Every method maps onto the Simulator's C++ API. Loop thread only.
#pragma once

#include <memory>

#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/dbus/object_tree.h"

namespace gattway::sim {

class Simulator;

inline constexpr char kControlName[] = "io.gattway.Sim";
inline constexpr char kControlPath[] = "/io/gattway/sim";
inline constexpr char kControlInterface[] = "io.gattway.Sim1";

class ControlService final : public dbus::Interface {
 public:
  ControlService(Simulator& sim, std::unique_ptr<dbus::Bus> bus);
  ~ControlService() override;

  void get(int property, dbus::Writer& out) const override;
  void invoke(int method, dbus::Call call) override;

 private:
  Simulator& sim_;
  std::unique_ptr<dbus::Bus> bus_;
  dbus::ObjectTree tree_;
  dbus::Slot name_;
};

}  // namespace gattway::sim
