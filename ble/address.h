// Bluetooth device addresses (Core spec Vol 6, Part B, 1.3).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace gattway {

// Public (IEEE-assigned) or random. BlueZ keys devices by the six bytes alone, so the type travels
// beside the address rather than inside it.
enum class AddressType : std::uint8_t { kPublic, kRandom };

absl::string_view addressTypeName(AddressType type);  // "public" / "random", as BlueZ spells them
absl::StatusOr<AddressType> parseAddressType(absl::string_view bluezName);

class Address {
 public:
  Address() = default;
  explicit Address(const std::array<std::uint8_t, 6>& bytes) : bytes_(bytes) {}

  // Accepts "AA:BB:CC:DD:EE:FF" in either case. `field` names the request field in the error.
  static absl::StatusOr<Address> parse(absl::string_view text, absl::string_view field = "address");
  // Accepts BlueZ's object-path form "dev_AA_BB_CC_DD_EE_FF" (a trailing path is not allowed).
  static absl::StatusOr<Address> fromBluezPathComponent(absl::string_view component);

  std::string toString() const;                // "AA:BB:CC:DD:EE:FF"
  std::string bluezPathComponent() const;      // "dev_AA_BB_CC_DD_EE_FF"
  const std::array<std::uint8_t, 6>& bytes() const { return bytes_; }  // as printed, MSB first

  auto operator<=>(const Address&) const = default;
  bool operator==(const Address&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, const Address& a) {
    return H::combine(std::move(h), a.bytes_);
  }

 private:
  std::array<std::uint8_t, 6> bytes_{};
};

}  // namespace gattway
