#include "ble/error.h"

#include <array>
#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace gattway::err {
namespace {

constexpr absl::string_view kReasonUrl = "gattway.dev/reason";
constexpr absl::string_view kMetaUrlPrefix = "gattway.dev/meta/";

struct ReasonRow {
  Reason reason;
  absl::string_view name;
  absl::StatusCode code;
};

constexpr std::array<ReasonRow, 28> kReasons = {{
    {Reason::kInvalidField, "INVALID_FIELD", absl::StatusCode::kInvalidArgument},
    {Reason::kBluezUnavailable, "BLUEZ_UNAVAILABLE", absl::StatusCode::kUnavailable},
    {Reason::kAdapterNotFound, "ADAPTER_NOT_FOUND", absl::StatusCode::kNotFound},
    {Reason::kAdapterOff, "ADAPTER_OFF", absl::StatusCode::kFailedPrecondition},
    {Reason::kDeviceNotFound, "DEVICE_NOT_FOUND", absl::StatusCode::kNotFound},
    {Reason::kNotConnected, "NOT_CONNECTED", absl::StatusCode::kFailedPrecondition},
    {Reason::kDisconnected, "DISCONNECTED", absl::StatusCode::kUnavailable},
    {Reason::kAttributeNotFound, "ATTRIBUTE_NOT_FOUND", absl::StatusCode::kNotFound},
    {Reason::kAttributeAmbiguous, "ATTRIBUTE_AMBIGUOUS", absl::StatusCode::kInvalidArgument},
    {Reason::kOperationNotSupported, "OPERATION_NOT_SUPPORTED",
     absl::StatusCode::kFailedPrecondition},
    {Reason::kAttError, "ATT_ERROR", absl::StatusCode::kAborted},
    {Reason::kBluezError, "BLUEZ_ERROR", absl::StatusCode::kUnavailable},
    {Reason::kInProgress, "IN_PROGRESS", absl::StatusCode::kAborted},
    {Reason::kNoFreeSlot, "NO_FREE_SLOT", absl::StatusCode::kResourceExhausted},
    {Reason::kTimeout, "TIMEOUT", absl::StatusCode::kDeadlineExceeded},
    {Reason::kBudgetExhausted, "BUDGET_EXHAUSTED", absl::StatusCode::kDeadlineExceeded},
    {Reason::kBackendLimitation, "BACKEND_LIMITATION", absl::StatusCode::kFailedPrecondition},
    {Reason::kPolicyNotFound, "POLICY_NOT_FOUND", absl::StatusCode::kNotFound},
    {Reason::kPolicyExists, "POLICY_EXISTS", absl::StatusCode::kAlreadyExists},
    {Reason::kLimitExceeded, "LIMIT_EXCEEDED", absl::StatusCode::kResourceExhausted},
    {Reason::kNoDatabase, "NO_DATABASE", absl::StatusCode::kFailedPrecondition},
    {Reason::kNoAdvertisingInstance, "NO_ADVERTISING_INSTANCE",
     absl::StatusCode::kResourceExhausted},
    {Reason::kNotBuiltYet, "NOT_BUILT_YET", absl::StatusCode::kUnimplemented},
    {Reason::kUnauthenticated, "UNAUTHENTICATED", absl::StatusCode::kUnauthenticated},
    {Reason::kPermissionDenied, "PERMISSION_DENIED", absl::StatusCode::kPermissionDenied},
    {Reason::kShuttingDown, "SHUTTING_DOWN", absl::StatusCode::kUnavailable},
    {Reason::kSessionEnded, "SESSION_ENDED", absl::StatusCode::kUnavailable},
    {Reason::kAlreadyExists, "ALREADY_EXISTS", absl::StatusCode::kAlreadyExists},
}};

const ReasonRow& row(Reason reason) {
  for (const auto& r : kReasons) {
    if (r.reason == reason) return r;
  }
  return kReasons[0];  // unreachable: every enumerator has a row (checked by a unit test)
}

// ATT error code → status code, by what the caller can do about it.
absl::StatusCode attCode(std::uint8_t code) {
  switch (code) {
    case 0x05:  // Insufficient Authentication
    case 0x08:  // Insufficient Authorization
    case 0x0C:  // Insufficient Encryption Key Size
    case 0x0F:  // Insufficient Encryption
      return absl::StatusCode::kPermissionDenied;
    case 0x07:  // Invalid Offset
    case 0x0B:  // Attribute Not Long
    case 0x0D:  // Invalid Attribute Value Length
    case 0x13:  // Value Not Allowed
    case 0xFF:  // Out of Range
      return absl::StatusCode::kInvalidArgument;
    case 0x02:  // Read Not Permitted
    case 0x03:  // Write Not Permitted
    case 0x06:  // Request Not Supported
    case 0xFD:  // CCCD Improperly Configured
      return absl::StatusCode::kFailedPrecondition;
    case 0x01:  // Invalid Handle
    case 0x0A:  // Attribute Not Found
      return absl::StatusCode::kNotFound;
    case 0x09:  // Prepare Queue Full
    case 0x11:  // Insufficient Resources
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kAborted;
  }
}

// BlueZ's GATT client turns a peer's ATT error into a D-Bus error (src/gatt-client.c,
// create_gatt_dbus_error in 5.66): a few codes get a named error with a fixed message, the rest
// org.bluez.Error.Failed "Operation failed with ATT error: 0x0e". Returns the code when the error
// carries one. (The doc names InvalidOffset / InvalidValueLength; 5.66 sends InvalidArguments.)
std::optional<std::uint8_t> attCodeFromBluez(absl::string_view name, absl::string_view message) {
  constexpr absl::string_view kMarker = "ATT error: 0x";
  if (auto pos = message.find(kMarker); pos != absl::string_view::npos) {
    absl::string_view hex = message.substr(pos + kMarker.size(), 2);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
    if (ec == std::errc() && ptr != hex.data()) return static_cast<std::uint8_t>(value);
  }
  const absl::string_view shortName = absl::StripPrefix(name, "org.bluez.Error.");
  if (shortName == "NotPermitted" && message == "Read not permitted") return 0x02;
  if (shortName == "NotPermitted" && message == "Write not permitted") return 0x03;
  if (shortName == "InvalidArguments" && message == "Invalid offset") return 0x07;
  if (shortName == "InvalidArguments" && message == "Invalid Length") return 0x0D;
  if (shortName == "NotAuthorized") return 0x08;
  if (shortName == "InvalidOffset") return 0x07;
  if (shortName == "InvalidValueLength") return 0x0D;
  return std::nullopt;
}

}  // namespace

