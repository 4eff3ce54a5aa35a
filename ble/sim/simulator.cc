#include "ble/sim/simulator.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"
#include "ble/sim/control.h"

namespace gattway::sim {

Simulator::Simulator(EventLoop& loop, SimOptions options)
    : loop_(loop), options_(std::move(options)), ticker_(loop), air_(ticker_), rng_(options_.seed) {
  air_.setIntervalOverride(options_.advertisingInterval);
}

Simulator::~Simulator() {
  restartTimer_.cancel();
  control_.reset();
  daemon_.reset();
}

absl::Status Simulator::start(absl::AnyInvocable<void(absl::Status)> ready, bool control) {
  if (absl::Status s = addDevices(options_.fleet.devices); !s.ok()) return s;
  if (control) {
    auto bus = dbus::Bus::open(loop_, options_.busAddress);
    if (!bus.ok()) return bus.status();
    control_ = std::make_unique<ControlService>(*this, std::move(*bus));
  }
  return openDaemon({}, std::move(ready));
}

absl::Status Simulator::openDaemon(const std::vector<StoredDevice>& stored,
                                   absl::AnyInvocable<void(absl::Status)> ready) {
  auto bus = dbus::Bus::open(loop_, options_.busAddress);
  if (!bus.ok()) return bus.status();
  (*bus)->setOnClosed([this] {
    log::error("sim.bus_lost", {});
    if (onBusLost_) onBusLost_();
  });
  daemon_ = std::make_unique<Daemon>(
      Environment{loop_, ticker_, air_, options_, faults_, stats_, rng_}, std::move(*bus));
  auto shared = std::make_shared<absl::AnyInvocable<void(absl::Status)>>(std::move(ready));
  daemon_->start(stored, [shared](const std::string& error) {
    if (!*shared) return;
    auto fn = std::move(*shared);
    fn(error.empty() ? absl::OkStatus()
                     : err::make(err::Reason::kBluezUnavailable, absl::StrCat("org.bluez: ", error)));
  });
  return absl::OkStatus();
}

std::uint64_t Simulator::signalsSent() const {
  return signalsBefore_ + (daemon_ != nullptr ? daemon_->context().tree.signalsSent() : 0);
}

Adapter* Simulator::adapter(const std::string& name) const {
  return daemon_ != nullptr ? daemon_->adapter(name) : nullptr;
}

absl::Status Simulator::addDevices(const std::vector<DeviceSpec>& specs) {
  std::vector<std::unique_ptr<Peripheral>> made;
  for (const auto& spec : specs) {
    // Each device gets its own random stream, so one device's values do not depend on others.
    std::uint64_t seed = options_.seed;
    for (std::uint8_t b : spec.address.bytes()) seed = seed * 1099511628211ULL + b;
    auto p = Peripheral::create(spec, seed);
    if (!p.ok()) return p.status();
    made.push_back(std::move(*p));
  }
  for (auto& p : made) {
    const Address a = p->address();
    air_.add(std::move(p));
    // An adapter that already knew this address sees the device again.
    if (daemon_ != nullptr) {
      for (Adapter* ad : daemon_->adapters()) {
        if (Device* d = ad->device(a)) d->setPeripheral(air_.find(a));
      }
    }
  }
  return absl::OkStatus();
}

namespace {
absl::Status unknownDevice(const Address& a) {
  return err::make(err::Reason::kDeviceNotFound, absl::StrCat("no simulated device ", a.toString()));
}
}  // namespace

absl::Status Simulator::removeDevice(const Address& address) {
  if (!air_.remove(address)) return unknownDevice(address);
  return absl::OkStatus();
}

absl::Status Simulator::setRssi(const Address& address, int rssi) {
  Peripheral* p = air_.find(address);
  if (p == nullptr) return unknownDevice(address);
  if (rssi < -127 || rssi > 20) return err::invalidField("rssi", "must be -127..20 dBm");
  p->rssiMean() = rssi;
  return absl::OkStatus();
}

absl::Status Simulator::updateAdvertising(const Address& address, const AdvertisingUpdate& u) {
  Peripheral* p = air_.find(address);
  if (p == nullptr) return unknownDevice(address);
  AdvertisingSpec& a = p->advertising();
  if (u.name) a.name = *u.name;
  if (u.manufacturerData) a.manufacturerData = *u.manufacturerData;
  if (u.serviceData) a.serviceData = *u.serviceData;
  if (u.serviceUuids) a.serviceUuids = *u.serviceUuids;
  if (u.txPower) a.txPower = *u.txPower;
  if (u.connectable) a.connectable = *u.connectable;
  if (u.flags) a.flags = *u.flags;
  if (u.data) a.other = *u.data;
  if (u.interval) {
    if (*u.interval < absl::Milliseconds(1)) return err::invalidField("interval", "must be at least 1ms");
    a.interval = *u.interval;
  }
  p->advertisingChanged();
  return absl::OkStatus();
}

absl::Status Simulator::dropLink(const Address& address, DropReason reason) {
  if (daemon_ != nullptr) {
    for (Adapter* a : daemon_->adapters()) {
      Device* d = a->device(address);
      if (d != nullptr && d->linkBusy()) {
        d->dropLink(reason);
        return absl::OkStatus();
      }
    }
  }
  return err::make(err::Reason::kNotConnected, absl::StrCat(address.toString(), " has no link"));
}

void Simulator::failNextConnect(std::optional<Address> address, ConnectFaultSpec spec, int count) {
  faults_.addConnect(address, std::move(spec), count);
}

void Simulator::failNextGattOperation(std::optional<Address> address, GattFaultSpec spec, int count) {
  faults_.addGatt(address, std::move(spec), count);
}

absl::Status Simulator::wedgeDiscovery(const std::string& name, DiscoveryWedge wedge) {
  Adapter* a = adapter(name);
  if (a == nullptr) return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", name));
  faults_.wedgeDiscovery(name, wedge);
  a->wedgeDiscovery();
  return absl::OkStatus();
}

absl::Status Simulator::wedgeConnects(const std::string& name) {
  if (adapter(name) == nullptr) {
    return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", name));
  }
  faults_.wedgeConnects(name);
  return absl::OkStatus();
}

absl::Status Simulator::setPowered(const std::string& name, bool on) {
  Adapter* a = adapter(name);
  if (a == nullptr) return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", name));
  a->setPowered(on);
  return absl::OkStatus();
}

void Simulator::restartBluetoothd(absl::Duration pause, absl::AnyInvocable<void(absl::Status)> back) {
  std::vector<StoredDevice> stored;
  if (daemon_ != nullptr) {
    stored = daemon_->stored();
    signalsBefore_ += daemon_->context().tree.signalsSent();
    log::info("sim.bluetoothd.stopping", {{"pause_ms", absl::ToInt64Milliseconds(pause)}});
    // bluetoothd powers its adapters down on exit and up at start: wedged controllers are reset.
    for (Adapter* a : daemon_->adapters()) faults_.powerCycled(a->name());
    daemon_.reset();  // every object goes, the connection closes, org.bluez is released
  }
  auto shared = std::make_shared<absl::AnyInvocable<void(absl::Status)>>(std::move(back));
  restartTimer_ = loop_.runAfter(pause, [this, stored, shared] {
    absl::Status s = openDaemon(stored, [shared](absl::Status st) {
      if (*shared) (*shared)(st);
    });
    if (!s.ok() && *shared) (*shared)(s);
  });
}

void Simulator::setAdvertisingInterval(std::optional<absl::Duration> interval) {
  options_.advertisingInterval = interval;
  air_.setIntervalOverride(interval);
}

absl::StatusOr<std::string> Simulator::connectCentral(const std::string& adapterName,
                                                      const Address& address) {
  if (daemon_ == nullptr) return err::make(err::Reason::kBluezUnavailable, "bluetoothd is restarting");
  auto c = daemon_->connectCentral(adapterName, address);
  if (!c.ok()) return c.status();
  return (*c)->id();
}

RemoteCentral* Simulator::central(const std::string& id) const {
  return daemon_ != nullptr ? daemon_->central(id) : nullptr;
}

absl::Status Simulator::disconnectCentral(const std::string& id) {
  if (central(id) == nullptr) {
    return err::make(err::Reason::kDeviceNotFound, absl::StrCat("no central ", id));
  }
  daemon_->removeCentral(id);
  return absl::OkStatus();
}

}  // namespace gattway::sim
