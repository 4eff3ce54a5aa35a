#include "ble/sim/device.h"

#include <algorithm>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ble/log.h"
#include "ble/sim/adapter.h"
#include "ble/sim/errors.h"
#include "ble/sim/gatt_client.h"

namespace gattway::sim {
namespace {

enum Method { kDisconnect, kConnect, kConnectProfile, kDisconnectProfile, kPair, kCancelPairing };

const dbus::InterfaceSpec& interfaceSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.Device1",
      {{"Disconnect", {}, {}},
       {"Connect", {}, {}},
       {"ConnectProfile", {{"UUID", "s"}}, {}},
       {"DisconnectProfile", {{"UUID", "s"}}, {}},
       {"Pair", {}, {}},
       {"CancelPairing", {}, {}}},
      {{"Address", "s"},
       {"AddressType", "s"},
       {"Name", "s"},
       {"Alias", "s", true},
       {"Class", "u"},
       {"Appearance", "q"},
       {"Icon", "s"},
       {"Paired", "b"},
       {"Bonded", "b"},
       {"Trusted", "b", true},
       {"Blocked", "b", true},
       {"LegacyPairing", "b"},
       {"RSSI", "n"},
       {"Connected", "b"},
       {"UUIDs", "as"},
       {"Modalias", "s"},
       {"Adapter", "o"},
       {"ManufacturerData", "a{qv}"},
       {"ServiceData", "a{sv}"},
       {"TxPower", "n"},
       {"ServicesResolved", "b"},
       {"AdvertisingFlags", "ay", false, true},
       {"AdvertisingData", "a{yv}", false, true}},
      {}};
  return s;
}

// src/dbus-common.c gap_appearance_to_icon.
const char* iconFor(std::uint16_t appearance) {
  switch ((appearance & 0xffc0) >> 6) {
    case 0x00: return "unknown";
    case 0x01: return "phone";
    case 0x02: return "computer";
    case 0x05: return "video-display";
    case 0x0a: return "multimedia-player";
    case 0x0b: return "scanner";
    case 0x0f:
      switch (appearance & 0x3f) {
        case 0x01: return "input-keyboard";
        case 0x02: return "input-mouse";
        case 0x03:
        case 0x04: return "input-gaming";
        case 0x05: return "input-tablet";
        case 0x08: return "scanner";
      }
      break;
  }
  return nullptr;
}

// Private random addresses (resolvable 01, non-resolvable 00 in the top bits) stay temporary.
bool privateAddress(const Address& a, AddressType type) {
  return type == AddressType::kRandom && (a.bytes()[0] & 0xC0) != 0xC0;
}

}  // namespace

const char* dropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kLocal: return "local";
    case DropReason::kRemote: return "remote";
    case DropReason::kTimeout: return "timeout";
    case DropReason::kPowerOff: return "power-off";
    case DropReason::kGone: return "gone";
  }
  return "?";
}

Device::Device(Adapter& adapter, Context& ctx, const Address& address, AddressType type,
               Peripheral* peripheral)
    : dbus::Interface(interfaceSpec()),
      adapter_(adapter),
      ctx_(ctx),
      address_(address),
      addressType_(type),
      peripheral_(peripheral),
      gatt_(std::make_unique<GattClient>(*this)) {
  ctx_.tree.add(absl::StrCat(adapter_.path(), "/", address_.bluezPathComponent()), this);
}

Device::~Device() {
  // The link goes with the object (a removed device, a power-off, a daemon restart).
  adapter_.endConnect(this);
  if (peripheral_ != nullptr && link_ == Link::kConnected &&
      peripheral_->connectedTo() == adapter_.name()) {
    peripheral_->setConnectedTo("");
    peripheral_->setPushHandler(nullptr);
  }
  // Children first, as bluetoothd does (the GATT objects go before Device1).
  gatt_.reset();
  if (tree() != nullptr) ctx_.tree.removeObject(path());
}

// --- properties -------------------------------------------------------------------------------

std::string Device::alias() const {
  if (aliasSet_) return *aliasSet_;
  if (name_) return *name_;
  return absl::StrReplaceAll(address_.toString(), {{":", "-"}});
}

