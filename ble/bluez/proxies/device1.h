// org.bluez.Device1 on /org/bluez/hciN/dev_… (device-api.txt; bluez-5.66-api.md §2, §7.4). A proxy
// names one object; the calls it starts do not depend on it staying alive. Loop thread only.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

class Device1Proxy {
 public:
  Device1Proxy(CallLimiter& calls, std::string path) : calls_(calls), path_(std::move(path)) {}
  Device1Proxy(const Device1Proxy&) = delete;
  Device1Proxy& operator=(const Device1Proxy&) = delete;

  // LE: replies once the ATT channel is up, before service discovery.
  PendingCall connect(absl::Duration timeout, StatusCallback done);
  // Cancels a pending connect too; replies once the link is gone (after ~2 s of grace).
  PendingCall disconnect(absl::Duration timeout, StatusCallback done);
  // Properties.Get("org.bluez.Device1", "Connected"): for a Connected=true BlueZ never signalled
  // (BLUEZ-VM.md).
  PendingCall readConnected(absl::Duration timeout, Callback<absl::StatusOr<bool>> done);

 private:
  CallLimiter& calls_;
  const std::string path_;
};

}  // namespace gattway::bluez
