#include "ble/address.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses six hex pairs separated by `sep`.
bool parseSeparated(absl::string_view text, char sep, std::array<std::uint8_t, 6>& out) {
  if (text.size() != 17) return false;
  for (std::size_t i = 0; i < 6; ++i) {
    const int hi = hexDigit(text[i * 3]);
    const int lo = hexDigit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return false;
    if (i < 5 && text[i * 3 + 2] != sep) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

std::string format(const std::array<std::uint8_t, 6>& bytes, char sep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0) s.push_back(sep);
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 0x0f]);
  }
  return s;
}

}  // namespace

absl::string_view addressTypeName(AddressType type) {
  return type == AddressType::kRandom ? "random" : "public";
}

absl::StatusOr<AddressType> parseAddressType(absl::string_view bluezName) {
  if (bluezName == "public") return AddressType::kPublic;
  if (bluezName == "random") return AddressType::kRandom;
  return err::invalidField("address_type",
                           absl::StrCat("unknown address type \"", bluezName, "\""));
}

absl::StatusOr<Address> Address::parse(absl::string_view text, absl::string_view field) {
  std::array<std::uint8_t, 6> bytes{};
  if (!parseSeparated(text, ':', bytes)) {
    return err::invalidField(
        field, absl::StrCat("\"", text.substr(0, 64),
                            "\" is not a Bluetooth address; expected six hex pairs such as "
                            "\"AA:BB:CC:DD:EE:FF\""));
  }
  return Address(bytes);
}

absl::StatusOr<Address> Address::fromBluezPathComponent(absl::string_view component) {
  std::array<std::uint8_t, 6> bytes{};
  if (component.size() != 21 || component.substr(0, 4) != "dev_" ||
      !parseSeparated(component.substr(4), '_', bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", component, "\" is not a BlueZ device path component"));
  }
  return Address(bytes);
}

std::string Address::toString() const { return format(bytes_, ':'); }

std::string Address::bluezPathComponent() const { return "dev_" + format(bytes_, '_'); }

}  // namespace gattway
