// BlueZ's error names and messages (src/error.c, 5.66) and its two ATT error tables: a peer's ATT
// error as the D-Bus error a GATT client call returns, and a hosted application's D-Bus error as
// the ATT error sent to the peer (bluez-5.66-api.md §3, §4).
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/faults.h"

namespace gattway::sim::bluez {

inline constexpr char kInvalidArguments[] = "org.bluez.Error.InvalidArguments";
inline constexpr char kInProgress[] = "org.bluez.Error.InProgress";
inline constexpr char kAlreadyExists[] = "org.bluez.Error.AlreadyExists";
inline constexpr char kNotSupported[] = "org.bluez.Error.NotSupported";
inline constexpr char kNotConnected[] = "org.bluez.Error.NotConnected";
inline constexpr char kAlreadyConnected[] = "org.bluez.Error.AlreadyConnected";
inline constexpr char kNotAvailable[] = "org.bluez.Error.NotAvailable";
inline constexpr char kDoesNotExist[] = "org.bluez.Error.DoesNotExist";
inline constexpr char kNotAuthorized[] = "org.bluez.Error.NotAuthorized";
inline constexpr char kNotPermitted[] = "org.bluez.Error.NotPermitted";
inline constexpr char kNotReady[] = "org.bluez.Error.NotReady";
inline constexpr char kFailed[] = "org.bluez.Error.Failed";
inline constexpr char kBusy[] = "org.bluez.Error.Busy";
inline constexpr char kInvalidOffset[] = "org.bluez.Error.InvalidOffset";
inline constexpr char kInvalidValueLength[] = "org.bluez.Error.InvalidValueLength";
inline constexpr char kAuthenticationFailed[] = "org.bluez.Error.AuthenticationFailed";
inline constexpr char kAuthenticationCanceled[] = "org.bluez.Error.AuthenticationCanceled";
inline constexpr char kAuthenticationRejected[] = "org.bluez.Error.AuthenticationRejected";
inline constexpr char kAuthenticationTimeout[] = "org.bluez.Error.AuthenticationTimeout";
inline constexpr char kConnectionAttemptFailed[] = "org.bluez.Error.ConnectionAttemptFailed";

// Default messages.
inline constexpr char kMsgInvalidArguments[] = "Invalid arguments in method call";
inline constexpr char kMsgBusy[] = "Operation already in progress";  // btd_error_busy, EALREADY
inline constexpr char kMsgInProgress[] = "In Progress";
inline constexpr char kMsgAlreadyExists[] = "Already Exists";
inline constexpr char kMsgNotSupported[] = "Operation is not supported";
inline constexpr char kMsgNotConnected[] = "Not Connected";
inline constexpr char kMsgDoesNotExist[] = "Does Not Exist";
inline constexpr char kMsgNotAuthorized[] = "Operation Not Authorized";
inline constexpr char kMsgNotReady[] = "Resource Not Ready";

// Connection failure reasons (the message of org.bluez.Error.Failed).
inline constexpr char kLeAbortByLocal[] = "le-connection-abort-by-local";
inline constexpr char kLeBusy[] = "le-connection-busy";
inline constexpr char kBrCanceled[] = "br-connection-canceled";

// The D-Bus error BlueZ's GATT client returns for a peer's ATT error code (create_gatt_dbus_error).
// Code 0 (no ATT error, e.g. the link went down) is Failed "Operation failed".
dbus::Error errorForAtt(std::uint8_t code);

// The ATT error BlueZ's GATT server sends a peer when a hosted application answered ReadValue or
// WriteValue with `error` (dbus_error_to_att_ecode). `write` picks 0x03 over 0x02 for NotPermitted.
std::uint8_t attForApplicationError(const dbus::Error& error, bool write);

// The error a queued GATT fault answers with, if it has one (it may only add a delay): its D-Bus
// error, or its ATT code as errorForAtt names it.
std::optional<dbus::Error> faultError(const std::optional<GattFaultSpec>& fault);

}  // namespace gattway::sim::bluez
