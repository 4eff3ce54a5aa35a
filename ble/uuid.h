// Bluetooth UUIDs: 16-, 32- and 128-bit forms (Core spec Vol 3, Part B, 2.5.1).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace gattway {

class Uuid {
 public:
  Uuid() = default;
  explicit Uuid(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // A UUID on the Bluetooth base UUID (0000xxxx-0000-1000-8000-00805F9B34FB).
  static Uuid fromShort(std::uint32_t value);
  // Accepts "180D", "0x180d", "0000180D" (32-bit) and the 128-bit form with dashes, any case.
  // `field` names the request field in the error.
  static absl::StatusOr<Uuid> parse(absl::string_view text, absl::string_view field = "uuid");

  // The 16- or 32-bit value when the UUID is on the base UUID.
  std::optional<std::uint32_t> shortValue() const;
  // "180D" for base UUIDs (4 or 8 upper-case hex digits), else the lower-case 128-bit form.
  std::string toString() const;
  // Always the lower-case 128-bit form, as BlueZ spells UUIDs on D-Bus.
  std::string toLongString() const;
  // Big-endian, as printed.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

  auto operator<=>(const Uuid&) const = default;
  bool operator==(const Uuid&) const = default;

  template <typename H>
  friend H AbslHashValue(H h, const Uuid& u) {
    return H::combine(std::move(h), u.bytes_);
  }

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace gattway
