// org.bluez.Adapter1 at /org/bluez/hciN: power, discovery sessions per bus client with BlueZ
// 5.66's filter merging, the devices it found (temporary ones expire), and the controller's limits
// (connection slots, one LE connect in flight). GattManager1 and LEAdvertisingManager1 live on the
// same object (hosted_app.h, advertising.h). Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ble/sim/air.h"
#include "ble/sim/context.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/device.h"
#include "ble/sim/discovery.h"

namespace gattway::sim {

class GattManager;
class AdvertisingManager;

class Adapter final : public dbus::Interface, public AirListener {
 public:
  Adapter(Context& ctx, int index);
  ~Adapter() override;

  const std::string& name() const { return name_; }  // "hci0"
  const Address& address() const { return address_; }
  Context& context() const { return ctx_; }
  bool powered() const { return powered_; }
  bool discovering() const { return discovering_; }

  // --- devices ---
  Device* device(const Address& address) const;
  std::vector<Device*> devices() const;
  // The Device object for `peripheral`, created if needed (temporary).
  Device& deviceFor(Peripheral& peripheral);
  // A Device object for a remote central that connects to the hosted application.
  Device& centralDevice(const Address& address, AddressType type);
  void removeDevice(Device* device);

  // --- the controller's link limits ---
  // Starts an LE connection attempt; false while another one is in flight.
  bool beginConnect(Device* device);
  void endConnect(Device* device);
  // Links held (connected or being created), not counting `except`.
  int linksInUse(const Device* except = nullptr) const;
  void linkDown(Device* device);

  // --- power (the control interface and Powered) ---
  void setPowered(bool on);
  // The discovery wedge was just set (Faults::wedgeDiscovery): a running scan stops.
  void wedgeDiscovery();

  GattManager& gattManager() { return *gattManager_; }
  AdvertisingManager& advertisingManager() { return *advertisingManager_; }
  // Service UUIDs of registered applications changed (Adapter1.UUIDs).
  void uuidsChanged();
  // What this adapter hosts (applications, advertisements) changed: the hosted-air listener
  // (hosted_air.h) puts it on the air again.
  void setHostedListener(std::function<void(Adapter&)> listener) { hostedListener_ = std::move(listener); }
  void hostedChanged() {
    if (hostedListener_) hostedListener_(*this);
  }

  // dbus::Interface
  bool has(int property) const override;
  void get(int property, dbus::Writer& out) const override;
  void set(int property, const dbus::Value& value, dbus::Call call) override;
  void invoke(int method, dbus::Call call) override;

  // AirListener
  void onAdvertisement(Peripheral& peripheral, std::int16_t rssi) override;
  void onPeripheralRemoved(Peripheral& peripheral) override;

 private:
  // Adapter1's properties, in the order of BlueZ's table.
  enum Prop {
    kAddress, kAddressType, kName, kAlias, kClass, kPowered, kPowerState, kDiscoverable,
    kDiscoverableTimeout, kPairable, kPairableTimeout, kDiscovering, kUuids, kModalias, kRoles,
    kExperimentalFeatures,
  };
  struct DiscoveryClient {
    std::string owner;
    std::optional<DiscoveryFilter> filter;
    bool discovering = false;
    dbus::Call pending;  // a StartDiscovery/StopDiscovery waiting for the kernel
  };

  // adapter_discovery.cc
  void startDiscovery(dbus::Call call);
  void stopDiscovery(dbus::Call call);
  void setDiscoveryFilter(dbus::Call call);
  void clientLeft(const std::string& owner);
  DiscoveryClient* client(const std::string& owner);
  const std::vector<const DiscoveryFilter*>& discoveringFilters();
  // Re-merges the filters; restarts the scan when the merge changed (or it was not running).
  // `waiting` is answered when the scan runs.
  void updateFilter(dbus::Call waiting);
  void stopScanning(dbus::Call waiting, const std::string& leaving);
  void discoveryCleanup();
  void removeClient(const std::string& owner, bool keepFilter);
  void endAllDiscovery();
  void sweepTemporary();
  void armSweep();

  void removeDeviceCall(dbus::Call call);
  void connectDeviceCall(dbus::Call call);
  void applyPower(bool on);

  Context& ctx_;
  int index_;
  std::string name_;
  Address address_;
  std::string alias_;
  bool powered_ = true;
  bool powerPending_ = false;
  std::string powerState_ = "on";
  bool discoverable_ = false;
  std::uint32_t discoverableTimeout_ = 180;
  bool pairable_ = true;
  std::uint32_t pairableTimeout_ = 0;
  bool discovering_ = false;   // Adapter1.Discovering
  bool scanning_ = false;      // the simulated kernel scan runs
  MergedFilter merged_;
  std::vector<DiscoveryClient> clients_;  // discovering and pre-set filters
  std::vector<const DiscoveryFilter*> filters_;  // of the discovering clients, from clients_
  bool filtersDirty_ = true;
  std::set<Device*> found_;               // seen in this discovery run
  std::vector<dbus::Call> scanWaiters_;   // StartDiscovery calls waiting for the scan to run
  Timer scanTimer_, stopTimer_, powerTimer_, sweepTimer_;

  std::map<Address, std::unique_ptr<Device>> devices_;
  Device* connecting_ = nullptr;
  std::unique_ptr<GattManager> gattManager_;
  std::unique_ptr<AdvertisingManager> advertisingManager_;
  dbus::Bus::NameLostToken nameLost_;
  std::function<void(Adapter&)> hostedListener_;
};

}  // namespace gattway::sim
