// Characteristic values for people: hex, and a decoding where the Bluetooth SIG defines the
// format (GATT Specification Supplement). Pure functions, no gRPC: unit-tested on their own.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gattway::cli {

// "01 0a ff" (lower case, one space between bytes); "" for an empty value.
std::string toHex(absl::string_view bytes);

// Parses hex as a person types it: "010aff", "01 0a ff", "01:0a:ff", "0x010aff". Errors say which
// character is wrong or that the digit count is odd.
absl::StatusOr<std::string> parseHex(absl::string_view text);

// The 16-bit SIG short form ("2A6E") of a UUID given as "2a6e", "0x2A6E" or the full 128-bit form
// on the Bluetooth base UUID; the input upper-cased otherwise.
std::string shortUuid(absl::string_view uuid);

// A name for the SIG characteristics the CLI knows ("Temperature"), or "".
std::string characteristicName(absl::string_view uuid);

// The value decoded, e.g. "21.50 °C", "72 bpm", "85 %", or nullopt when the format is not known
// or the value is malformed for it (wrong length).
std::optional<std::string> decodeValue(absl::string_view uuid, absl::string_view bytes);

}  // namespace gattway::cli
