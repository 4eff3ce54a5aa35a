// What the backend's parts (operations, discovery, notify sessions) share, implemented by
// BluezCentralBackend. Loop thread only.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "ble/address.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/object_mirror.h"
#include "ble/bluez/properties.h"
#include "ble/central_backend.h"
#include "ble/event_loop.h"

namespace gattway::bluez {

class DiscoverySessions;

class BackendContext {
 public:
  virtual ~BackendContext() = default;

  virtual EventLoop& loop() = 0;
  virtual CallLimiter& calls() = 0;
  virtual const ObjectMirror& mirror() const = 0;
  virtual DiscoverySessions& discovery() = 0;
  // Null before start() and after stop().
  virtual CentralBackendListener* listener() = 0;
  virtual bool up() const = 0;

  // Device1 properties BlueZ did not signal (a Connected=true read back, BLUEZ-VM.md), applied as
  // if it had: the mirror changes and the listener hears of it.
  virtual void applyDeviceProperties(absl::string_view adapter, const Address& address,
                                     const PropertyMap& properties) = 0;
  // A fresh GetManagedObjects for one device (ObjectMirror::syncDevice), reported likewise.
  virtual void syncDevice(absl::string_view adapter, const Address& address,
                          const std::vector<ManagedObject>& objects) = 0;

  // ConnectDevice is experimental in 5.66; once an adapter answered UnknownMethod the gateway
  // stops asking (until BlueZ restarts).
  virtual bool connectDeviceMissing(absl::string_view adapter) const = 0;
  virtual void setConnectDeviceMissing(absl::string_view adapter) = 0;
  // Links the gateway opened, closed again by stop().
  virtual void noteLinkOpened(absl::string_view adapter, const Address& address) = 0;
};

}  // namespace gattway::bluez