bool Device::has(int property) const {
  switch (property) {
    case kName: return name_.has_value();
    case kClass: return false;  // LE only: no Class of Device
    case kAppearance: return appearance_.has_value();
    case kIcon: return appearance_.has_value() && iconFor(*appearance_) != nullptr;
    case kRssi: return rssi_ != 0;
    case kModalias: return false;
    case kManufacturerData: return !manufacturerData_.empty();
    case kServiceData: return !serviceData_.empty();
    case kTxPower: return txPower_ != 127;
    case kAdvertisingFlags: return advertisingFlags_.has_value();
    case kAdvertisingData: return !advertisingData_.empty();
    default: return true;
  }
}

void Device::get(int property, dbus::Writer& w) const {
  switch (property) {
    case kAddress: w.s(address_.toString()); break;
    case kAddressType: w.s(addressTypeName(addressType_)); break;
    case kName: w.s(name_.value_or("")); break;
    case kAlias: w.s(alias()); break;
    case kClass: w.u(0); break;
    case kAppearance: w.q(appearance_.value_or(0)); break;
    case kIcon: w.s(iconFor(appearance_.value_or(0)) ? iconFor(*appearance_) : ""); break;
    case kPaired: w.b(paired_); break;
    case kBonded: w.b(bonded_); break;
    case kTrusted: w.b(trusted_); break;
    case kBlocked: w.b(blocked_); break;
    case kLegacyPairing: w.b(false); break;
    case kRssi: w.n(rssi_); break;
    case kConnected: w.b(connectedProperty_); break;
    case kUuids: w.strings(uuids_); break;
    case kModalias: w.s(""); break;
    case kAdapter: w.o(adapter_.path()); break;
    case kManufacturerData:
      w.open('a', "{qv}");
      for (const auto& [id, bytes] : manufacturerData_) {
        w.open('e', "qv").q(id).open('v', "ay").bytes(bytes).close().close();
      }
      w.close();
      break;
    case kServiceData:
      w.open('a', "{sv}");
      for (const auto& [uuid, bytes] : serviceData_) w.entryBytes(uuid, bytes);
      w.close();
      break;
    case kTxPower: w.n(txPower_); break;
    case kServicesResolved: w.b(servicesResolved_); break;
    case kAdvertisingFlags: {
      const std::uint8_t f = advertisingFlags_.value_or(0);
      w.bytes({&f, 1});
      break;
    }
    case kAdvertisingData:
      w.open('a', "{yv}");
      for (const auto& [type, bytes] : advertisingData_) {
        w.open('e', "yv").y(type).open('v', "ay").bytes(bytes).close().close();
      }
      w.close();
      break;
  }
}

void Device::set(int property, const dbus::Value& value, dbus::Call call) {
  switch (property) {
    case kAlias: {
      const std::string& a = *value.asString();
      if (a.empty()) {
        aliasSet_.reset();
      } else {
        aliasSet_ = a;
      }
      call.reply();
      changed(kAlias);
      return;
    }
    case kTrusted: {
      const bool t = *value.asBool();
      call.reply();
      if (t != trusted_) {
        trusted_ = t;
        changed(kTrusted);
      }
      return;
    }
    case kBlocked: {
      const bool b = *value.asBool();
      call.reply();
      if (b == blocked_) return;
      blocked_ = b;
      changed(kBlocked);
      if (b) {
        temporary_ = false;
        if (linkBusy()) dropLink(DropReason::kLocal);
      }
      return;
    }
    default:
      dbus::Interface::set(property, value, std::move(call));
  }
}

void Device::invoke(int method, dbus::Call call) {
  switch (method) {
    case kDisconnect: return disconnect(std::move(call));
    case kConnect: return connect(std::move(call));
    case kConnectProfile:
      // BR/EDR profiles only; an LE-only device has none to connect.
      return call.error(bluez::kNotAvailable, "br-connection-profile-unavailable");
    case kDisconnectProfile: return call.error(bluez::kNotSupported, bluez::kMsgNotSupported);
    case kPair: return pair(std::move(call));
    case kCancelPairing: return cancelPairing(std::move(call));
  }
}

void Device::restore(bool paired, bool trusted) {
  temporary_ = false;
  paired_ = bonded_ = paired;
  trusted_ = trusted;
}

// --- Connect / Disconnect ---------------------------------------------------------------------

