#include "ble/bluez/bluez_central_backend.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ble/bluez/bus.h"
#include "ble/bluez/connect_op.h"
#include "ble/bluez/device_ops.h"
#include "ble/bluez/errors.h"
#include "ble/bluez/paths.h"
#include "ble/bluez/proxies/adapter1.h"
#include "ble/bluez/proxies/device1.h"
#include "ble/bluez/proxies/gatt_characteristic1.h"
#include "ble/bluez/proxies/gatt_descriptor1.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

using bluez::MirrorEvent;
using bluez::OpRegistry;
using bluez::SimpleOp;

namespace {

// Calls that take no timeout from the domain still get one: nothing waits forever.
constexpr absl::Duration kAdapterCallTimeout = absl::Seconds(10);
constexpr absl::Duration kDiscoveryTimeout = absl::Seconds(30);
constexpr absl::Duration kStopNotifyTimeout = absl::Seconds(10);

}  // namespace

BluezCentralBackend::BluezCentralBackend(dbus::LoopConnection& connection, Metrics& metrics,
                                         std::size_t maxCallsInFlight)
    : connection_(connection),
      calls_(bluez::rawBus(connection.get()), connection.loop(), maxCallsInFlight),
      discovery_(*this, [this](const std::string& adapter) { reportKnownDevices(adapter); }),
      notify_(*this),
      watcher_(bluez::rawBus(connection.get()), calls_, connection.loop(), mirror_, metrics, *this),
      ops_(connection.loop()) {}

BluezCentralBackend::BluezCentralBackend(std::unique_ptr<dbus::LoopConnection> connection,
                                         Metrics& metrics)
    : BluezCentralBackend(*connection, metrics) {
  ownedConnection_ = std::move(connection);
}

absl::StatusOr<std::unique_ptr<BluezCentralBackend>> BluezCentralBackend::open(
    EventLoop& loop, const std::string& busAddress, Metrics& metrics) {
  auto bus = dbus::openBus(busAddress);
  if (!bus.ok()) return bus.status();
  auto connection = std::make_unique<dbus::LoopConnection>(loop, std::move(*bus));
  return std::unique_ptr<BluezCentralBackend>(
      new BluezCentralBackend(std::move(connection), metrics));
}

BluezCentralBackend::~BluezCentralBackend() { listener_ = nullptr; }

void BluezCentralBackend::start(CentralBackendListener* listener) {
  listener_ = listener;
  watcher_.start();
}

void BluezCentralBackend::stop() {
  if (listener_ == nullptr && !watcher_.up()) {
    watcher_.stop();
    return;
  }
  listener_ = nullptr;  // nothing more is reported, not even the failures below
  ops_.failAll(bluez::shuttingDown());
  discovery_.releaseAll();
  notify_.releaseAll();
  // Links the gateway opened and nobody closed: BLE links are not left open behind it.
  for (const auto& [adapter, address] : openedLinks_) {
    const bluez::DeviceNode* d = mirror_.device(adapter, address);
    if (d == nullptr || !d->info.connected) continue;
    bluez::Device1Proxy(calls_, d->path)
        .disconnect(kAdapterCallTimeout, [](absl::Status) {})
        .release();
  }
  openedLinks_.clear();
  watcher_.stop();
  mirror_.clear();
}

// --- the mirror --------------------------------------------------------------------------------

bool BluezCentralBackend::bluezUp() const { return watcher_.up(); }

std::vector<AdapterInfo> BluezCentralBackend::adapters() const {
  std::vector<AdapterInfo> out;
  for (const auto* a : mirror_.adapters()) out.push_back(a->info);
  return out;
}

const DeviceInfo* BluezCentralBackend::device(const std::string& adapter,
                                              const Address& address) const {
  const bluez::DeviceNode* d = mirror_.device(adapter, address);
  return d == nullptr ? nullptr : &d->info;
}

std::vector<const DeviceInfo*> BluezCentralBackend::devices(const std::string& adapter) const {
  std::vector<const DeviceInfo*> out;
  for (const auto* d : mirror_.devices(adapter)) out.push_back(&d->info);
  return out;
}

std::optional<std::uint16_t> BluezCentralBackend::mtu(const std::string& adapter,
                                                      const Address& address) const {
  const bluez::DeviceNode* d = mirror_.device(adapter, address);
  if (d == nullptr || !d->info.connected) return std::nullopt;
  return bluez::ObjectMirror::mtu(*d);
}

