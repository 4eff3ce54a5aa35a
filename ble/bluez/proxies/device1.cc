#include "ble/bluez/proxies/device1.h"

#include <systemd/sd-bus.h>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/properties.h"
#include "ble/bluez/proxies/proxy_call.h"

namespace gattway::bluez {

PendingCall Device1Proxy::connect(absl::Duration timeout, StatusCallback done) {
  return callMethod(calls_, path_, iface::kDevice, "Connect", timeout, std::move(done));
}

PendingCall Device1Proxy::disconnect(absl::Duration timeout, StatusCallback done) {
  return callMethod(calls_, path_, iface::kDevice, "Disconnect", timeout, std::move(done));
}

PendingCall Device1Proxy::readConnected(absl::Duration timeout,
                                        Callback<absl::StatusOr<bool>> done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kProperties, "Get");
  const std::string deviceInterface(iface::kDevice);
  if (call && sd_bus_message_append(call.get(), "ss", deviceInterface.c_str(), "Connected") < 0) {
    call.reset();
  }
  auto read = [](sd_bus_message* reply, bool& connected) {
    PropertyValue value;
    if (!readVariant(reply, value)) return false;
    const bool* b = std::get_if<bool>(&value);
    if (b == nullptr) return false;
    connected = *b;
    return true;
  };
  return callForValue<bool>(calls_, std::move(call), timeout, callContext("Get Connected", path_),
                            read, std::move(done));
}

}  // namespace gattway::bluez
