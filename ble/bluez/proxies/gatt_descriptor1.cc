#include "ble/bluez/proxies/gatt_descriptor1.h"

#include <systemd/sd-bus.h>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/properties.h"
#include "ble/bluez/proxies/proxy_call.h"

namespace gattway::bluez {

PendingCall GattDescriptor1Proxy::readValue(
    std::uint16_t offset, absl::Duration timeout,
    Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) {
  return bluez::readValue(calls_, path_, iface::kDescriptor, offset, timeout, std::move(done));
}

PendingCall GattDescriptor1Proxy::writeValue(const std::vector<std::uint8_t>& value,
                                             std::uint16_t offset, absl::Duration timeout,
                                             StatusCallback done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kDescriptor, "WriteValue");
  if (call && (sd_bus_message_append_array(call.get(), 'y', value.data(), value.size()) < 0 ||
               !appendOptions(call.get(), offset))) {
    call.reset();
  }
  return callForStatus(calls_, std::move(call), timeout, callContext("WriteValue", path_),
                       std::move(done));
}

}  // namespace gattway::bluez