// --- helpers -----------------------------------------------------------------------------------

std::optional<absl::Status> BluezCentralBackend::precheck(const std::string& adapter,
                                                          const Address* address) const {
  if (!watcher_.up()) return bluez::bluezUnavailable();
  if (mirror_.adapter(adapter) == nullptr) return bluez::adapterNotFound(adapter);
  if (address != nullptr && mirror_.device(adapter, *address) == nullptr) {
    return bluez::deviceNotFound(adapter, *address);
  }
  return std::nullopt;
}

template <typename Result>
Operation BluezCentralBackend::failLater(absl::Status status, Callback<Result> done) {
  auto& op = ops_.emplace<SimpleOp<Result>>(std::move(done));
  op.finishLater(Result(std::move(status)));
  return ops_.operation(op.id());
}

// --- adapters and discovery --------------------------------------------------------------------

Operation BluezCentralBackend::setPowered(const std::string& adapter, bool powered,
                                          StatusCallback done) {
  if (auto s = precheck(adapter)) return failLater<absl::Status>(*s, std::move(done));
  auto& op = ops_.emplace<SimpleOp<absl::Status>>(std::move(done));
  op.armDeadline(kAdapterCallTimeout, absl::StrCat("power ", adapter, powered ? " on" : " off"));
  op.hold(bluez::Adapter1Proxy(calls_, bluez::adapterPath(adapter))
              .setPowered(powered, kAdapterCallTimeout, op.completer()));
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::startDiscovery(const std::string& adapter,
                                              const DiscoveryFilter& filter, StatusCallback done) {
  if (auto s = precheck(adapter)) return failLater<absl::Status>(*s, std::move(done));
  auto& op = ops_.emplace<SimpleOp<absl::Status>>(std::move(done));
  op.armDeadline(kDiscoveryTimeout, absl::StrCat("start discovery on ", adapter));
  discovery_.want(adapter, filter, op.completer());
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::stopDiscovery(const std::string& adapter, StatusCallback done) {
  if (auto s = precheck(adapter)) return failLater<absl::Status>(*s, std::move(done));
  auto& op = ops_.emplace<SimpleOp<absl::Status>>(std::move(done));
  op.armDeadline(kDiscoveryTimeout, absl::StrCat("stop discovery on ", adapter));
  discovery_.unwant(adapter, op.completer());
  return ops_.operation(op.id());
}

void BluezCentralBackend::reportKnownDevices(const std::string& adapter) {
  // Copy the keys first: the listener may change the tree (or stop us) while we report.
  std::vector<Address> addresses;
  for (const auto* d : mirror_.devices(adapter)) addresses.push_back(d->info.address);
  for (const auto& address : addresses) {
    const bluez::DeviceNode* d = mirror_.device(adapter, address);
    if (d != nullptr && listener_ != nullptr) {
      listener_->onDeviceChanged(d->info, device_change::kAdvertisement);
    }
  }
}

// --- links -------------------------------------------------------------------------------------

Operation BluezCentralBackend::connect(const std::string& adapter, const Address& address,
                                       AddressType addressType, absl::Duration timeout,
                                       StatusCallback done) {
  if (auto s = precheck(adapter)) return failLater<absl::Status>(*s, std::move(done));
  auto& op = ops_.emplace<bluez::ConnectOp>(context(), adapter, address, addressType, std::move(done));
  op.start(timeout);
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::disconnect(const std::string& adapter, const Address& address,
                                          StatusCallback done) {
  if (auto s = precheck(adapter)) return failLater<absl::Status>(*s, std::move(done));
  openedLinks_.erase({adapter, address});
  // Attempts that have not reached BlueZ yet end here; one whose Connect is pending gets BlueZ's
  // answer to that (the Disconnect below cancels it).
  for (std::uint64_t id : ops_.ids()) {
    if (auto* c = dynamic_cast<bluez::ConnectOp*>(ops_.find(id))) {
      if (c->adapter() == adapter && c->address() == address) c->cancelByDisconnect();
    }
  }
  auto& op = ops_.emplace<bluez::DisconnectOp>(context(), adapter, address, std::move(done));
  op.start();
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::resolveServices(
    const std::string& adapter, const Address& address, absl::Duration timeout,
    Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done) {
  if (auto s = precheck(adapter)) {
    return failLater<absl::StatusOr<std::vector<GattServiceInfo>>>(*s, std::move(done));
  }
  auto& op = ops_.emplace<bluez::ResolveServicesOp>(context(), adapter, address, std::move(done));
  op.start(timeout);
  return ops_.operation(op.id());
}

// --- GATT --------------------------------------------------------------------------------------

Operation BluezCentralBackend::read(const std::string& adapter, const Address& address,
                                    std::uint16_t handle, std::uint16_t offset,
                                    absl::Duration timeout,
                                    Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) {
  using Result = absl::StatusOr<std::vector<std::uint8_t>>;
  if (auto s = precheck(adapter, &address)) return failLater<Result>(*s, std::move(done));
  const auto ref = bluez::ObjectMirror::attribute(*mirror_.device(adapter, address), handle);
  if (!ref) return failLater<Result>(bluez::attributeNotFound(address, handle), std::move(done));
  auto send = [this, path = ref->path, descriptor = ref->isDescriptor, offset,
               timeout](Callback<Result> finish) {
    if (descriptor) {
      return bluez::GattDescriptor1Proxy(calls_, path).readValue(offset, timeout,
                                                                 std::move(finish));
    }
    return bluez::GattCharacteristic1Proxy(calls_, path).readValue(offset, timeout,
                                                                   std::move(finish));
  };
  auto& op = ops_.emplace<bluez::QueuedGattOp<Result>>(attributeQueues_, ref->path,
                                                       std::move(send), std::move(done));
  op.start(timeout, absl::StrCat("read ", bluez::handleText(handle), " of ", address.toString()));
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::write(const std::string& adapter, const Address& address,
                                     std::uint16_t handle, std::vector<std::uint8_t> value,
                                     WriteType type, std::uint16_t offset,
                                     absl::Duration timeout, StatusCallback done) {
  if (auto s = precheck(adapter, &address)) return failLater<absl::Status>(*s, std::move(done));
  const auto ref = bluez::ObjectMirror::attribute(*mirror_.device(adapter, address), handle);
  if (!ref) {
    return failLater<absl::Status>(bluez::attributeNotFound(address, handle), std::move(done));
  }
  auto send = [this, path = ref->path, descriptor = ref->isDescriptor, value = std::move(value),
               type, offset, timeout](StatusCallback finish) {
    if (descriptor) {
      return bluez::GattDescriptor1Proxy(calls_, path).writeValue(value, offset, timeout,
                                                                  std::move(finish));
    }
    return bluez::GattCharacteristic1Proxy(calls_, path).writeValue(value, type, offset, timeout,
                                                                    std::move(finish));
  };
  auto& op = ops_.emplace<bluez::QueuedGattOp<absl::Status>>(attributeQueues_, ref->path,
                                                             std::move(send), std::move(done));
  op.start(timeout, absl::StrCat("write ", bluez::handleText(handle), " of ", address.toString()));
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::startNotify(const std::string& adapter, const Address& address,
                                           std::uint16_t characteristicHandle, NotifyMethod method,
                                           absl::Duration timeout, StatusCallback done) {
  if (auto s = precheck(adapter, &address)) return failLater<absl::Status>(*s, std::move(done));
  const auto ref =
      bluez::ObjectMirror::attribute(*mirror_.device(adapter, address), characteristicHandle);
  if (!ref || ref->isDescriptor) {
    return failLater<absl::Status>(bluez::attributeNotFound(address, characteristicHandle),
                                   std::move(done));
  }
  auto& op = ops_.emplace<SimpleOp<absl::Status>>(std::move(done));
  op.armDeadline(timeout, absl::StrCat("subscribe to ", bluez::handleText(characteristicHandle),
                                       " of ", address.toString()));
  notify_.start(ref->path, adapter, address, characteristicHandle, method, timeout,
                op.completer());
  return ops_.operation(op.id());
}

Operation BluezCentralBackend::stopNotify(const std::string& adapter, const Address& address,
                                          std::uint16_t characteristicHandle, StatusCallback done) {
  if (auto s = precheck(adapter)) return failLater<absl::Status>(*s, std::move(done));
  auto& op = ops_.emplace<SimpleOp<absl::Status>>(std::move(done));
  op.armDeadline(kStopNotifyTimeout,
                 absl::StrCat("unsubscribe from ", bluez::handleText(characteristicHandle), " of ",
                              address.toString()));
  const bluez::DeviceNode* d = mirror_.device(adapter, address);
  const auto ref = d == nullptr ? std::nullopt : bluez::ObjectMirror::attribute(*d, characteristicHandle);
  if (!ref || ref->isDescriptor) {
    op.finishLater(absl::OkStatus());  // nothing there, so nothing subscribed
    return ops_.operation(op.id());
  }
  notify_.stop(ref->path, op.completer());
  return ops_.operation(op.id());
}

// --- BackendContext ----------------------------------------------------------------------------

void BluezCentralBackend::applyDeviceProperties(absl::string_view adapter, const Address& address,
                                                const bluez::PropertyMap& properties) {
  bluez::MirrorEvents events;
  static const std::vector<std::string> kNone;
  mirror_.propertiesChanged(bluez::devicePath(adapter, address), bluez::iface::kDevice, properties,
                            kNone, events);
  if (!events.empty()) mirrorChanged(events);
}

void BluezCentralBackend::syncDevice(absl::string_view adapter, const Address& address,
                                     const std::vector<bluez::ManagedObject>& objects) {
  bluez::MirrorEvents events;
  mirror_.syncDevice(adapter, address, objects, events);
  if (!events.empty()) mirrorChanged(events);
}

bool BluezCentralBackend::connectDeviceMissing(absl::string_view adapter) const {
  return noConnectDevice_.find(adapter) != noConnectDevice_.end();
}

void BluezCentralBackend::setConnectDeviceMissing(absl::string_view adapter) {
  noConnectDevice_.emplace(adapter);
}

void BluezCentralBackend::noteLinkOpened(absl::string_view adapter, const Address& address) {
  openedLinks_.emplace(std::string(adapter), address);
}

// --- BluezWatcher::Observer --------------------------------------------------------------------

void BluezCentralBackend::bluezAppeared() {
  discovery_.bluezUp();
  if (listener_ != nullptr) listener_->onBackendUp();
}

void BluezCentralBackend::bluezVanished() {
  // bluetoothd took its sessions, links and objects with it.
  discovery_.bluezDown();
  notify_.bluezDown();
  openedLinks_.clear();
  noConnectDevice_.clear();
  ops_.failAll(bluez::bluezUnavailable());
  if (listener_ != nullptr) listener_->onBackendDown();
}

void BluezCentralBackend::mirrorChanged(const bluez::MirrorEvents& events) {
  constexpr std::uint32_t kLinkChanges =
      device_change::kAdded | device_change::kConnected | device_change::kServicesResolved;
  for (const auto& e : events) {
    switch (e.kind) {
      case MirrorEvent::Kind::kAdapterChanged:
        if (const bluez::AdapterNode* a = mirror_.adapter(e.adapter)) {
          discovery_.adapterChanged(a->info);
          if (listener_ != nullptr) listener_->onAdapterChanged(a->info);
        }
        break;
      case MirrorEvent::Kind::kAdapterRemoved:
        discovery_.adapterRemoved(e.adapter);
        if (listener_ != nullptr) listener_->onAdapterRemoved(e.adapter);
        break;
      case MirrorEvent::Kind::kDeviceChanged: {
        const bluez::DeviceNode* d = mirror_.device(e.adapter, e.address);
        if (d == nullptr) break;
        if ((e.changes & device_change::kConnected) != 0 && !d->info.connected) {
          openedLinks_.erase({e.adapter, e.address});
        }
        if (listener_ != nullptr) listener_->onDeviceChanged(d->info, e.changes);
        if ((e.changes & kLinkChanges) != 0) ops_.broadcast(e);
        break;
      }
      case MirrorEvent::Kind::kDeviceRemoved:
        openedLinks_.erase({e.adapter, e.address});
        notify_.deviceRemoved(e.adapter, e.address);
        if (listener_ != nullptr) listener_->onDeviceRemoved(e.adapter, e.address);
        ops_.broadcast(e);
        break;
      case MirrorEvent::Kind::kCharacteristicRemoved:
        notify_.characteristicRemoved(e.adapter, e.address, e.handle);
        break;
    }
  }
}

bool BluezCentralBackend::characteristicValue(absl::string_view path,
                                              absl::Span<const std::uint8_t> value) {
  return notify_.deliver(path, value);
}

}  // namespace gattway
