#include "ble/sim/adapter.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ble/log.h"
#include "ble/sim/advertising.h"
#include "ble/sim/errors.h"
#include "ble/sim/hosted_app.h"

namespace gattway::sim {
namespace {

enum Method {
  kStartDiscovery, kSetDiscoveryFilter, kStopDiscovery, kRemoveDevice, kGetDiscoveryFilters,
  kConnectDevice,
};

const dbus::InterfaceSpec& interfaceSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.Adapter1",
      {{"StartDiscovery", {}, {}},
       {"SetDiscoveryFilter", {{"properties", "a{sv}"}}, {}},
       {"StopDiscovery", {}, {}},
       {"RemoveDevice", {{"device", "o"}}, {}},
       {"GetDiscoveryFilters", {}, {{"filters", "as"}}},
       {"ConnectDevice", {{"properties", "a{sv}"}}, {}, /*experimental=*/true}},
      {{"Address", "s"},
       {"AddressType", "s"},
       {"Name", "s"},
       {"Alias", "s", true},
       {"Class", "u"},
       {"Powered", "b", true},
       {"PowerState", "s", false, true},
       {"Discoverable", "b", true},
       {"DiscoverableTimeout", "u", true},
       {"Pairable", "b", true},
       {"PairableTimeout", "u", true},
       {"Discovering", "b"},
       {"UUIDs", "as"},
       {"Modalias", "s"},
       {"Roles", "as"},
       {"ExperimentalFeatures", "as"}},
      {}};
  return s;
}

constexpr char kSystemName[] = "gattway-sim";

// btvirt's fixed addresses: hci0 00:AA:01:00:00:00, hci1 00:AA:01:01:00:01, ...
Address adapterAddress(int index) {
  const auto i = static_cast<std::uint8_t>(index);
  return Address({0x00, 0xAA, 0x01, i, 0x00, i});
}

}  // namespace

Adapter::Adapter(Context& ctx, int index)
    : dbus::Interface(interfaceSpec()),
      ctx_(ctx),
      index_(index),
      name_(absl::StrCat("hci", index)),
      address_(adapterAddress(index)),
      alias_(index == 0 ? std::string(kSystemName) : absl::StrCat(kSystemName, " #", index + 1)) {
  const std::string path = absl::StrCat("/org/bluez/", name_);
  ctx_.tree.add(path, this);
  gattManager_ = std::make_unique<GattManager>(*this);
  advertisingManager_ = std::make_unique<AdvertisingManager>(*this);
  ctx_.tree.add(path, gattManager_.get());
  ctx_.tree.add(path, advertisingManager_.get());
  ctx_.air.addListener(this);
  nameLost_ = ctx_.bus.onNameLost([this](const std::string& owner) { clientLeft(owner); });
}

Adapter::~Adapter() {
  ctx_.bus.removeNameLost(nameLost_);
  ctx_.air.removeListener(this);
  scanWaiters_.clear();
  // Devices go first (their GATT objects with them), then the managers, then Adapter1.
  found_.clear();
  connecting_ = nullptr;
  devices_.clear();
  advertisingManager_.reset();
  gattManager_.reset();
  if (tree() != nullptr) ctx_.tree.removeObject(path());
}

// --- properties -------------------------------------------------------------------------------

bool Adapter::has(int property) const {
  if (property == kExperimentalFeatures) return false;  // none
  return true;
}

void Adapter::get(int property, dbus::Writer& w) const {
  switch (property) {
    case kAddress: w.s(address_.toString()); break;
    case kAddressType: w.s("public"); break;
    case kName: w.s(kSystemName); break;
    case kAlias: w.s(alias_); break;
    case kClass: w.u(0); break;
    case kPowered: w.b(powered_); break;
    case kPowerState: w.s(powerState_); break;
    case kDiscoverable: w.b(discoverable_); break;
    case kDiscoverableTimeout: w.u(discoverableTimeout_); break;
    case kPairable: w.b(pairable_); break;
    case kPairableTimeout: w.u(pairableTimeout_); break;
    case kDiscovering: w.b(discovering_); break;
    case kUuids: {
      // The local GATT database: GAP, GATT, Device Information, and the registered applications.
      std::vector<std::string> uuids = {Uuid::fromShort(0x1800).toLongString(),
                                        Uuid::fromShort(0x1801).toLongString(),
                                        Uuid::fromShort(0x180A).toLongString()};
      for (const auto& u : gattManager_->serviceUuids()) {
        if (std::find(uuids.begin(), uuids.end(), u) == uuids.end()) uuids.push_back(u);
      }
      w.strings(uuids);
      break;
    }
    case kModalias: w.s("usb:v1D6Bp0246d0542"); break;  // BlueZ's default DeviceID
    case kRoles: w.strings({"central", "peripheral"}); break;
    case kExperimentalFeatures: w.strings({}); break;
  }
}

