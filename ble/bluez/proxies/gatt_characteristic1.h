// org.bluez.GattCharacteristic1 on …/serviceSSSS/charCCCC (gatt-api.txt; bluez-5.66-api.md §3). A
// proxy names one object; the calls it starts do not depend on it staying alive. Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/fd_watch.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

// AcquireNotify's reply: a SOCK_SEQPACKET socket (one notification per packet) and the ATT MTU.
struct AcquiredNotify {
  UniqueFd fd;
  std::uint16_t mtu = 0;
};

class GattCharacteristic1Proxy {
 public:
  GattCharacteristic1Proxy(CallLimiter& calls, std::string path)
      : calls_(calls), path_(std::move(path)) {}
  GattCharacteristic1Proxy(const GattCharacteristic1Proxy&) = delete;
  GattCharacteristic1Proxy& operator=(const GattCharacteristic1Proxy&) = delete;

  // ReadValue({offset}): a long read from `offset`.
  PendingCall readValue(std::uint16_t offset, absl::Duration timeout,
                        Callback<absl::StatusOr<std::vector<std::uint8_t>>> done);
  // WriteValue(ay, {offset, type}). An explicit type bypasses BlueZ's flag checks, and "command"
  // succeeds once queued.
  PendingCall writeValue(const std::vector<std::uint8_t>& value, WriteType type,
                         std::uint16_t offset, absl::Duration timeout, StatusCallback done);
  PendingCall startNotify(absl::Duration timeout, StatusCallback done);
  PendingCall stopNotify(absl::Duration timeout, StatusCallback done);
  // Needs the "notify" flag in 5.66. On a CCC write failure 5.66 never replies: the timeout ends it.
  PendingCall acquireNotify(absl::Duration timeout,
                            Callback<absl::StatusOr<AcquiredNotify>> done);

 private:
  CallLimiter& calls_;
  const std::string path_;
};

// BlueZ's name for a write type: "request", "command", "reliable".
const char* writeTypeName(WriteType type);

}  // namespace gattway::bluez
