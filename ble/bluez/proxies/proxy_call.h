// What every typed proxy does with a call: send it through the CallLimiter and turn the reply into
// an absl::Status / StatusOr, with BlueZ's errors mapped once (err::fromBluez). The proxies
// themselves only build calls and read replies.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ble/bluez/call_limiter.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

inline constexpr absl::string_view kBluezService = "org.bluez";

// `context` names the call in error messages: "ReadValue /org/bluez/hci0/dev_…/char000b".
absl::Status statusOf(const ReplyError& error, absl::string_view context);
// A reply whose arguments were not what BlueZ sends.
absl::Status malformedReply(absl::string_view context);

// Sends a call whose reply carries nothing the caller needs.
PendingCall callForStatus(CallLimiter& calls, MessagePtr call, absl::Duration timeout,
                          std::string context, StatusCallback done);

// A method of org.bluez without arguments or results (StartDiscovery, Connect, StartNotify, ...).
PendingCall callMethod(CallLimiter& calls, absl::string_view path, absl::string_view interface,
                       absl::string_view member, absl::Duration timeout, StatusCallback done);

// ReadValue({offset}) → ay, as characteristics and descriptors both have it.
PendingCall readValue(CallLimiter& calls, absl::string_view path, absl::string_view interface,
                      std::uint16_t offset, absl::Duration timeout,
                      Callback<absl::StatusOr<std::vector<std::uint8_t>>> done);

// Sends a call and reads its reply with `read(reply, value)`, which returns false when the reply
// does not have BlueZ's shape.
template <typename T, typename Read>
PendingCall callForValue(CallLimiter& calls, MessagePtr call, absl::Duration timeout,
                         std::string context, Read read, Callback<absl::StatusOr<T>> done) {
  return calls.send(std::move(call), timeout,
                    [context = std::move(context), read = std::move(read),
                     done = std::move(done)](sd_bus_message* reply,
                                             const ReplyError* error) mutable {
                      if (error != nullptr) return done(statusOf(*error, context));
                      T value{};
                      if (!read(reply, value)) return done(malformedReply(context));
                      done(std::move(value));
                    });
}

// "<member> <path>".
std::string callContext(absl::string_view member, absl::string_view path);

// Appends an empty a{sv}, or the options most GATT calls take (BlueZ reads "offset" as q and
// "type" as s; gatt-api.txt).
bool appendOptions(sd_bus_message* m, std::uint16_t offset, absl::string_view type = {});

}  // namespace gattway::bluez
