// org.bluez.Adapter1 on /org/bluez/hciN (adapter-api.txt; bluez-5.66-api.md §1). A proxy names one
// object; the calls it starts do not depend on it staying alive. Loop thread only.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/bluez/call_limiter.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

class Adapter1Proxy {
 public:
  Adapter1Proxy(CallLimiter& calls, std::string path) : calls_(calls), path_(std::move(path)) {}
  Adapter1Proxy(const Adapter1Proxy&) = delete;
  Adapter1Proxy& operator=(const Adapter1Proxy&) = delete;

  // SetDiscoveryFilter(a{sv}) with Transport "le", DuplicateData, and UUIDs, RSSI and Pattern when
  // set. nullptr: the empty dict, which clears this client's filter.
  PendingCall setDiscoveryFilter(const DiscoveryFilter* filter, absl::Duration timeout,
                                 StatusCallback done);
  PendingCall startDiscovery(absl::Duration timeout, StatusCallback done);
  PendingCall stopDiscovery(absl::Duration timeout, StatusCallback done);
  // ConnectDevice({Address, AddressType}) → the device's object path. Experimental in 5.66: absent
  // (UnknownMethod) unless bluetoothd runs with -E.
  PendingCall connectDevice(const Address& address, AddressType type, absl::Duration timeout,
                            Callback<absl::StatusOr<std::string>> done);
  // Properties.Set("org.bluez.Adapter1", "Powered", b).
  PendingCall setPowered(bool powered, absl::Duration timeout, StatusCallback done);

 private:
  CallLimiter& calls_;
  const std::string path_;
};

}  // namespace gattway::bluez
