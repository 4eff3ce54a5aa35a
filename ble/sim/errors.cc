#include "ble/sim/errors.h"

#include <cstdlib>

#include "absl/strings/str_format.h"

namespace gattway::sim::bluez {

dbus::Error errorForAtt(std::uint8_t code) {
  switch (code) {
    case 0x00:
      return {kFailed, "Operation failed"};
    case 0x02:  // Read Not Permitted
      return {kNotPermitted, "Read not permitted"};
    case 0x03:  // Write Not Permitted
      return {kNotPermitted, "Write not permitted"};
    case 0x05:  // Insufficient Authentication
    case 0x0C:  // Insufficient Encryption Key Size
    case 0x0F:  // Insufficient Encryption
      return {kNotPermitted, "Not paired"};
    case 0x07:  // Invalid Offset: 5.66 sends InvalidArguments, not the documented InvalidOffset
      return {kInvalidArguments, "Invalid offset"};
    case 0x0D:  // Invalid Attribute Value Length: likewise, not InvalidValueLength
      return {kInvalidArguments, "Invalid Length"};
    case 0x08:  // Insufficient Authorization
      return {kNotAuthorized, kMsgNotAuthorized};
    case 0x06:  // Request Not Supported
      return {kNotSupported, kMsgNotSupported};
    default:
      return {kFailed, absl::StrFormat("Operation failed with ATT error: 0x%02x", code)};
  }
}

std::uint8_t attForApplicationError(const dbus::Error& error, bool write) {
  const std::string& name = error.name;
  if (name == kFailed) {
    // The message as a whole number (strtol base 0): 0x80..0x9F passes, other numbers are
    // Unlikely, and text is the first application error code. An empty message parses as 0
    // (strtol stops at once, at the terminator) and so is Unlikely too.
    const char* text = error.message.c_str();
    char* end = nullptr;
    const long value = std::strtol(text, &end, 0);
    if (end == nullptr || *end != '\0') return 0x80;
    if (value >= 0x80 && value <= 0x9F) return static_cast<std::uint8_t>(value);
    return 0x0E;
  }
  if (name == kNotSupported) return 0x06;
  if (name == kNotAuthorized) return 0x08;
  if (name == kInvalidValueLength) return 0x0D;
  if (name == kInvalidOffset) return 0x07;
  if (name == kInProgress) return 0xFE;
  if (name == kNotPermitted) return write ? 0x03 : 0x02;
  return 0x0E;  // Unlikely: anything else, including a timeout and UnknownMethod
}

std::optional<dbus::Error> faultError(const std::optional<GattFaultSpec>& fault) {
  if (!fault || (fault->errorName.empty() && !fault->att)) return std::nullopt;
  if (fault->att) return errorForAtt(*fault->att);
  return dbus::Error{fault->errorName, fault->errorMessage};
}

}  // namespace gattway::sim::bluez