absl::string_view reasonName(Reason reason) { return row(reason).name; }

std::initializer_list<Reason> allReasons() {
  static const std::initializer_list<Reason> kAll = {
      Reason::kInvalidField,     Reason::kBluezUnavailable,  Reason::kAdapterNotFound,
      Reason::kAdapterOff,       Reason::kDeviceNotFound,    Reason::kNotConnected,
      Reason::kDisconnected,     Reason::kAttributeNotFound, Reason::kAttributeAmbiguous,
      Reason::kOperationNotSupported, Reason::kAttError,     Reason::kBluezError,
      Reason::kInProgress,       Reason::kNoFreeSlot,        Reason::kTimeout,
      Reason::kBudgetExhausted,  Reason::kBackendLimitation, Reason::kPolicyNotFound,
      Reason::kPolicyExists,     Reason::kLimitExceeded,     Reason::kNoDatabase,
      Reason::kNoAdvertisingInstance, Reason::kNotBuiltYet,  Reason::kUnauthenticated,
      Reason::kPermissionDenied, Reason::kShuttingDown,      Reason::kSessionEnded,
      Reason::kAlreadyExists};
  return kAll;
}

absl::StatusCode defaultCode(Reason reason) { return row(reason).code; }

absl::Status make(absl::StatusCode code, Reason reason, absl::string_view message,
                  Metadata metadata) {
  absl::Status status(code, message);
  status.SetPayload(kReasonUrl, absl::Cord(reasonName(reason)));
  for (const auto& [key, value] : metadata) setMetadata(status, key, value);
  return status;
}

absl::Status make(Reason reason, absl::string_view message, Metadata metadata) {
  return make(defaultCode(reason), reason, message, metadata);
}

absl::Status invalidField(absl::string_view field, absl::string_view message) {
  return make(Reason::kInvalidField, absl::StrCat(field, ": ", message), {{kMetaField, field}});
}

absl::string_view attErrorName(std::uint8_t code) {
  switch (code) {
    case 0x01: return "Invalid Handle";
    case 0x02: return "Read Not Permitted";
    case 0x03: return "Write Not Permitted";
    case 0x04: return "Invalid PDU";
    case 0x05: return "Insufficient Authentication";
    case 0x06: return "Request Not Supported";
    case 0x07: return "Invalid Offset";
    case 0x08: return "Insufficient Authorization";
    case 0x09: return "Prepare Queue Full";
    case 0x0A: return "Attribute Not Found";
    case 0x0B: return "Attribute Not Long";
    case 0x0C: return "Insufficient Encryption Key Size";
    case 0x0D: return "Invalid Attribute Value Length";
    case 0x0E: return "Unlikely Error";
    case 0x0F: return "Insufficient Encryption";
    case 0x10: return "Unsupported Group Type";
    case 0x11: return "Insufficient Resources";
    case 0x12: return "Database Out Of Sync";
    case 0x13: return "Value Not Allowed";
    case 0xFC: return "Write Request Rejected";
    case 0xFD: return "Client Characteristic Configuration Descriptor Improperly Configured";
    case 0xFE: return "Procedure Already in Progress";
    case 0xFF: return "Out of Range";
    default:
      if (code >= 0x80 && code <= 0x9F) return "Application Error";
      return "Reserved";
  }
}

