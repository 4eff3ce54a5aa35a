#include "ble/bluez/proxies/proxy_call.h"

#include <systemd/sd-bus.h>

#include "absl/strings/str_cat.h"
#include "ble/bluez/message_parsing.h"
#include "ble/error.h"

namespace gattway::bluez {

absl::Status statusOf(const ReplyError& error, absl::string_view context) {
  return err::fromBluez(error.name, error.message, context);
}

absl::Status malformedReply(absl::string_view context) {
  return err::make(err::Reason::kBluezError,
                   absl::StrCat(context, ": the reply does not have BlueZ's signature"));
}

PendingCall callForStatus(CallLimiter& calls, MessagePtr call, absl::Duration timeout,
                          std::string context, StatusCallback done) {
  return calls.send(std::move(call), timeout,
                    [context = std::move(context), done = std::move(done)](
                        sd_bus_message*, const ReplyError* error) mutable {
                      done(error != nullptr ? statusOf(*error, context) : absl::OkStatus());
                    });
}

PendingCall callMethod(CallLimiter& calls, absl::string_view path, absl::string_view interface,
                       absl::string_view member, absl::Duration timeout, StatusCallback done) {
  return callForStatus(calls, calls.newCall(kBluezService, path, interface, member), timeout,
                       callContext(member, path), std::move(done));
}

PendingCall readValue(CallLimiter& calls, absl::string_view path, absl::string_view interface,
                      std::uint16_t offset, absl::Duration timeout,
                      Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) {
  auto call = calls.newCall(kBluezService, path, interface, "ReadValue");
  if (call && !appendOptions(call.get(), offset)) call.reset();
  return callForValue<std::vector<std::uint8_t>>(calls, std::move(call), timeout,
                                                 callContext("ReadValue", path), readByteArray,
                                                 std::move(done));
}

std::string callContext(absl::string_view member, absl::string_view path) {
  return absl::StrCat(member, " ", path);
}

bool appendOptions(sd_bus_message* m, std::uint16_t offset, absl::string_view type) {
  if (m == nullptr) return false;
  if (sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}") < 0) return false;
  if (offset != 0 && sd_bus_message_append(m, "{sv}", "offset", "q", offset) < 0) return false;
  if (!type.empty()) {
    const std::string t(type);
    if (sd_bus_message_append(m, "{sv}", "type", "s", t.c_str()) < 0) return false;
  }
  return sd_bus_message_close_container(m) >= 0;
}

}  // namespace gattway::bluez