void Adapter::set(int property, const dbus::Value& value, dbus::Call call) {
  switch (property) {
    case kAlias: {
      const std::string& a = *value.asString();
      alias_ = a.empty() ? std::string(kSystemName) : a;  // "" reverts to Name
      call.reply();
      changed(kAlias);
      return;
    }
    case kPowered: {
      const bool on = *value.asBool();
      if (powerPending_) return call.errorWithoutMessage(bluez::kBusy);
      if (on == powered_) return call.reply();  // no signal
      call.reply();  // the reply first, the change when the kernel has done it (mgmt)
      setPowered(on);
      return;
    }
    case kDiscoverable: {
      const bool on = *value.asBool();
      if (on && !powered_ && discoverableTimeout_ != 0) return call.error(bluez::kFailed, "Not Powered");
      call.reply();
      if (on != discoverable_) {
        discoverable_ = on;
        changed(kDiscoverable);
      }
      return;
    }
    case kDiscoverableTimeout:
      discoverableTimeout_ = static_cast<std::uint32_t>(*value.asInt());
      call.reply();
      changed(kDiscoverableTimeout);  // every Set signals
      return;
    case kPairable: {
      const bool on = *value.asBool();
      call.reply();
      if (on != pairable_) {
        pairable_ = on;
        changed(kPairable);
      }
      return;
    }
    case kPairableTimeout:
      pairableTimeout_ = static_cast<std::uint32_t>(*value.asInt());
      call.reply();
      changed(kPairableTimeout);
      return;
    default:
      dbus::Interface::set(property, value, std::move(call));
  }
}

void Adapter::invoke(int method, dbus::Call call) {
  switch (method) {
    case kStartDiscovery: return startDiscovery(std::move(call));
    case kSetDiscoveryFilter: return setDiscoveryFilter(std::move(call));
    case kStopDiscovery: return stopDiscovery(std::move(call));
    case kRemoveDevice: return removeDeviceCall(std::move(call));
    case kGetDiscoveryFilters:
      return call.reply([](dbus::Writer& w) { w.strings(discoveryFilterKeys()); });
    case kConnectDevice: return connectDeviceCall(std::move(call));
  }
}

void Adapter::uuidsChanged() {
  changed(kUuids);
  hostedChanged();
}

// --- devices ----------------------------------------------------------------------------------

Device* Adapter::device(const Address& address) const {
  auto it = devices_.find(address);
  return it == devices_.end() ? nullptr : it->second.get();
}

std::vector<Device*> Adapter::devices() const {
  std::vector<Device*> out;
  for (const auto& [a, d] : devices_) out.push_back(d.get());
  return out;
}

Device& Adapter::deviceFor(Peripheral& peripheral) {
  auto& slot = devices_[peripheral.address()];
  if (slot == nullptr) {
    slot = std::make_unique<Device>(*this, ctx_, peripheral.address(), peripheral.addressType(),
                                    &peripheral);
    slot->seen(ctx_.loop.now(), peripheral.advertising().connectable);
    armSweep();
  }
  return *slot;
}

Device& Adapter::centralDevice(const Address& address, AddressType type) {
  auto& slot = devices_[address];
  if (slot == nullptr) {
    slot = std::make_unique<Device>(*this, ctx_, address, type, nullptr);
    slot->seen(ctx_.loop.now(), true);
    armSweep();
  }
  return *slot;
}

void Adapter::removeDevice(Device* device) {
  if (device == nullptr) return;
  found_.erase(device);
  if (connecting_ == device) connecting_ = nullptr;
  log::debug("sim.device.removed", {{"address", device->address().toString()}, {"adapter", name_}});
  devices_.erase(device->address());
}

void Adapter::removeDeviceCall(dbus::Call call) {
  std::string path;
  call.args().o(path);
  Device* target = nullptr;
  for (const auto& [a, d] : devices_) {
    if (d->path() == path) target = d.get();
  }
  if (target == nullptr) return call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
  if (!powered_) return call.error(bluez::kNotReady, bluez::kMsgNotReady);
  target->setTemporary(true);
  if (!target->linkBusy()) {
    // Removed at once (its InterfacesRemoved go out now), then the reply.
    removeDevice(target);
    return call.reply();
  }
  // Connected: disconnected first; the reply and the removal follow the disconnection.
  target->removeRequested(std::move(call), [this, target] { removeDevice(target); });
}

