// Errors inside ble/: absl::Status with a reason and metadata kept as payloads, so that the gRPC
// edge (server/status.cc) can attach them as a google.rpc.ErrorInfo without guessing.
//
// This file holds the one table that decides status codes: BlueZ error names and ATT error codes
// map to absl codes here, and nowhere else.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/status.h"

namespace gattway::err {

// Mirrors gattway.v1.ErrorReason (proto/gattway/v1/errors.proto); a server test checks that every
// name here exists there.
enum class Reason {
  kInvalidField,
  kBluezUnavailable,
  kAdapterNotFound,
  kAdapterOff,
  kDeviceNotFound,
  kNotConnected,
  kDisconnected,
  kAttributeNotFound,
  kAttributeAmbiguous,
  kOperationNotSupported,
  kAttError,
  kBluezError,
  kInProgress,
  kNoFreeSlot,
  kTimeout,
  kBudgetExhausted,
  kBackendLimitation,
  kPolicyNotFound,
  kPolicyExists,
  kLimitExceeded,
  kNoDatabase,
  kNoAdvertisingInstance,
  kNotBuiltYet,
  kUnauthenticated,
  kPermissionDenied,
  kShuttingDown,
  kSessionEnded,
  kAlreadyExists,
};

// "INVALID_FIELD", "ATT_ERROR", ... (the proto enum value name without "ERROR_REASON_").
absl::string_view reasonName(Reason reason);
// Every reason, for tests and documentation.
std::initializer_list<Reason> allReasons();

// Metadata keys used in ErrorInfo.
inline constexpr absl::string_view kMetaField = "field";
inline constexpr absl::string_view kMetaAttError = "att_error";
inline constexpr absl::string_view kMetaAttErrorName = "att_error_name";
inline constexpr absl::string_view kMetaBluezError = "bluez_error";
inline constexpr absl::string_view kMetaBluezMessage = "bluez_message";
inline constexpr absl::string_view kMetaAddress = "address";
inline constexpr absl::string_view kMetaAdapter = "adapter";
inline constexpr absl::string_view kMetaAttribute = "attribute";

using Metadata = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

// The status code a reason carries when nothing more specific applies.
absl::StatusCode defaultCode(Reason reason);

// A status with `reason`, its default code, a message for people, and metadata.
absl::Status make(Reason reason, absl::string_view message, Metadata metadata = {});
// The same with an explicit code.
absl::Status make(absl::StatusCode code, Reason reason, absl::string_view message,
                  Metadata metadata = {});

// INVALID_ARGUMENT naming the offending request field.
absl::Status invalidField(absl::string_view field, absl::string_view message);

// ATT error codes (Core spec Vol 3, Part F, 3.4.1.1).
absl::string_view attErrorName(std::uint8_t code);
// An ATT error returned by a peer, with its code by meaning (authentication → PERMISSION_DENIED,
// offsets and lengths → INVALID_ARGUMENT, not permitted → FAILED_PRECONDITION, others → ABORTED).
absl::Status att(std::uint8_t code, absl::string_view context);

// An error returned by BlueZ over D-Bus, e.g. ("org.bluez.Error.Failed",
// "le-connection-abort-by-local"). `context` says what was being done ("connect", "read 2A37").
// BlueZ reports a peer's ATT errors as org.bluez.Error.Failed / NotPermitted / ... with the code in
// the message; those become att() errors.
absl::Status fromBluez(absl::string_view name, absl::string_view message, absl::string_view context);

// Reading back.
std::optional<Reason> reasonOf(const absl::Status& status);
std::optional<std::string> metadata(const absl::Status& status, absl::string_view key);
void forEachMetadata(const absl::Status& status,
                     const std::function<void(absl::string_view, absl::string_view)>& fn);
// Adds or replaces one metadata entry.
void setMetadata(absl::Status& status, absl::string_view key, absl::string_view value);

}  // namespace gattway::err
