// BlueZ's object paths (bluez-5.66-api.md §0):
//   /org/bluez/hci0                                            Adapter1
//   /org/bluez/hci0/dev_AA_BB_CC_DD_EE_FF                      Device1
//   …/dev_AA_BB_CC_DD_EE_FF/service000a                        GattService1
//   …/service000a/char000b                                     GattCharacteristic1
//   …/char000b/desc000d                                        GattDescriptor1
// GATT suffixes are four lower-case hex digits, the ATT handle: the service's start handle, the
// characteristic's *declaration* handle (its value is the next one), the descriptor's own handle.
// 5.66 has no Handle property on remote objects, so the path is the only place handles show.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "ble/address.h"

namespace gattway::bluez {

inline constexpr absl::string_view kBluezRoot = "/org/bluez";

enum class ObjectKind { kAdapter, kDevice, kService, kCharacteristic, kDescriptor };

// A parsed path. `adapter` points into the parsed string: no allocation, so the signal paths can
// afford it.
struct BluezPath {
  ObjectKind kind = ObjectKind::kAdapter;
  absl::string_view adapter;  // "hci0"
  Address address;            // kDevice and below
  std::uint16_t service = 0;         // kService and below
  std::uint16_t characteristic = 0;  // kCharacteristic and below
  std::uint16_t descriptor = 0;      // kDescriptor
};

// nullopt for paths outside this shape (/org/bluez itself, media endpoints, "hci0/dev_…/fd0", any
// upper-case hex or other handle width).
std::optional<BluezPath> parsePath(absl::string_view path);

std::string adapterPath(absl::string_view adapter);
std::string devicePath(absl::string_view adapter, const Address& address);
std::string servicePath(absl::string_view adapter, const Address& address, std::uint16_t service);
std::string characteristicPath(absl::string_view adapter, const Address& address,
                               std::uint16_t service, std::uint16_t characteristic);
std::string descriptorPath(absl::string_view adapter, const Address& address,
                           std::uint16_t service, std::uint16_t characteristic,
                           std::uint16_t descriptor);

// "0x002a", for messages and logs.
std::string handleText(std::uint16_t handle);

}  // namespace gattway::bluez