void Adapter::connectDeviceCall(dbus::Call call) {
  dbus::Dict props;
  if (!call.args().dict(props)) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  if (!powered_) return call.error(bluez::kNotReady, bluez::kMsgNotReady);
  std::optional<Address> address;
  AddressType type = AddressType::kPublic;
  bool le = false;
  for (const auto& [key, v] : props) {
    if (key == "Address" && v.signature == "s") {
      auto a = Address::parse(*v.asString());
      if (!a.ok()) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
      address = *a;
    } else if (key == "AddressType" && v.signature == "s") {
      auto t = parseAddressType(*v.asString());
      if (!t.ok()) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
      type = *t;
      le = true;
    } else {
      return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
    }
  }
  if (!address) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  if (device(*address) != nullptr) return call.error(bluez::kAlreadyExists, bluez::kMsgAlreadyExists);
  // Without AddressType the device is BR/EDR, which the simulated controllers do not do.
  if (!le) return call.error(bluez::kFailed, "Connect failed");
  Peripheral* p = ctx_.air.find(*address);
  auto& slot = devices_[*address];
  slot = std::make_unique<Device>(*this, ctx_, *address, type, p);
  slot->setTemporary(false);
  slot->connectDevice(std::move(call));
}

void Adapter::onPeripheralRemoved(Peripheral& peripheral) {
  const Address a = peripheral.address();
  if (Device* d = device(a)) d->dropLink(DropReason::kGone);
  // Looked up again: the drop may have completed a RemoveDevice and destroyed the object.
  if (Device* d = device(a)) d->setPeripheral(nullptr);
}

// --- link limits ------------------------------------------------------------------------------

bool Adapter::beginConnect(Device* device) {
  if (connecting_ != nullptr && connecting_ != device) return false;
  connecting_ = device;
  return true;
}

void Adapter::endConnect(Device* device) {
  if (connecting_ == device) connecting_ = nullptr;
}

int Adapter::linksInUse(const Device* except) const {
  int n = 0;
  for (const auto& [a, d] : devices_) {
    if (d.get() != except && d->linkBusy() && d->peripheral() != nullptr) ++n;
  }
  return n;
}

void Adapter::linkDown(Device* device) {
  if (connecting_ == device) connecting_ = nullptr;
  armSweep();
}

// --- power ------------------------------------------------------------------------------------

void Adapter::setPowered(bool on) {
  if (on == powered_ || powerPending_) return;
  powerPending_ = true;
  powerState_ = on ? "off-enabling" : "on-disabling";
  changed(kPowerState);
  powerTimer_ = ctx_.loop.runAfter(ctx_.options.scanLatency, [this, on] { applyPower(on); });
}

void Adapter::applyPower(bool on) {
  powerPending_ = false;
  log::info("sim.adapter.power", {{"adapter", name_}, {"powered", on}});
  if (!on) {
    // Every discovery session ends, links drop, temporary devices go at once. The controller is
    // reset: a wedged scan or connect is cured.
    ctx_.faults.powerCycled(name_);
    endAllDiscovery();
    for (Device* d : devices()) {
      if (d->linkBusy()) d->dropLink(DropReason::kPowerOff);
    }
    for (Device* d : devices()) {
      if (d->temporary() && !d->linkBusy()) removeDevice(d);
    }
  }
  powered_ = on;
  powerState_ = on ? "on" : "off";
  changed(kPowered);
  changed(kPowerState);
  advertisingManager_->poweredChanged(on);
}

// --- temporary devices ------------------------------------------------------------------------

void Adapter::armSweep() {
  if (sweepTimer_.held() || ctx_.options.temporaryTimeout <= absl::ZeroDuration()) return;
  // A sweep every second (or the timeout, if shorter) stands in for bluetoothd's per-device timers.
  const absl::Duration every = std::min(absl::Seconds(1), ctx_.options.temporaryTimeout);
  sweepTimer_ = ctx_.loop.runAfter(every, [this] {
    sweepTimer_ = Timer();
    sweepTemporary();
  });
}

void Adapter::sweepTemporary() {
  const absl::Time now = ctx_.loop.now();
  bool any = false;
  for (Device* d : devices()) {
    if (!d->temporary() || d->linkBusy() || !d->expiryArmed()) continue;
    if (now - d->lastSeen() >= ctx_.options.temporaryTimeout) {
      removeDevice(d);
      continue;
    }
    any = true;
  }
  if (any) armSweep();
}

}  // namespace gattway::sim