void Device::connect(dbus::Call call) {
  if (link_ == Link::kConnected) return call.reply();  // LE: already connected is a success
  if (link_ == Link::kConnecting) {
    return call.error(bluez::kFailed, bluez::kMsgBusy);  // strerror(EALREADY)
  }
  if (!privateAddress(address_, addressType_)) temporary_ = false;
  const std::optional<ConnectFaultSpec> fault = ctx_.faults.takeConnect(address_);
  if (fault && fault->kind == ConnectFault::kInProgress) {
    return call.error(bluez::kInProgress, bluez::kMsgBusy);
  }
  if (fault && fault->kind == ConnectFault::kFailed) {
    return call.error(bluez::kFailed, fault->message.empty() ? "Input/output error" : fault->message);
  }
  // A powered-off controller refuses the socket's connect at once: 5.66 says strerror(EIO).
  if (!adapter_.powered()) return call.error(bluez::kFailed, "Input/output error");
  // A wedged controller still holds a create-connection it never finishes: every connect meets
  // it until a power cycle resets the controller (faults.h, wedgeConnects).
  if (ctx_.faults.connectsWedged(adapter_.name())) return call.error(bluez::kInProgress, bluez::kMsgBusy);
  // A controller creates one LE connection at a time.
  if (!adapter_.beginConnect(this)) return call.error(bluez::kInProgress, bluez::kMsgBusy);
  connectCall_ = std::move(call);
  link_ = Link::kConnecting;
  log::debug("sim.device.connecting", {{"address", address_.toString()}, {"adapter", adapter_.name()}});

  if (fault && fault->kind == ConnectFault::kHang) return;  // until Disconnect() cancels it
  if (fault && fault->kind == ConnectFault::kTimeout) {
    const absl::Duration t = fault->delay > absl::ZeroDuration() ? fault->delay : ctx_.options.leConnectTimeout;
    connectTimer_ = ctx_.loop.runAfter(t, [this] { failConnect(bluez::kFailed, bluez::kLeAbortByLocal); });
    return;
  }
  if (adapter_.linksInUse(this) >= ctx_.options.connectionSlots) {
    // The controller refuses (Connection Limit Exceeded); 5.66 reports abort-by-local.
    connectTimer_ = ctx_.loop.runAfter(ctx_.options.attLatency,
                                       [this] { failConnect(bluez::kFailed, bluez::kLeAbortByLocal); });
    return;
  }
  // The kernel connects by address (hci_connect_le_scan): a device that left the air and came
  // back is found again without a discovery run in between.
  if (peripheral_ == nullptr) peripheral_ = ctx_.air.find(address_);
  const bool reachable = peripheral_ != nullptr && peripheral_->advertisingNow() &&
                         peripheral_->advertising().connectable;
  if (!reachable) {
    // Nobody answers the connection request until the kernel gives up.
    connectTimer_ = ctx_.loop.runAfter(ctx_.options.leConnectTimeout,
                                       [this] { failConnect(bluez::kFailed, bluez::kLeAbortByLocal); });
    return;
  }
  abortAfterUp_ = fault && fault->kind == ConnectFault::kAbortByLocal;
  // The initiator waits for the device's next advertising event.
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const absl::Duration wait =
      std::min(peripheral_->advertising().interval, absl::Milliseconds(100)) * u(ctx_.rng);
  absl::Duration latency = peripheral_->spec().connectLatency + wait;
  if (fault) latency += fault->delay;
  connectTimer_ = ctx_.loop.runAfter(latency, [this] { linkUp(); });
}

void Device::linkUp() {
  if (abortAfterUp_) {
    // Established, then lost at once (HCI 0x3e): the kernel saw Connected, the ATT channel failed.
    abortAfterUp_ = false;
    connectedProperty_ = true;
    changed(kConnected);
    failConnect(bluez::kFailed, bluez::kLeAbortByLocal);
    connectedProperty_ = false;
    changed(kConnected);
    return;
  }
  adapter_.endConnect(this);
  link_ = Link::kConnected;
  expiryArmed_ = false;
  ++ctx_.stats.connects;
  peripheral_->setConnectedTo(adapter_.name());
  mtu_ = std::min<std::uint16_t>(ctx_.options.adapterMtu, peripheral_->spec().mtu);
  log::info("sim.device.connected", {{"address", address_.toString()}, {"adapter", adapter_.name()}});
  connectedProperty_ = true;
  // Real 5.66: when the ATT channel comes up before the mgmt Device Connected event, bluetoothd
  // never signals Connected=true (device_add_connection "already connected").
  if (!ctx_.quirk()) changed(kConnected);
  // The reply goes when the ATT channel is up, before service discovery; sending it flushes the
  // queued Connected=true first.
  if (connectReturnsPath_) {
    connectCall_.reply([&](dbus::Writer& w) { w.o(path()); });
  } else {
    connectCall_.reply();
  }
  connectReturnsPath_ = false;
  peripheral_->setPushHandler([this](Peripheral::Characteristic& c) {
    if (c.ccc != 0 && peripheral_ != nullptr) {
      gatt_->notification(c.valueHandle, peripheral_->notification(c, ctx_.loop.now()));
    }
  });
  armLinkDropTimer();
  if (pairCall_) startPairing();
  // MTU exchange, then primary/characteristic/descriptor discovery: a few round trips each.
  const auto rounds = static_cast<std::int64_t>(2 + gatt_->attributeCount(*peripheral_) / 4);
  discoveryTimer_ = ctx_.loop.runAfter(ctx_.options.attLatency * rounds, [this] { servicesDiscovered(); });
}

