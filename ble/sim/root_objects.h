// The smaller org.bluez interfaces: AgentManager1 and ProfileManager1 at /org/bluez, and
// AdvertisementMonitorManager1 on each adapter (bleak's passive scan registers a monitor there).
// They keep what is registered per client and answer with BlueZ's errors; the simulated radio
// does not use agents, profiles or monitors. Loop thread only.
#pragma once

#include <map>
#include <string>

#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/interface.h"

namespace gattway::sim {

class AgentManager final : public dbus::Interface {
 public:
  explicit AgentManager(dbus::Bus& bus);
  ~AgentManager() override;
  void get(int, dbus::Writer&) const override {}
  void invoke(int method, dbus::Call call) override;

 private:
  dbus::Bus& bus_;
  std::map<std::string, std::string> agents_;  // owner → agent path
  std::string defaultAgent_;
  dbus::Bus::NameLostToken nameLost_;
};

class ProfileManager final : public dbus::Interface {
 public:
  explicit ProfileManager(dbus::Bus& bus);
  ~ProfileManager() override;
  void get(int, dbus::Writer&) const override {}
  void invoke(int method, dbus::Call call) override;

 private:
  dbus::Bus& bus_;
  std::map<std::pair<std::string, std::string>, std::string> profiles_;  // (owner, path) → uuid
  dbus::Bus::NameLostToken nameLost_;
};

class MonitorManager final : public dbus::Interface {
 public:
  explicit MonitorManager(dbus::Bus& bus);
  ~MonitorManager() override;
  void get(int property, dbus::Writer& out) const override;
  void invoke(int method, dbus::Call call) override;

 private:
  dbus::Bus& bus_;
  std::map<std::pair<std::string, std::string>, bool> monitors_;
  dbus::Bus::NameLostToken nameLost_;
};

}  // namespace gattway::sim
