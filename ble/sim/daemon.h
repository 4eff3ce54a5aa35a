// One run of the simulated bluetoothd: its bus connection (owning org.bluez), its object tree,
// /org/bluez, the adapters and the remote centrals attached to them. A "restart" destroys it and
// builds a new one on a new connection (a new unique name, as a restarted daemon has). Devices that
// were not temporary come back, as bluetoothd reloads them from its storage. Loop thread only.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ble/sim/adapter.h"
#include "ble/sim/context.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/object_tree.h"
#include "ble/sim/hosted_air.h"
#include "ble/sim/remote_central.h"
#include "ble/sim/root_objects.h"

namespace gattway::sim {

// What bluetoothd keeps on disk about a device (it reloads these on start).
struct StoredDevice {
  std::string adapter;
  Address address;
  AddressType type = AddressType::kPublic;
  bool paired = false;
  bool trusted = false;
};

class Daemon {
 public:
  Daemon(Environment env, std::unique_ptr<dbus::Bus> bus);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Requests org.bluez, then brings the adapters up (and `stored` devices back); `ready` runs once
  // with "" or the error.
  void start(const std::vector<StoredDevice>& stored, std::function<void(const std::string&)> ready);
  bool ready() const { return ready_; }

  Context& context() { return ctx_; }
  dbus::Bus& bus() { return *bus_; }
  Adapter* adapter(const std::string& name) const;
  std::vector<Adapter*> adapters() const;
  std::vector<StoredDevice> stored() const;

  // Remote centrals by id ("central-1").
  absl::StatusOr<RemoteCentral*> connectCentral(const std::string& adapter, const Address& address);
  RemoteCentral* central(const std::string& id) const;
  void removeCentral(const std::string& id);

 private:
  void bringUp(const std::vector<StoredDevice>& stored);
  void requestName(const std::vector<StoredDevice>& stored,
                   std::function<void(const std::string&)> ready, int attempt);

  std::unique_ptr<dbus::Bus> bus_;
  dbus::ObjectTree tree_;
  Context ctx_;
  std::unique_ptr<AgentManager> agents_;
  std::unique_ptr<ProfileManager> profiles_;
  std::vector<std::unique_ptr<Adapter>> adapters_;
  std::vector<std::unique_ptr<MonitorManager>> monitors_;
  std::map<std::string, std::unique_ptr<RemoteCentral>> centrals_;
  std::unique_ptr<HostedAir> hostedAir_;
  int nextCentral_ = 1;
  bool ready_ = false;
  dbus::Slot name_;
  Timer upTimer_, retryTimer_;
};

}  // namespace gattway::sim
