#include "ble/bluez/proxies/gatt_characteristic1.h"

#include <fcntl.h>
#include <systemd/sd-bus.h>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/properties.h"
#include "ble/bluez/proxies/proxy_call.h"

namespace gattway::bluez {

const char* writeTypeName(WriteType type) {
  switch (type) {
    case WriteType::kCommand: return "command";
    case WriteType::kReliable: return "reliable";
    case WriteType::kRequest: break;
  }
  return "request";
}

PendingCall GattCharacteristic1Proxy::readValue(
    std::uint16_t offset, absl::Duration timeout,
    Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) {
  return bluez::readValue(calls_, path_, iface::kCharacteristic, offset, timeout, std::move(done));
}

PendingCall GattCharacteristic1Proxy::writeValue(const std::vector<std::uint8_t>& value,
                                                 WriteType type, std::uint16_t offset,
                                                 absl::Duration timeout, StatusCallback done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kCharacteristic, "WriteValue");
  if (call && (sd_bus_message_append_array(call.get(), 'y', value.data(), value.size()) < 0 ||
               !appendOptions(call.get(), offset, writeTypeName(type)))) {
    call.reset();
  }
  return callForStatus(calls_, std::move(call), timeout, callContext("WriteValue", path_),
                       std::move(done));
}

PendingCall GattCharacteristic1Proxy::startNotify(absl::Duration timeout, StatusCallback done) {
  return callMethod(calls_, path_, iface::kCharacteristic, "StartNotify", timeout,
                    std::move(done));
}

PendingCall GattCharacteristic1Proxy::stopNotify(absl::Duration timeout, StatusCallback done) {
  return callMethod(calls_, path_, iface::kCharacteristic, "StopNotify", timeout, std::move(done));
}

PendingCall GattCharacteristic1Proxy::acquireNotify(
    absl::Duration timeout, Callback<absl::StatusOr<AcquiredNotify>> done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kCharacteristic, "AcquireNotify");
  if (call && !appendOptions(call.get(), 0)) call.reset();
  auto read = [](sd_bus_message* reply, AcquiredNotify& out) {
    int fd = -1;
    std::uint16_t mtu = 0;
    if (sd_bus_message_read(reply, "hq", &fd, &mtu) <= 0) return false;
    // The message owns its fd; keep a copy of our own.
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) return false;
    out.fd.reset(copy);
    out.mtu = mtu;
    return true;
  };
  return callForValue<AcquiredNotify>(calls_, std::move(call), timeout,
                                      callContext("AcquireNotify", path_), read, std::move(done));
}

}  // namespace gattway::bluez