void Device::servicesDiscovered() {
  std::vector<std::string> uuids;
  for (const auto& u : peripheral_->serviceUuids()) uuids.push_back(u.toLongString());
  if (uuids != uuids_) {
    uuids_ = std::move(uuids);
    changed(kUuids);
  }
  const bool fresh = !gatt_->exported() || !gatt_->matches(*peripheral_);
  if (fresh && gatt_->exported()) gatt_->removeObjects();  // the peer's database changed
  gatt_->linkUp(mtu_);
  if (fresh && ctx_.quirk()) {
    // Real 5.66 now and then: ServicesResolved=true goes out before the objects' InterfacesAdded.
    servicesResolved_ = true;
    changed(kServicesResolved, /*flush=*/true);
    discoveryTimer_ = ctx_.loop.runAfter(absl::ZeroDuration(), [this] { gatt_->exportObjects(); });
    return;
  }
  if (fresh) {
    gatt_->exportObjects();
    // Whatever was queued before (this device's own changes too) goes out now, so the objects'
    // InterfacesAdded precede ServicesResolved=true.
    ctx_.tree.flush();
  }
  servicesResolved_ = true;
  changed(kServicesResolved);
}

void Device::failConnect(const char* name, const std::string& message) {
  connectTimer_.cancel();
  adapter_.endConnect(this);
  link_ = Link::kDisconnected;
  ++ctx_.stats.connectFailures;
  log::info("sim.device.connect_failed", {{"address", address_.toString()}, {"error", message}});
  if (connectReturnsPath_) {
    // 5.66 answers a failed ConnectDevice with the malformed name "org.bluez.Failed", no message.
    connectCall_.errorWithoutMessage("org.bluez.Failed");
  } else {
    connectCall_.error(name, message);
  }
  connectReturnsPath_ = false;
  if (pairCall_) pairCall_.error(bluez::kConnectionAttemptFailed, "Page Timeout");
}

void Device::cancelConnect() {
  // A pending Connect() ends with "br-connection-canceled", even on LE (5.66).
  connectTimer_.cancel();
  adapter_.endConnect(this);
  link_ = Link::kDisconnected;
  abortAfterUp_ = false;
  connectCall_.error(bluez::kFailed, bluez::kBrCanceled);
}

void Device::disconnect(dbus::Call call) {
  if (link_ == Link::kConnecting) cancelConnect();
  if (pairCall_) {
    pairTimer_.cancel();
    pairCall_.error(bluez::kAuthenticationCanceled, "Authentication Canceled");
  }
  if (link_ != Link::kConnected) return call.reply();  // never NotConnected
  disconnectCalls_.push_back(std::move(call));
  if (!graceTimer_.held()) {
    graceTimer_ = ctx_.loop.runAfter(ctx_.options.disconnectGrace,
                                     [this] { removeConnection(DropReason::kLocal); });
  }
}

void Device::connectDevice(dbus::Call call) {
  connectReturnsPath_ = true;
  connect(std::move(call));
  // connect() may have answered at once (a fault); then the flag must not linger.
  if (link_ != Link::kConnecting) connectReturnsPath_ = false;
}

void Device::dropLink(DropReason reason) {
  if (link_ == Link::kConnecting) return cancelConnect();
  if (link_ == Link::kConnected) removeConnection(reason);
}

