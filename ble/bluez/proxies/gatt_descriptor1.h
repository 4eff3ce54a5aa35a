// org.bluez.GattDescriptor1 on …/charCCCC/descDDDD (gatt-api.txt; bluez-5.66-api.md §3). A proxy
// names one object; the calls it starts do not depend on it staying alive. Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

class GattDescriptor1Proxy {
 public:
  GattDescriptor1Proxy(CallLimiter& calls, std::string path)
      : calls_(calls), path_(std::move(path)) {}
  GattDescriptor1Proxy(const GattDescriptor1Proxy&) = delete;
  GattDescriptor1Proxy& operator=(const GattDescriptor1Proxy&) = delete;

  PendingCall readValue(std::uint16_t offset, absl::Duration timeout,
                        Callback<absl::StatusOr<std::vector<std::uint8_t>>> done);
  // WriteValue(ay, {offset}): descriptors take no write type. BlueZ refuses the CCC (0x2902):
  // subscribe with StartNotify instead.
  PendingCall writeValue(const std::vector<std::uint8_t>& value, std::uint16_t offset,
                         absl::Duration timeout, StatusCallback done);

 private:
  CallLimiter& calls_;
  const std::string path_;
};

}  // namespace gattway::bluez
