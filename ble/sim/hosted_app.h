// org.bluez.GattManager1 on /org/bluez/hciN: applications that BlueZ serves as its local GATT
// database. Registration reads the caller's objects with GetManagedObjects exactly as bluetoothd
// does (src/gatt-database.c, 5.66; bluez-5.66-api.md §4); remote centrals' reads, writes and
// subscriptions become calls on the application's objects, with its D-Bus errors mapped to ATT
// codes. An application goes away with its owner. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/fd_watch.h"
#include "ble/sim/fleet.h"

namespace gattway::sim {

class Adapter;

struct HostedDescriptor {
  std::string path;
  Uuid uuid;
  std::vector<std::string> flags;
  std::uint16_t handle = 0;
};

struct HostedCharacteristic {
  std::string owner;  // the application's unique bus name
  std::string path;
  Uuid uuid;
  std::vector<std::string> flags;
  std::uint16_t declHandle = 0;
  std::uint16_t valueHandle = 0;
  std::uint16_t cccHandle = 0;  // 0: no notify/indicate
  bool acquireNotify = false;   // NotifyAcquired present: AcquireNotify is used
  std::vector<HostedDescriptor> descriptors;
  int subscribers = 0;  // CCC enables from remote centrals
  std::unique_ptr<FdWatch> notifyFd;  // from AcquireNotify
  bool has(const char* flag) const;
};

struct HostedService {
  std::string path;
  Uuid uuid;
  bool primary = true;
  std::uint16_t start = 0, end = 0;
  std::vector<std::unique_ptr<HostedCharacteristic>> characteristics;
};

class GattManager final : public dbus::Interface {
 public:
  explicit GattManager(Adapter& adapter);
  ~GattManager() override;

  // Service UUIDs of every registered application (Adapter1.UUIDs).
  std::vector<std::string> serviceUuids() const;
  // The hosted database, for remote centrals and the control interface.
  std::vector<const HostedService*> services() const;
  HostedCharacteristic* characteristic(std::uint16_t handle);  // declaration or value handle
  // A characteristic by UUID (the first one) or by handle text ("0x0017").
  HostedCharacteristic* find(const std::string& attribute);

  // ATT operations from a remote central; `done` gets 0 and the value, or an ATT error code.
  using ReadDone = absl::AnyInvocable<void(std::uint8_t att, Bytes value)>;
  using WriteDone = absl::AnyInvocable<void(std::uint8_t att)>;
  void read(HostedCharacteristic& c, const std::string& devicePath, std::uint16_t offset,
            std::uint16_t mtu, ReadDone done);
  void write(HostedCharacteristic& c, const std::string& devicePath, const Bytes& value,
             std::uint16_t offset, std::uint16_t mtu, bool command, WriteDone done);
  // A central wrote the CCC: StartNotify on every enable, StopNotify when the last one goes.
  void subscribe(HostedCharacteristic& c, const std::string& devicePath, std::uint16_t mtu);
  void unsubscribe(HostedCharacteristic& c);
  // A central confirmed an indication of `c`: the application gets Confirm() (gatt-database.c
  // confirm_cb, one call per confirming device, fire and forget).
  void confirm(const HostedCharacteristic& c);

  // Told about every value the application notifies (PropertiesChanged Value, or an acquired
  // notify socket's packets).
  using NotifyListener = std::function<void(const HostedCharacteristic& c, const Bytes& value)>;
  void setNotifyListener(NotifyListener listener) { notifyListener_ = std::move(listener); }

  void get(int property, dbus::Writer& out) const override;
  void invoke(int method, dbus::Call call) override;

 private:
  struct Application {
    std::string owner;
    std::string path;
    std::vector<std::unique_ptr<HostedService>> services;
    dbus::Slot signals;
    dbus::Slot removed;
  };
  void registerApplication(dbus::Call call);
  void unregisterApplication(dbus::Call call);
  void build(Application& app, sd_bus_message* reply, dbus::Call call);
  void drop(const std::string& owner, const std::string& path);
  void onSignal(Application& app, sd_bus_message* m);
  void onRemoved(Application& app, sd_bus_message* m);
  void acquireNotify(HostedCharacteristic& c, const std::string& devicePath, std::uint16_t mtu);
  std::uint16_t nextHandle() const;

  Adapter& adapter_;
  std::vector<std::unique_ptr<Application>> apps_;
  std::vector<std::unique_ptr<Application>> pending_;  // registrations waiting for their objects
  NotifyListener notifyListener_;
  dbus::Bus::NameLostToken nameLost_;
  dbus::CallSet calls_;  // outstanding calls into applications
};

}  // namespace gattway::sim