absl::Status att(std::uint8_t code, absl::string_view context) {
  const std::string hex = absl::StrFormat("0x%02x", code);
  return make(attCode(code), Reason::kAttError,
              absl::StrCat(context, ": ATT error ", hex, " (", attErrorName(code), ")"),
              {{kMetaAttError, hex}, {kMetaAttErrorName, attErrorName(code)}});
}

absl::Status fromBluez(absl::string_view name, absl::string_view message, absl::string_view context) {
  const std::string text =
      message.empty() ? absl::StrCat(context, ": ", name)
                      : absl::StrCat(context, ": ", name, ": ", message);
  const Metadata bluezMeta = {{kMetaBluezError, name}, {kMetaBluezMessage, message}};
  if (auto code = attCodeFromBluez(name, message)) {
    absl::Status s = att(*code, context);
    setMetadata(s, kMetaBluezError, name);
    setMetadata(s, kMetaBluezMessage, message);
    return s;
  }
  const absl::string_view shortName = absl::StripPrefix(name, "org.bluez.Error.");
  using C = absl::StatusCode;
  if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
      name == "org.freedesktop.DBus.Error.Disconnected") {
    return make(Reason::kBluezUnavailable, text, bluezMeta);
  }
  if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" ||
      name == "org.freedesktop.DBus.Error.TimedOut") {
    return make(Reason::kTimeout, text, bluezMeta);
  }
  if (name == "org.freedesktop.DBus.Error.UnknownObject" ||
      name == "org.freedesktop.DBus.Error.UnknownMethod" || shortName == "DoesNotExist") {
    return make(Reason::kAttributeNotFound, text, bluezMeta);
  }
  // Device1.Connect while a connect is pending says EALREADY as Failed, not InProgress
  // (bluez-5.66-api.md §2); StartDiscovery and GATT calls use InProgress itself.
  if (shortName == "InProgress" ||
      (shortName == "Failed" && message == "Operation already in progress")) {
    return make(Reason::kInProgress, text, bluezMeta);
  }
  if (shortName == "NotReady") return make(Reason::kAdapterOff, text, bluezMeta);
  if (shortName == "NotConnected") return make(Reason::kNotConnected, text, bluezMeta);
  if (shortName == "NotSupported") return make(Reason::kOperationNotSupported, text, bluezMeta);
  if (shortName == "NotPermitted" && message == "Not paired") {
    // ATT Insufficient Authentication / Encryption / Key Size: BlueZ does not say which.
    return make(C::kPermissionDenied, Reason::kBluezError, text, bluezMeta);
  }
  // LEAdvertisingManager1.RegisterAdvertisement (5.66, src/advertising.c).
  if (shortName == "NotPermitted" && message == "Maximum advertisements reached") {
    return make(Reason::kNoAdvertisingInstance, text, bluezMeta);
  }
  if (shortName == "Failed" && message == "Failed to parse advertisement.") {
    return make(C::kInvalidArgument, Reason::kBluezError, text, bluezMeta);
  }
  if (shortName == "NotPermitted") {
    return make(C::kFailedPrecondition, Reason::kBluezError, text, bluezMeta);
  }
  if (shortName == "NotAuthorized" || shortName == "AuthenticationFailed" ||
      shortName == "AuthenticationRejected" || shortName == "AuthenticationCanceled" ||
      shortName == "AuthenticationTimeout") {
    return make(C::kPermissionDenied, Reason::kBluezError, text, bluezMeta);
  }
  if (shortName == "InvalidArguments") {
    return make(C::kInvalidArgument, Reason::kBluezError, text, bluezMeta);
  }
  if (shortName == "AlreadyExists" || shortName == "AlreadyConnected") {
    return make(C::kAlreadyExists, Reason::kBluezError, text, bluezMeta);
  }
  if (shortName == "Failed" && (absl::StrContains(message, "Not connected") ||
                                message == "Operation failed")) {
    // "Operation failed" without an ATT code: the request never got an answer (link lost).
    return make(Reason::kDisconnected, text, bluezMeta);
  }
  // Failed (le-connection-abort-by-local, page timeout, ...) and anything unknown: the radio
  // could not do it now; trying again may work.
  return make(C::kUnavailable, Reason::kBluezError, text, bluezMeta);
}

std::optional<Reason> reasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonUrl);
  if (!payload) return std::nullopt;
  const std::string name(*payload);
  for (const auto& r : kReasons) {
    if (r.name == name) return r.reason;
  }
  return std::nullopt;
}

std::optional<std::string> metadata(const absl::Status& status, absl::string_view key) {
  auto payload = status.GetPayload(absl::StrCat(kMetaUrlPrefix, key));
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

void forEachMetadata(const absl::Status& status,
                     const std::function<void(absl::string_view, absl::string_view)>& fn) {
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (absl::StartsWith(url, kMetaUrlPrefix)) {
      fn(url.substr(kMetaUrlPrefix.size()), std::string(value));
    }
  });
}

void setMetadata(absl::Status& status, absl::string_view key, absl::string_view value) {
  if (status.ok()) return;
  status.SetPayload(absl::StrCat(kMetaUrlPrefix, key), absl::Cord(value));
}

}  // namespace gattway::err
