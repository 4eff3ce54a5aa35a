// org.bluez.Device1 at /org/bluez/hciN/dev_AA_BB_CC_DD_EE_FF: one remote device as one adapter
// knows it. Advertising reports update it; Connect/Disconnect drive a simulated link to its
// Peripheral with BlueZ 5.66's replies, errors and signal order (bluez-5.66-api.md §2, §7.2-7.4;
// src/device.c). Its GATT objects live in gatt_client.h. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/sim/context.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/discovery.h"
#include "ble/sim/peripheral.h"

namespace gattway::sim {

class Adapter;
class GattClient;

// Why a link went down (Core spec Vol 1, Part F error codes), for logs and the control interface.
enum class DropReason { kLocal, kRemote, kTimeout, kPowerOff, kGone };
const char* dropReasonName(DropReason reason);

class Device final : public dbus::Interface {
 public:
  // `peripheral` is null for a remote central that connected to a hosted application.
  Device(Adapter& adapter, Context& ctx, const Address& address, AddressType type,
         Peripheral* peripheral);
  ~Device() override;

  const Address& address() const { return address_; }
  AddressType addressType() const { return addressType_; }
  Adapter& adapter() const { return adapter_; }
  Context& context() const { return ctx_; }
  Peripheral* peripheral() const { return peripheral_; }
  void setPeripheral(Peripheral* p) { peripheral_ = p; }
  GattClient& gatt() { return *gatt_; }

  // --- discovery (adapter_discovery.cc decides what is accepted) ---
  // Refreshes the last-seen time (the temporary timer restarts on every report, before filters).
  void seen(absl::Time now, bool connectable);
  // Applies an accepted report in BlueZ's order (§7.2). `filtered`: per-report RSSI.
  void applyReport(const Report& report, const AdvertisingSpec& adv, bool filtered,
                   bool duplicateData);
  // The end of the discovery run: RSSI and TxPower become absent (invalidated).
  void invalidateRssi();
  absl::Time lastSeen() const { return lastSeen_; }
  // Whether the temporary timer runs: stopped by a connection, restarted only by a report.
  bool expiryArmed() const { return expiryArmed_; }
  bool lastConnectable() const { return lastConnectable_; }
  bool temporary() const { return temporary_; }
  bool paired() const { return paired_; }
  bool trusted() const { return trusted_; }
  // Loaded from bluetoothd's storage after a restart.
  void restore(bool paired, bool trusted);
  void setTemporary(bool t) { temporary_ = t; }

  // --- the link ---
  bool connected() const { return link_ == Link::kConnected; }
  bool linkBusy() const { return link_ != Link::kDisconnected; }  // holds a slot
  bool disconnecting() const { return graceTimer_.held(); }
  std::uint16_t mtu() const { return mtu_; }
  // The link went down for `reason` (not through Disconnect()).
  void dropLink(DropReason reason);
  // A remote central (hosted application) connected or left.
  void centralConnected(std::uint16_t mtu);
  void centralDisconnected();
  // RemoveDevice: disconnect first when connected, then `done` (the adapter removes the object).
  void removeRequested(dbus::Call call, absl::AnyInvocable<void()> done);
  // Adapter1.ConnectDevice: connects, answering `call` with this object's path.
  void connectDevice(dbus::Call call);

  // dbus::Interface
  bool has(int property) const override;
  void get(int property, dbus::Writer& out) const override;
  void set(int property, const dbus::Value& value, dbus::Call call) override;
  void invoke(int method, dbus::Call call) override;

 private:
  // Device1's properties, in the order of BlueZ's table (src/device.c device_properties).
  enum Prop {
    kAddress, kAddressType, kName, kAlias, kClass, kAppearance, kIcon, kPaired, kBonded, kTrusted,
    kBlocked, kLegacyPairing, kRssi, kConnected, kUuids, kModalias, kAdapter, kManufacturerData,
    kServiceData, kTxPower, kServicesResolved, kAdvertisingFlags, kAdvertisingData,
  };
  enum class Link { kDisconnected, kConnecting, kConnected };

  void connect(dbus::Call call);
  void disconnect(dbus::Call call);
  void pair(dbus::Call call);
  void cancelPairing(dbus::Call call);
  void startPairing();
  void attempt(absl::Duration latency);
  void linkUp();
  void servicesDiscovered();
  void failConnect(const char* name, const std::string& message);
  void cancelConnect();
  void removeConnection(DropReason reason);
  void armLinkDropTimer();
  std::string alias() const;

  Adapter& adapter_;
  Context& ctx_;
  Address address_;
  AddressType addressType_;
  Peripheral* peripheral_;
  std::unique_ptr<GattClient> gatt_;

  // Device1 state.
  std::optional<std::string> name_;
  std::optional<std::string> aliasSet_;
  std::optional<std::uint16_t> appearance_;
  std::int16_t rssi_ = 0;      // 0: absent
  std::int16_t txPower_ = 127;  // 127: absent
  std::vector<std::string> uuids_;
  std::map<std::uint16_t, Bytes> manufacturerData_;
  std::map<std::string, Bytes> serviceData_;
  std::optional<std::uint8_t> advertisingFlags_;
  std::map<std::uint8_t, Bytes> advertisingData_;
  bool paired_ = false, bonded_ = false, trusted_ = false, blocked_ = false;
  bool connectedProperty_ = false;
  bool servicesResolved_ = false;
  bool temporary_ = true;
  absl::Time lastSeen_ = absl::InfinitePast();
  bool lastConnectable_ = true;
  bool expiryArmed_ = true;

  // The link.
  Link link_ = Link::kDisconnected;
  std::uint16_t mtu_ = 23;
  dbus::Call connectCall_;                 // a Connect() waiting for the ATT channel
  std::vector<dbus::Call> disconnectCalls_;  // Disconnect()/RemoveDevice() waiting for the drop
  std::vector<absl::AnyInvocable<void()>> afterDisconnect_;
  Timer connectTimer_, discoveryTimer_, graceTimer_, dropTimer_;
  dbus::Call pairCall_;
  Timer pairTimer_;
  bool abortAfterUp_ = false;  // an abort-by-local fault: the link fails right after coming up
  bool connectReturnsPath_ = false;  // connectCall_ is Adapter1.ConnectDevice
};

}  // namespace gattway::sim