void Device::removeRequested(dbus::Call call, absl::AnyInvocable<void()> done) {
  if (link_ == Link::kConnecting) dropLink(DropReason::kLocal);
  if (link_ != Link::kConnected) {
    done();        // removed (this object with it), then the reply, as bluetoothd does
    call.reply();  // `call` is ours, not the destroyed object's
    return;
  }
  afterDisconnect_.push_back(std::move(done));
  disconnect(std::move(call));
}

void Device::removeConnection(DropReason reason) {
  graceTimer_.cancel();
  dropTimer_.cancel();
  discoveryTimer_.cancel();
  link_ = Link::kDisconnected;
  if (peripheral_ != nullptr && peripheral_->connectedTo() == adapter_.name()) {
    peripheral_->setConnectedTo("");
    peripheral_->setPushHandler(nullptr);
  }
  adapter_.linkDown(this);
  if (reason != DropReason::kLocal) ++ctx_.stats.linkDrops;
  log::info("sim.device.disconnected",
            {{"address", address_.toString()}, {"reason", dropReasonName(reason)}});
  // src/device.c device_remove_connection: ServicesResolved=false queued, the waiting calls
  // answered (each answer flushes what is queued), then Connected=false from the idle callback.
  if (servicesResolved_) {
    servicesResolved_ = false;
    changed(kServicesResolved);
  }
  connectCall_.error(bluez::kFailed, bluez::kBrCanceled);
  gatt_->linkDown();
  for (auto& c : disconnectCalls_) c.reply();
  disconnectCalls_.clear();
  if (paired_ && !bonded_) {
    paired_ = false;
    changed(kPaired);
  }
  connectedProperty_ = false;
  changed(kConnected);
  auto after = std::move(afterDisconnect_);
  afterDisconnect_.clear();
  for (auto& f : after) f();  // may destroy this device (RemoveDevice): nothing after this
}

void Device::armLinkDropTimer() {
  if (peripheral_ == nullptr) return;
  const absl::Duration mean = peripheral_->spec().linkDropInterval;
  if (mean <= absl::ZeroDuration()) return;
  std::exponential_distribution<double> e(1.0);
  dropTimer_ = ctx_.loop.runAfter(mean * e(ctx_.rng), [this] {
    log::info("sim.device.link_lost", {{"address", address_.toString()}});
    removeConnection(DropReason::kTimeout);
  });
}

void Device::centralConnected(std::uint16_t mtu) {
  link_ = Link::kConnected;
  mtu_ = mtu;
  temporary_ = true;
  connectedProperty_ = true;
  changed(kConnected);
}

void Device::centralDisconnected() {
  link_ = Link::kDisconnected;
  connectedProperty_ = false;
  changed(kConnected);
}

// --- Pair -------------------------------------------------------------------------------------

void Device::pair(dbus::Call call) {
  if (pairCall_) return call.error(bluez::kInProgress, bluez::kMsgInProgress);
  if (paired_) return call.error(bluez::kAlreadyExists, "Already Paired");
  if (!privateAddress(address_, addressType_)) temporary_ = false;
  pairCall_ = std::move(call);
  if (link_ == Link::kConnected) return startPairing();
  // LE pairing connects first; linkUp() continues, failConnect() answers the failure.
  if (link_ == Link::kDisconnected) connect(dbus::Call());
  if (link_ == Link::kDisconnected) pairCall_.error(bluez::kConnectionAttemptFailed, "Page Timeout");
}

void Device::startPairing() {
  // Just Works (the caller's agent, or NoInputNoOutput without one), bonded. The reply comes
  // after pairing (and 5.66 browses again before answering).
  pairTimer_ = ctx_.loop.runAfter(ctx_.options.attLatency * 10, [this] {
    paired_ = true;
    bonded_ = true;
    changed(kPaired);
    changed(kBonded);
    pairCall_.reply();
  });
}

void Device::cancelPairing(dbus::Call call) {
  if (pairCall_) {
    pairTimer_.cancel();
    pairCall_.error(bluez::kAuthenticationCanceled, "Authentication Canceled");
    return call.reply();
  }
  call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
  // 5.66 also sends mgmt Unpair Device (with disconnect) when nothing was pending.
  if (paired_ || bonded_) {
    paired_ = bonded_ = false;
    changed(kPaired);
    changed(kBonded);
  }
  if (link_ == Link::kConnected) removeConnection(DropReason::kLocal);
}

}  // namespace gattway::sim
