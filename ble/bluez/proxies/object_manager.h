// org.freedesktop.DBus.ObjectManager on org.bluez's "/" (the only ObjectManager BlueZ has), and
// the bus daemon's GetNameOwner, which says whether bluetoothd is there without starting it.
// Loop thread only; the calls do not depend on the proxy staying alive.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/properties.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

class ObjectManagerProxy {
 public:
  explicit ObjectManagerProxy(CallLimiter& calls) : calls_(calls) {}
  ObjectManagerProxy(const ObjectManagerProxy&) = delete;
  ObjectManagerProxy& operator=(const ObjectManagerProxy&) = delete;

  // With `under`, only that object and those below it are decoded.
  PendingCall getManagedObjects(std::string under, absl::Duration timeout,
                                Callback<absl::StatusOr<std::vector<ManagedObject>>> done);

 private:
  CallLimiter& calls_;
};

class BusDaemonProxy {
 public:
  explicit BusDaemonProxy(CallLimiter& calls) : calls_(calls) {}
  BusDaemonProxy(const BusDaemonProxy&) = delete;
  BusDaemonProxy& operator=(const BusDaemonProxy&) = delete;

  // The unique name owning `name`; "" when nobody does.
  PendingCall getNameOwner(const std::string& name, absl::Duration timeout,
                           Callback<absl::StatusOr<std::string>> done);

 private:
  CallLimiter& calls_;
};

}  // namespace gattway::bluez
