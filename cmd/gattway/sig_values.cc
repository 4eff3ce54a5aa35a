#include "cmd/gattway/sig_values.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gattway::cli {
namespace {

constexpr absl::string_view kBaseUuidSuffix = "-0000-1000-8000-00805f9b34fb";

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint16_t le16(absl::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) |
                               (static_cast<uint8_t>(b[at + 1]) << 8));
}

bool printableUtf8(absl::string_view b) {
  for (char c : b) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return false;
  }
  return true;
}

}  // namespace

std::string toHex(absl::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) out += ' ';
    absl::StrAppendFormat(&out, "%02x", static_cast<uint8_t>(bytes[i]));
  }
  return out;
}

absl::StatusOr<std::string> parseHex(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (absl::StartsWith(t, "0x") || absl::StartsWith(t, "0X")) t.remove_prefix(2);
  std::string digits;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == ' ' || c == ':' || c == '-') continue;
    if (hexDigit(c) < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "value \"%s\": '%c' is not a hex digit (expected bytes in hex, e.g. 01ff or \"01 ff\")",
          text, c));
    }
    digits += c;
  }
  if (digits.size() % 2) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "value \"%s\": odd number of hex digits (each byte is two digits)", text));
  }
  std::string out;
  for (size_t i = 0; i < digits.size(); i += 2) {
    out += static_cast<char>(hexDigit(digits[i]) * 16 + hexDigit(digits[i + 1]));
  }
  return out;
}

std::string shortUuid(absl::string_view uuid) {
  std::string u = absl::AsciiStrToLower(absl::StripAsciiWhitespace(uuid));
  if (absl::StartsWith(u, "0x")) u.erase(0, 2);
  if (u.size() == 36 && absl::EndsWith(u, kBaseUuidSuffix) && absl::StartsWith(u, "0000")) {
    u = u.substr(4, 4);
  }
  return absl::AsciiStrToUpper(u);
}

std::string characteristicName(absl::string_view uuid) {
  const std::string u = shortUuid(uuid);
  if (u == "2A6E") return "Temperature";
  if (u == "2A6F") return "Humidity";
  if (u == "2A37") return "Heart Rate Measurement";
  if (u == "2A38") return "Body Sensor Location";
  if (u == "2A19") return "Battery Level";
  if (u == "2A00") return "Device Name";
  if (u == "2A29") return "Manufacturer Name String";
  if (u == "2A24") return "Model Number String";
  if (u == "2A26") return "Firmware Revision String";
  return "";
}

std::optional<std::string> decodeValue(absl::string_view uuid, absl::string_view b) {
  const std::string u = shortUuid(uuid);
  if (u == "2A6E") {  // Temperature: sint16, 0.01 degC; 0x8000 = unknown
    if (b.size() != 2) return std::nullopt;
    const auto raw = static_cast<int16_t>(le16(b, 0));
    if (raw == INT16_MIN) return "unknown";
    return absl::StrFormat("%.2f °C", raw / 100.0);
  }
  if (u == "2A6F") {  // Humidity: uint16, 0.01 %; 0xFFFF = unknown
    if (b.size() != 2) return std::nullopt;
    const uint16_t raw = le16(b, 0);
    if (raw == 0xFFFF) return "unknown";
    return absl::StrFormat("%.2f %%", raw / 100.0);
  }
  if (u == "2A19") {  // Battery Level: uint8 percent, 0..100
    if (b.size() != 1 || static_cast<uint8_t>(b[0]) > 100) return std::nullopt;
    return absl::StrCat(static_cast<uint8_t>(b[0]), " %");
  }
  if (u == "2A37") {  // Heart Rate Measurement: flags, bpm uint8 (bit 0 clear) or uint16
    if (b.empty()) return std::nullopt;
    const auto flags = static_cast<uint8_t>(b[0]);
    const bool wide = flags & 0x01;
    if (b.size() < (wide ? 3u : 2u)) return std::nullopt;
    const unsigned bpm = wide ? le16(b, 1) : static_cast<uint8_t>(b[1]);
    std::string out = absl::StrCat(bpm, " bpm");
    // Sensor Contact Status (bits 1-2): 0b10 not detected, 0b11 detected.
    if ((flags & 0x06) == 0x04) out += ", no contact";
    if ((flags & 0x06) == 0x06) out += ", contact";
    return out;
  }
  if (u == "2A38") {  // Body Sensor Location: uint8 enum
    static constexpr const char* kLocations[] = {"other", "chest", "wrist", "finger",
                                                 "hand",  "ear lobe", "foot"};
    if (b.size() != 1 || static_cast<uint8_t>(b[0]) > 6) return std::nullopt;
    return kLocations[static_cast<uint8_t>(b[0])];
  }
  if (u == "2A00" || u == "2A29" || u == "2A24" || u == "2A26") {  // UTF-8 strings
    if (!printableUtf8(b)) return std::nullopt;
    return absl::StrCat("\"", b, "\"");
  }
  return std::nullopt;
}

}  // namespace gattway::cli
