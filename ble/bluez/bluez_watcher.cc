#include "ble/bluez/bluez_watcher.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <utility>

#include "ble/bluez/paths.h"
#include "ble/bluez/properties.h"
#include "ble/bluez/proxies/object_manager.h"
#include "ble/log.h"

namespace gattway::bluez {
namespace {

constexpr const char* kBluezName = "org.bluez";
constexpr const char* kPropertiesRule =
    "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
    "member='PropertiesChanged',path_namespace='/org/bluez'";
constexpr const char* kObjectsRule =
    "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.ObjectManager',path='/'";
constexpr const char* kOwnerRule =
    "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.bluez'";

constexpr absl::Duration kOwnerQueryTimeout = absl::Seconds(10);
// A snapshot of thousands of devices takes a while to build and read.
constexpr absl::Duration kSnapshotTimeout = absl::Seconds(25);
constexpr absl::Duration kRetryDelay = absl::Seconds(1);

}  // namespace

struct WatcherTrampolines {
  static int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
    static_cast<BluezWatcher*>(userdata)->onSignal(m);
    return 0;  // let other matches see it too
  }
  static int onInstalled(sd_bus_message* m, void*, sd_bus_error*) {
    if (const auto error = replyError(m)) {
      log::error("bluez.match_failed", {{"error", error->name}, {"message", error->message}});
    }
    return 0;
  }
};

BluezWatcher::BluezWatcher(sd_bus* bus, CallLimiter& calls, Executor& executor,
                           ObjectMirror& mirror, Metrics& metrics, Observer& observer)
    : bus_(bus),
      calls_(calls),
      executor_(executor),
      mirror_(mirror),
      metrics_(metrics),
      observer_(observer) {}

BluezWatcher::~BluezWatcher() { stop(); }

void BluezWatcher::start() {
  if (state_ != State::kStopped) return;
  state_ = State::kDown;
  auto add = [this](const char* rule, SlotPtr& slot) {
    sd_bus_slot* s = nullptr;
    const int r = sd_bus_add_match_async(bus_, &s, rule, &WatcherTrampolines::onSignal,
                                         &WatcherTrampolines::onInstalled, this);
    if (r < 0) {
      log::error("bluez.match_failed", {{"rule", rule}, {"error", std::strerror(-r)}});
      return;
    }
    slot.reset(s);
  };
  add(kOwnerRule, ownerMatch_);
  add(kObjectsRule, objectsMatch_);
  add(kPropertiesRule, propertiesMatch_);
  // Sent after the AddMatch calls: the bus daemon handles them in order.
  queryOwner();
}

void BluezWatcher::queryOwner() {
  ownerQuery_ = BusDaemonProxy(calls_).getNameOwner(
      kBluezName, kOwnerQueryTimeout, [this](absl::StatusOr<std::string> owner) {
        if (ownerKnown_) return;  // NameOwnerChanged was first and is newer
        if (!owner.ok()) {
          log::warn("bluez.owner_query_failed", {{"error", owner.status()}});
          retry_ = executor_.runAfter(kRetryDelay, [this] {
            if (!ownerKnown_ && state_ == State::kDown) queryOwner();
          });
          return;
        }
        ownerIs(*owner);
      });
}

void BluezWatcher::stop() {
  propertiesMatch_.reset();
  objectsMatch_.reset();
  ownerMatch_.reset();
  ownerQuery_.reset();
  snapshot_.reset();
  retry_.cancel();
  if (state_ == State::kUp) metrics_.bluezUp.set(0);
  state_ = State::kStopped;
  owner_.clear();
}

void BluezWatcher::onSignal(sd_bus_message* m) {
  metrics_.dbusSignalsReceived.add();
  const char* member = sd_bus_message_get_member(m);
  const char* path = sd_bus_message_get_path(m);
  if (member == nullptr || path == nullptr) return;
  if (std::strcmp(member, "NameOwnerChanged") == 0) return onNameOwnerChanged(m);
  // Before the snapshot's reply, every change is already in it.
  if (state_ != State::kUp) return;
  if (std::strcmp(member, "PropertiesChanged") == 0) return onPropertiesChanged(m, path);
  if (std::strcmp(member, "InterfacesAdded") == 0) return onInterfacesAdded(m);
  if (std::strcmp(member, "InterfacesRemoved") == 0) return onInterfacesRemoved(m);
}

