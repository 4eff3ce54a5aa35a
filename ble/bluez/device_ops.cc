#include "ble/bluez/device_ops.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ble/bluez/errors.h"
#include "ble/bluez/paths.h"
#include "ble/bluez/proxies/device1.h"
#include "ble/bluez/proxies/object_manager.h"

namespace gattway::bluez {
namespace {

// BlueZ's local disconnect waits ~2 s before dropping the link.
constexpr absl::Duration kDisconnectTimeout = absl::Seconds(10);
// How long Connected=false may trail the Disconnect reply before the mirror is trusted as is.
constexpr absl::Duration kSignalGrace = absl::Milliseconds(500);
constexpr absl::Duration kRefreshTimeout = absl::Seconds(10);

}  // namespace

DisconnectOp::DisconnectOp(OpRegistry& registry, BackendContext& context, std::string adapter,
                           Address address, StatusCallback done)
    : Op(registry, std::move(done)),
      context_(context),
      adapter_(std::move(adapter)),
      address_(address) {}

bool DisconnectOp::stillConnected() const {
  const DeviceNode* d = context_.mirror().device(adapter_, address_);
  return d != nullptr && d->info.connected;
}

void DisconnectOp::start() {
  armDeadline(kDisconnectTimeout, absl::StrCat("disconnect ", address_.toString()));
  if (context_.mirror().device(adapter_, address_) == nullptr) {
    return finishLater(absl::OkStatus());  // nothing BlueZ knows of is connected
  }
  call_ = Device1Proxy(context_.calls(), devicePath(adapter_, address_))
              .disconnect(kDisconnectTimeout, [this](absl::Status status) {
                if (!status.ok() || !stillConnected()) return finish(std::move(status));
                waitingForSignal_ = true;
                wait_ = executor().runAfter(kSignalGrace, [this] { readBack(); });
              });
}

void DisconnectOp::readBack() {
  // No signal: ask, and let the mirror (and the listener) know if the link is gone.
  call_ = Device1Proxy(context_.calls(), devicePath(adapter_, address_))
              .readConnected(kSignalGrace, [this](absl::StatusOr<bool> connected) {
                if (connected.ok() && !*connected) {
                  OpRegistry& ops = registry();
                  const std::uint64_t self = id();
                  context_.applyDeviceProperties(adapter_, address_,
                                                 {{"Connected", PropertyValue(false)}});
                  if (ops.find(self) == nullptr) return;
                }
                finish(absl::OkStatus());
              });
}

void DisconnectOp::onDeviceEvent(const MirrorEvent& event) {
  if (!waitingForSignal_ || event.adapter != adapter_ || event.address != address_) return;
  if (!stillConnected()) finish(absl::OkStatus());
}

ResolveServicesOp::ResolveServicesOp(
    OpRegistry& registry, BackendContext& context, std::string adapter, Address address,
    Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done)
    : Op(registry, std::move(done)),
      context_(context),
      adapter_(std::move(adapter)),
      address_(address) {}

void ResolveServicesOp::start(absl::Duration timeout) {
  armDeadline(timeout, absl::StrCat("resolve services of ", address_.toString()));
  const DeviceNode* d = context_.mirror().device(adapter_, address_);
  if (d == nullptr) return finishLater(deviceNotFound(adapter_, address_));
  if (!d->info.connected) return finishLater(notConnected(address_));
  if (d->info.servicesResolved) refresh();
  // else onDeviceEvent sees ServicesResolved turn true
}

void ResolveServicesOp::onDeviceEvent(const MirrorEvent& event) {
  if (refreshing_ || event.adapter != adapter_ || event.address != address_) return;
  const DeviceNode* d = context_.mirror().device(adapter_, address_);
  if (event.kind == MirrorEvent::Kind::kDeviceRemoved || d == nullptr) {
    return finish(deviceNotFound(adapter_, address_));
  }
  if (!d->info.connected) return finish(disconnected(address_, "service discovery"));
  if (d->info.servicesResolved) refresh();
}

void ResolveServicesOp::refresh() {
  refreshing_ = true;
  // One cheap round trip first. BlueZ sends every queued signal before any reply ("Flush pending
  // signal to guarantee message order", gdbus/object.c, g_dbus_send_message), so once it answers,
  // the mirror holds every GATT object BlueZ had registered. GetManagedObjects would say the same
  // but carries the whole tree (every device of every adapter): per connect, with a fleet of
  // 1,000 that was most of the bus's and the simulator's work (README, Benchmarks, fleet).
  const std::string path = devicePath(adapter_, address_);
  call_ = Device1Proxy(context_.calls(), path)
              .readConnected(std::min(remaining(), kRefreshTimeout),
                             [this](absl::StatusOr<bool> connected) {
                               if (!connected.ok()) return finish(connected.status());
                               const DeviceNode* d = context_.mirror().device(adapter_, address_);
                               if (d == nullptr) return finish(deviceNotFound(adapter_, address_));
                               if (!*connected) {
                                 return finish(disconnected(address_, "service discovery"));
                               }
                               auto services = ObjectMirror::serviceTree(*d);
                               if (!services.empty()) return finish(std::move(services));
                               fetchObjects();
                             });
}

void ResolveServicesOp::fetchObjects() {
  // Nothing in the mirror yet: ask for the objects themselves (a BlueZ that registered them
  // without signalling them yet still lists them).
  const std::string path = devicePath(adapter_, address_);
  call_ = ObjectManagerProxy(context_.calls())
              .getManagedObjects(path, std::min(remaining(), kRefreshTimeout),
                                 [this](absl::StatusOr<std::vector<ManagedObject>> objects) {
                                   if (!objects.ok()) return finish(objects.status());
                                   // The listener hears of the changes, and may drop this
                                   // operation meanwhile.
                                   OpRegistry& ops = registry();
                                   const std::uint64_t self = id();
                                   context_.syncDevice(adapter_, address_, *objects);
                                   if (ops.find(self) == nullptr) return;
                                   const DeviceNode* d = context_.mirror().device(adapter_, address_);
                                   if (d == nullptr) return finish(deviceNotFound(adapter_, address_));
                                   finish(ObjectMirror::serviceTree(*d));
                                 });
}

}  // namespace gattway::bluez
