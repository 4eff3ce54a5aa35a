#include "ble/bluez/gatt_flags.h"

#include <array>
#include <utility>

#include "absl/strings/string_view.h"
#include "ble/central_backend.h"

namespace gattway::bluez {
namespace {

constexpr std::array<std::pair<absl::string_view, std::uint8_t>, 10> kFlagBits = {{
    {"broadcast", gatt_property::kBroadcast},
    {"read", gatt_property::kRead},
    {"write-without-response", gatt_property::kWriteWithoutResponse},
    {"write", gatt_property::kWrite},
    {"notify", gatt_property::kNotify},
    {"indicate", gatt_property::kIndicate},
    {"authenticated-signed-writes", gatt_property::kAuthenticatedSignedWrites},
    {"extended-properties", gatt_property::kExtendedProperties},
    {"reliable-write", gatt_property::kExtendedProperties},
    {"writable-auxiliaries", gatt_property::kExtendedProperties},
}};

}  // namespace

std::uint8_t propertiesFromFlags(const std::vector<std::string>& flags) {
  std::uint8_t bits = 0;
  for (const auto& flag : flags) {
    for (const auto& [name, bit] : kFlagBits) {
      if (flag == name) bits = static_cast<std::uint8_t>(bits | bit);
    }
  }
  return bits;
}

}  // namespace gattway::bluez