void BluezWatcher::onNameOwnerChanged(sd_bus_message* m) {
  const char* name = nullptr;
  const char* oldOwner = nullptr;
  const char* newOwner = nullptr;
  if (sd_bus_message_read(m, "sss", &name, &oldOwner, &newOwner) <= 0) return;
  if (std::strcmp(name, kBluezName) != 0) return;
  ownerKnown_ = true;
  ownerQuery_.reset();
  ownerIs(newOwner);
}

void BluezWatcher::ownerIs(const std::string& owner) {
  if (state_ == State::kStopped) return;
  if (state_ != State::kDown) {
    if (owner == owner_) return;
    vanish();
  }
  if (owner.empty()) return;
  owner_ = owner;
  state_ = State::kSyncing;
  if (seenBefore_) metrics_.bluezRestarts.add();
  seenBefore_ = true;
  log::info("bluez.appeared", {{"owner", owner}});
  sync();
}

void BluezWatcher::vanish() {
  const bool wasUp = state_ == State::kUp;
  snapshot_.reset();
  retry_.cancel();
  owner_.clear();
  state_ = State::kDown;
  if (!wasUp) return;
  mirror_.clear();
  metrics_.bluezUp.set(0);
  log::warn("bluez.vanished", {});
  observer_.bluezVanished();
}

void BluezWatcher::sync() {
  snapshot_ = ObjectManagerProxy(calls_).getManagedObjects(
      "", kSnapshotTimeout, [this](absl::StatusOr<std::vector<ManagedObject>> objects) {
        if (state_ != State::kSyncing) return;
        if (!objects.ok()) {
          // Most likely bluetoothd is going away again (NameOwnerChanged follows); if not, ask
          // again, so that nothing waits forever on a lost reply.
          log::warn("bluez.snapshot_failed", {{"error", objects.status()}});
          retry_ = executor_.runAfter(kRetryDelay, [this] {
            if (state_ == State::kSyncing) sync();
          });
          return;
        }
        MirrorEvents events;
        mirror_.replaceAll(*objects, events);
        state_ = State::kUp;
        metrics_.bluezUp.set(1);
        log::info("bluez.synced", {{"objects", objects->size()},
                                   {"adapters", mirror_.adapters().size()}});
        observer_.mirrorChanged(events);
        if (state_ == State::kUp) observer_.bluezAppeared();
      });
}

void BluezWatcher::onPropertiesChanged(sd_bus_message* m, const char* path) {
  const char* interface = nullptr;
  if (sd_bus_message_read_basic(m, 's', &interface) <= 0) return;
  if (std::strcmp(interface, "org.bluez.GattCharacteristic1") == 0) {
    // The notification hot path: no decoding into the mirror when Value is all there is.
    bool others = false;
    const auto value = findValue(m, &others);
    const bool taken = value && observer_.characteristicValue(path, *value);
    if (taken && !others) return;
  }
  if (sd_bus_message_rewind(m, 1) < 0) return;
  change_.changed.clear();
  change_.invalidated.clear();
  if (!readPropertiesChanged(m, change_)) return;
  MirrorEvents events;
  mirror_.propertiesChanged(path, change_.interface, change_.changed, change_.invalidated, events);
  if (!events.empty()) observer_.mirrorChanged(events);
}

void BluezWatcher::onInterfacesAdded(sd_bus_message* m) {
  ManagedObject object;
  if (!readInterfacesAdded(m, object)) return;
  MirrorEvents events;
  mirror_.interfacesAdded(object, events);
  if (!events.empty()) observer_.mirrorChanged(events);
}

void BluezWatcher::onInterfacesRemoved(sd_bus_message* m) {
  std::string path;
  std::vector<std::string> interfaces;
  if (!readInterfacesRemoved(m, path, interfaces)) return;
  MirrorEvents events;
  mirror_.interfacesRemoved(path, interfaces, events);
  if (!events.empty()) observer_.mirrorChanged(events);
}

}  // namespace gattway::bluez
