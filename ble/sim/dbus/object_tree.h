// The object tree a D-Bus service exports, served the way BlueZ's gdbus serves bluetoothd's:
// Introspect, Properties (Get/GetAll/Set), ObjectManager at "/", method dispatch with exact
// signature checks, and the same signal ordering (bluez gdbus/object.c, 5.66):
//
// - PropertiesChanged is coalesced per object and interface and sent from an idle callback, with
//   the values current when it is sent; absent properties go in the invalidated list.
// - InterfacesAdded is queued the same way; no PropertiesChanged is sent for an interface whose
//   InterfacesAdded is pending; an interface added and removed in one pass sends nothing.
// - Every message the service sends (reply, error, signal, outgoing call) first flushes all that is
//   queued, so a change made before a reply reaches clients before the reply.
// - A flushed change (the remote characteristic's Value) goes out at once.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/interface.h"

namespace gattway::sim::dbus {

class ObjectTree {
 public:
  // Serves every path on `bus` (an sd-bus fallback at "/"); "/" carries the ObjectManager.
  explicit ObjectTree(Bus& bus);
  ~ObjectTree();
  ObjectTree(const ObjectTree&) = delete;
  ObjectTree& operator=(const ObjectTree&) = delete;

  Bus& bus() const { return bus_; }
  // Whether items marked experimental are served (bluetoothd -E).
  void setExperimental(bool on) { experimental_ = on; }
  bool experimental() const { return experimental_; }

  // Adds `iface` at `path` (the object is created with its first interface). InterfacesAdded goes
  // out at the next flush. `iface` must stay alive until removed.
  void add(const std::string& path, Interface* iface);
  // Removes one interface; InterfacesRemoved at the next flush (or nothing if never announced).
  void remove(Interface* iface);
  // Removes every interface of the object at `path` and sends what is queued for it at once, as
  // gdbus does when an object is unregistered.
  void removeObject(const std::string& path);
  bool exists(const std::string& path) const { return objects_.contains(path); }

  // Queues PropertiesChanged for `iface`'s `property`. With `flush`, this object's queued changes
  // go out now (G_DBUS_PROPERTY_CHANGED_FLAG_FLUSH).
  void changed(Interface* iface, int property, bool flush = false);
  // Sends everything queued.
  void flush();

  // Counters for the control interface and benchmarks.
  std::uint64_t signalsSent() const { return signalsSent_; }

 private:
  struct Object {
    std::vector<Interface*> interfaces;
  };
  struct Pending {
    std::string path;
    std::vector<Interface*> added;
    std::vector<std::pair<Interface*, std::uint64_t>> props;  // property bit masks
    std::vector<std::string> removed;
  };

  static int onMessage(sd_bus_message* m, void* userdata, sd_bus_error* error);
  void handle(Call call);
  void introspect(Call call, const std::string& path);
  void getProperty(Call call, const std::string& path);
  void getAllProperties(Call call, const std::string& path);
  void setProperty(Call call, const std::string& path);
  void getManagedObjects(Call call);
  Interface* find(const std::string& path, absl::string_view interface) const;
  std::vector<std::string> children(const std::string& path) const;
  bool visible(const PropertySpec& p) const { return experimental_ || !p.experimental; }
  // Writes a{sv} of `iface`'s present properties.
  void writeProperties(Writer& w, const Interface& iface) const;
  void writeInterfaces(Writer& w, const std::vector<Interface*>& ifaces) const;

  Pending& pending(const std::string& path);
  void schedule();
  void flushAt(std::size_t index);
  void flushObject(const std::string& path);
  void emitAdded(Pending& p);
  void emitChanged(Interface* iface, std::uint64_t mask);
  void emitRemoved(Pending& p);
  void emit(const Message& m);
  Message newSignal(const std::string& path, const char* interface, const char* member) const;

  Bus& bus_;
  std::shared_ptr<Outbox> outbox_;
  sd_bus_slot* slot_ = nullptr;
  bool experimental_ = true;
  std::map<std::string, Object> objects_;
  std::vector<Pending> pending_;
  absl::flat_hash_map<std::string, std::size_t> pendingIndex_;
  bool flushPosted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::uint64_t signalsSent_ = 0;
};

}  // namespace gattway::sim::dbus
