#include "ble/sim/root_objects.h"

#include <set>

#include "ble/sim/errors.h"

namespace gattway::sim {
namespace {

const dbus::InterfaceSpec& agentSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.AgentManager1",
      {{"RegisterAgent", {{"agent", "o"}, {"capability", "s"}}, {}},
       {"UnregisterAgent", {{"agent", "o"}}, {}},
       {"RequestDefaultAgent", {{"agent", "o"}}, {}}},
      {},
      {}};
  return s;
}

const dbus::InterfaceSpec& profileSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.ProfileManager1",
      {{"RegisterProfile", {{"profile", "o"}, {"UUID", "s"}, {"options", "a{sv}"}}, {}},
       {"UnregisterProfile", {{"profile", "o"}}, {}}},
      {},
      {}};
  return s;
}

const dbus::InterfaceSpec& monitorSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.AdvertisementMonitorManager1",
      {{"RegisterMonitor", {{"application", "o"}}, {}},
       {"UnregisterMonitor", {{"application", "o"}}, {}}},
      {{"SupportedMonitorTypes", "as"}, {"SupportedFeatures", "as"}},
      {}};
  return s;
}

}  // namespace

AgentManager::AgentManager(dbus::Bus& bus) : dbus::Interface(agentSpec()), bus_(bus) {
  nameLost_ = bus_.onNameLost([this](const std::string& owner) { agents_.erase(owner); });
}

AgentManager::~AgentManager() { bus_.removeNameLost(nameLost_); }

void AgentManager::invoke(int method, dbus::Call call) {
  std::string path, capability;
  dbus::Reader args = call.args();
  args.o(path);
  const std::string owner = call.sender();
  if (method == 0) {  // RegisterAgent
    args.s(capability);
    static const std::set<std::string> kCaps = {"", "DisplayOnly", "DisplayYesNo", "KeyboardOnly",
                                                "NoInputNoOutput", "KeyboardDisplay"};
    if (!kCaps.contains(capability)) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
    if (agents_.contains(owner)) return call.error(bluez::kAlreadyExists, bluez::kMsgAlreadyExists);
    agents_[owner] = path;
    return call.reply();
  }
  auto it = agents_.find(owner);
  if (it == agents_.end() || it->second != path) return call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
  if (method == 1) {  // UnregisterAgent
    agents_.erase(it);
    return call.reply();
  }
  defaultAgent_ = owner;  // RequestDefaultAgent
  call.reply();
}

ProfileManager::ProfileManager(dbus::Bus& bus) : dbus::Interface(profileSpec()), bus_(bus) {
  nameLost_ = bus_.onNameLost([this](const std::string& owner) {
    std::erase_if(profiles_, [&](const auto& p) { return p.first.first == owner; });
  });
}

ProfileManager::~ProfileManager() { bus_.removeNameLost(nameLost_); }

void ProfileManager::invoke(int method, dbus::Call call) {
  std::string path, uuid;
  dbus::Reader args = call.args();
  args.o(path);
  const auto key = std::make_pair(call.sender(), path);
  if (method == 0) {
    args.s(uuid);
    if (profiles_.contains(key)) return call.error(bluez::kAlreadyExists, bluez::kMsgAlreadyExists);
    profiles_[key] = uuid;
    return call.reply();
  }
  if (profiles_.erase(key) == 0) return call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
  call.reply();
}

MonitorManager::MonitorManager(dbus::Bus& bus) : dbus::Interface(monitorSpec()), bus_(bus) {
  nameLost_ = bus_.onNameLost([this](const std::string& owner) {
    std::erase_if(monitors_, [&](const auto& m) { return m.first.first == owner; });
  });
}

MonitorManager::~MonitorManager() { bus_.removeNameLost(nameLost_); }

void MonitorManager::get(int property, dbus::Writer& w) const {
  if (property == 0) w.strings({"or_patterns"});
  else w.strings({});
}

void MonitorManager::invoke(int method, dbus::Call call) {
  std::string path;
  call.args().o(path);
  const auto key = std::make_pair(call.sender(), path);
  if (method == 0) {
    if (monitors_.contains(key)) return call.error(bluez::kAlreadyExists, bluez::kMsgAlreadyExists);
    monitors_[key] = true;
    return call.reply();
  }
  if (monitors_.erase(key) == 0) return call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
  call.reply();
}

}  // namespace gattway::sim
