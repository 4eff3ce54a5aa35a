#include "ble/bluez/proxies/adapter1.h"

#include <systemd/sd-bus.h>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/properties.h"
#include "ble/bluez/proxies/proxy_call.h"

namespace gattway::bluez {
namespace {

bool appendFilter(sd_bus_message* m, const DiscoveryFilter* filter) {
  if (sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}") < 0) return false;
  if (filter != nullptr) {
    // LE only: the gateway is an LE central (filtered mode also makes BlueZ create devices for
    // non-discoverable advertisers, bluez-5.66-api.md §8.8).
    if (sd_bus_message_append(m, "{sv}", "Transport", "s", "le") < 0) return false;
    if (sd_bus_message_append(m, "{sv}", "DuplicateData", "b",
                              static_cast<int>(filter->duplicateData)) < 0) {
      return false;
    }
    if (filter->rssi &&
        sd_bus_message_append(m, "{sv}", "RSSI", "n", static_cast<int>(*filter->rssi)) < 0) {
      return false;
    }
    if (!filter->pattern.empty() &&
        sd_bus_message_append(m, "{sv}", "Pattern", "s", filter->pattern.c_str()) < 0) {
      return false;
    }
    if (!filter->uuids.empty()) {
      if (sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv") < 0 ||
          sd_bus_message_append(m, "s", "UUIDs") < 0 ||
          sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, "as") < 0 ||
          sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "s") < 0) {
        return false;
      }
      for (const auto& uuid : filter->uuids) {
        if (sd_bus_message_append(m, "s", uuid.toLongString().c_str()) < 0) return false;
      }
      if (sd_bus_message_close_container(m) < 0 || sd_bus_message_close_container(m) < 0 ||
          sd_bus_message_close_container(m) < 0) {
        return false;
      }
    }
  }
  return sd_bus_message_close_container(m) >= 0;
}

}  // namespace

PendingCall Adapter1Proxy::setDiscoveryFilter(const DiscoveryFilter* filter,
                                              absl::Duration timeout, StatusCallback done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kAdapter, "SetDiscoveryFilter");
  if (call && !appendFilter(call.get(), filter)) call.reset();
  return callForStatus(calls_, std::move(call), timeout, callContext("SetDiscoveryFilter", path_),
                       std::move(done));
}

PendingCall Adapter1Proxy::startDiscovery(absl::Duration timeout, StatusCallback done) {
  return callMethod(calls_, path_, iface::kAdapter, "StartDiscovery", timeout, std::move(done));
}

PendingCall Adapter1Proxy::stopDiscovery(absl::Duration timeout, StatusCallback done) {
  return callMethod(calls_, path_, iface::kAdapter, "StopDiscovery", timeout, std::move(done));
}

PendingCall Adapter1Proxy::connectDevice(const Address& address, AddressType type,
                                         absl::Duration timeout,
                                         Callback<absl::StatusOr<std::string>> done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kAdapter, "ConnectDevice");
  const std::string text = address.toString();
  const std::string typeName(addressTypeName(type));
  if (call && sd_bus_message_append(call.get(), "a{sv}", 2, "Address", "s", text.c_str(),
                                    "AddressType", "s", typeName.c_str()) < 0) {
    call.reset();
  }
  return callForValue<std::string>(calls_, std::move(call), timeout,
                                   callContext("ConnectDevice", path_), readObjectPath,
                                   std::move(done));
}

PendingCall Adapter1Proxy::setPowered(bool powered, absl::Duration timeout, StatusCallback done) {
  auto call = calls_.newCall(kBluezService, path_, iface::kProperties, "Set");
  const std::string adapterInterface(iface::kAdapter);
  if (call && sd_bus_message_append(call.get(), "ssv", adapterInterface.c_str(), "Powered", "b",
                                    static_cast<int>(powered)) < 0) {
    call.reset();
  }
  return callForStatus(calls_, std::move(call), timeout, callContext("Set Powered", path_),
                       std::move(done));
}

}  // namespace gattway::bluez
