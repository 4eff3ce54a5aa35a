// Keeps the ObjectMirror in step with org.bluez: who owns the name, the initial (and, after a
// bluetoothd restart, renewed) GetManagedObjects, and the three signal streams, each one match
// rule however many objects there are (the system bus allows 512 per connection, DBUS-PERF.md):
//   PropertiesChanged, sender org.bluez, path_namespace /org/bluez
//   InterfacesAdded/InterfacesRemoved, sender org.bluez, path /
//   NameOwnerChanged of org.bluez, from the bus daemon
// The rules are added asynchronously and before anything is asked of BlueZ, so no change is missed
// between the snapshot and the signals: signals that arrive before the snapshot's reply are
// already in it and are skipped.
//
// The notification path is kept cheap: a PropertiesChanged of GattCharacteristic1 is offered to
// the observer as its Value bytes, pointing into the message, before anything is decoded into the
// mirror. Loop thread only.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ble/bluez/bus.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/message_parsing.h"
#include "ble/bluez/object_mirror.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway::bluez {

class BluezWatcher {
 public:
  // All on the loop thread, from inside signal and reply handling.
  class Observer {
   public:
    virtual ~Observer() = default;
    // The mirror holds BlueZ's tree; mirrorChanged() reported every object just before.
    virtual void bluezAppeared() = 0;
    // org.bluez left the bus; the mirror is empty.
    virtual void bluezVanished() = 0;
    virtual void mirrorChanged(const MirrorEvents& events) = 0;
    // A Value change of the characteristic at `path`. True: a notification, taken.
    virtual bool characteristicValue(absl::string_view path,
                                     absl::Span<const std::uint8_t> value) = 0;
  };

  BluezWatcher(sd_bus* bus, CallLimiter& calls, Executor& executor, ObjectMirror& mirror,
               Metrics& metrics, Observer& observer);
  ~BluezWatcher();
  BluezWatcher(const BluezWatcher&) = delete;
  BluezWatcher& operator=(const BluezWatcher&) = delete;

  // Adds the match rules and asks who owns org.bluez.
  void start();
  // Removes the match rules and forgets BlueZ, without telling the observer.
  void stop();

  bool up() const { return state_ == State::kUp; }
  const std::string& owner() const { return owner_; }

 private:
  friend struct WatcherTrampolines;
  enum class State {
    kStopped,  // before start(), after stop()
    kDown,     // nobody owns org.bluez
    kSyncing,  // an owner, GetManagedObjects in flight
    kUp,       // mirrored; signals applied
  };

  void queryOwner();
  void onSignal(sd_bus_message* m);
  void onNameOwnerChanged(sd_bus_message* m);
  void onInterfacesAdded(sd_bus_message* m);
  void onInterfacesRemoved(sd_bus_message* m);
  void onPropertiesChanged(sd_bus_message* m, const char* path);
  // `owner` ("" when none) now owns org.bluez.
  void ownerIs(const std::string& owner);
  void vanish();
  void sync();

  sd_bus* bus_;
  CallLimiter& calls_;
  Executor& executor_;
  ObjectMirror& mirror_;
  Metrics& metrics_;
  Observer& observer_;

  State state_ = State::kStopped;
  std::string owner_;
  bool ownerKnown_ = false;  // NameOwnerChanged beat the GetNameOwner reply
  bool seenBefore_ = false;  // org.bluez was here once already: a return is a restart
  SlotPtr propertiesMatch_, objectsMatch_, ownerMatch_;
  PendingCall ownerQuery_, snapshot_;
  Timer retry_;
  PropertiesChange change_;  // reused: the signal paths allocate as little as they can
};

}  // namespace gattway::bluez
