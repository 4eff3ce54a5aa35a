#include "cmd/gattway/views.h"

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cmd/gattway/flags.h"
#include "cmd/gattway/sig_values.h"

namespace gattway::cli {

std::string withoutPrefix(const std::string& name, const std::string& prefix) {
  return absl::StartsWith(name, prefix) ? name.substr(prefix.size()) : name;
}

std::string clockTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  const absl::Time at = absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  return absl::FormatTime("%H:%M:%E3S", at, absl::UTCTimeZone());
}

std::string durationText(const google::protobuf::Duration& d) {
  return absl::FormatDuration(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()));
}

gattway::v1::AttributeRef attributeFromFlags(const std::string& characteristic,
                                             bool allowDescriptor) {
  gattway::v1::AttributeRef ref;
  ref.set_characteristic_uuid(characteristic);
  ref.set_service_uuid(absl::GetFlag(FLAGS_service));
  if (allowDescriptor) ref.set_descriptor_uuid(absl::GetFlag(FLAGS_descriptor));
  return ref;
}

std::string decoded(const gattway::v1::AttributeRef& ref, const std::string& value) {
  if (!ref.descriptor_uuid().empty()) return "";
  return decodeValue(ref.characteristic_uuid(), value).value_or("");
}

std::vector<std::string> sessionColumns() {
  return {"ADDRESS", "STATE", "KIND", "ADAPTER", "NAME", "POLICY", "KEPT", "REASON"};
}

std::vector<std::string> sessionRow(const gattway::v1::Session& s) {
  std::string reason = absl::AsciiStrToLower(
      withoutPrefix(gattway::v1::SessionReason_Name(s.reason()), "SESSION_REASON_"));
  if (reason == "unspecified") reason = "";
  if (!s.detail().empty()) reason = reason.empty() ? s.detail() : absl::StrCat(reason, ": ", s.detail());
  std::string kept;
  if (s.subscriptions_size() > 0) {
    int active = 0;
    for (const auto& k : s.subscriptions()) active += k.active() ? 1 : 0;
    kept = absl::StrCat(active, "/", s.subscriptions_size());
  }
  return {s.address(),
          withoutPrefix(gattway::v1::SessionState_Name(s.state()), "SESSION_STATE_"),
          s.persistent() ? "persistent" : "ephemeral",
          s.adapter(),
          s.name(),
          s.policy(),
          kept,
          reason};
}

}  // namespace gattway::cli
