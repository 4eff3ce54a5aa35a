#include "ble/bluez/proxies/object_manager.h"

#include <systemd/sd-bus.h>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/proxies/proxy_call.h"

namespace gattway::bluez {

PendingCall ObjectManagerProxy::getManagedObjects(
    std::string under, absl::Duration timeout,
    Callback<absl::StatusOr<std::vector<ManagedObject>>> done) {
  auto call = calls_.newCall(kBluezService, "/", iface::kObjectManager, "GetManagedObjects");
  auto read = [under = std::move(under)](sd_bus_message* reply, std::vector<ManagedObject>& out) {
    return readManagedObjects(reply, out, under);
  };
  return callForValue<std::vector<ManagedObject>>(calls_, std::move(call), timeout,
                                                  "GetManagedObjects", std::move(read),
                                                  std::move(done));
}

PendingCall BusDaemonProxy::getNameOwner(const std::string& name, absl::Duration timeout,
                                         Callback<absl::StatusOr<std::string>> done) {
  auto call = calls_.newCall("org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "GetNameOwner");
  if (call && sd_bus_message_append(call.get(), "s", name.c_str()) < 0) call.reset();
  // NameHasNoOwner is the answer "nobody", not a failure.
  return calls_.send(std::move(call), timeout,
                     [done = std::move(done)](sd_bus_message* reply,
                                              const ReplyError* error) mutable {
                       if (error != nullptr) {
                         if (error->name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
                           return done(std::string());
                         }
                         return done(statusOf(*error, "GetNameOwner"));
                       }
                       std::string owner;
                       if (!readString(reply, owner)) return done(malformedReply("GetNameOwner"));
                       done(std::move(owner));
                     });
}

}  // namespace gattway::bluez
