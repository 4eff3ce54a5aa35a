#include "server/policy_convert.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "server/convert.h"
#include "server/validate.h"

namespace gattway::server {
namespace {

// Range checks are validatePolicy's: here only the form of a Duration.
absl::StatusOr<std::optional<absl::Duration>> anyDuration(bool present,
                                                          const google::protobuf::Duration& d,
                                                          const std::string& field) {
  return durationField(present, d, field, absl::ZeroDuration(), absl::Hours(24 * 365));
}

}  // namespace

absl::StatusOr<ReconnectPolicy> policyFromProto(const v1::Policy& in, absl::string_view field) {
  const std::string at(field);
  ReconnectPolicy p;
  p.name = in.name();
  p.description = in.description();
  const v1::DeviceSelector& s = in.selector();
  for (int i = 0; i < s.addresses_size(); ++i) {
    auto a = Address::parse(s.addresses(i), absl::StrCat(at, ".selector.addresses[", i, "]"));
    if (!a.ok()) return a.status();
    p.selector.addresses.push_back(*a);
  }
  p.selector.namePrefix = s.name_prefix();
  for (int i = 0; i < s.service_uuids_size(); ++i) {
    auto u = Uuid::parse(s.service_uuids(i), absl::StrCat(at, ".selector.service_uuids[", i, "]"));
    if (!u.ok()) return u.status();
    p.selector.serviceUuids.push_back(*u);
  }
  for (int i = 0; i < s.manufacturer_ids_size(); ++i) {
    if (s.manufacturer_ids(i) > 0xFFFF) {
      return err::invalidField(absl::StrCat(at, ".selector.manufacturer_ids[", i, "]"),
                               absl::StrCat(s.manufacturer_ids(i),
                                            " is not a company identifier (0..65535)"));
    }
    p.selector.manufacturerIds.push_back(static_cast<std::uint16_t>(s.manufacturer_ids(i)));
  }
  for (const auto& [k, v] : s.labels()) p.selector.labels[k] = v;

  const v1::ReconnectSettings& r = in.reconnect();
  ReconnectSettings& out = p.reconnect;
  const std::string rc = at + ".reconnect";
  struct D {
    bool present;
    const google::protobuf::Duration& value;
    const char* name;
    absl::Duration* into;
  };
  for (const D& d : {D{r.has_initial_backoff(), r.initial_backoff(), "initial_backoff",
                       &out.initialBackoff},
                     D{r.has_max_backoff(), r.max_backoff(), "max_backoff", &out.maxBackoff},
                     D{r.has_connect_timeout(), r.connect_timeout(), "connect_timeout",
                       &out.connectTimeout},
                     D{r.has_give_up_cooldown(), r.give_up_cooldown(), "give_up_cooldown",
                       &out.giveUpCooldown}}) {
    auto v = anyDuration(d.present, d.value, rc + "." + d.name);
    if (!v.ok()) return v.status();
    if (*v) *d.into = **v;
  }
  // An initial backoff above the default maximum raises the maximum with it when none is given.
  if (!r.has_max_backoff() && out.initialBackoff > out.maxBackoff) out.maxBackoff = out.initialBackoff;
  if (r.has_multiplier()) out.multiplier = r.multiplier();
  if (r.has_jitter()) out.jitter = r.jitter();
  out.maxAttempts = r.max_attempts();
  switch (r.on_give_up()) {
    case v1::GIVE_UP_ACTION_UNSPECIFIED:
    case v1::GIVE_UP_ACTION_KEEP: out.onGiveUp = GiveUpAction::kKeep; break;
    case v1::GIVE_UP_ACTION_REMOVE: out.onGiveUp = GiveUpAction::kRemove; break;
    case v1::GIVE_UP_ACTION_COOL_DOWN: out.onGiveUp = GiveUpAction::kCoolDown; break;
    default:
      return err::invalidField(rc + ".on_give_up",
                               absl::StrCat("unknown value ", r.on_give_up(),
                                            "; expected GIVE_UP_ACTION_KEEP, _REMOVE or "
                                            "_COOL_DOWN"));
  }
  p.priority = in.priority();
  p.autoConnect = in.auto_connect();
  // Their form here; their number, duplicates and descriptors in validatePolicy.
  for (int i = 0; i < in.subscriptions_size(); ++i) {
    const v1::PolicySubscription& sub = in.subscriptions(i);
    const std::string f = absl::StrCat(at, ".subscriptions[", i, "]");
    auto characteristic = attributeRef(sub.characteristic(), f + ".characteristic");
    if (!characteristic.ok()) return characteristic.status();
    auto mode = subscribeMode(sub.mode(), f + ".mode");
    if (!mode.ok()) return mode.status();
    p.subscriptions.push_back({std::move(*characteristic), *mode});
  }
  if (auto st = validatePolicy(p, at); !st.ok()) return st;
  return p;
}

void toProto(const ReconnectSettings& r, v1::ReconnectSettings* out) {
  setDuration(r.initialBackoff, out->mutable_initial_backoff());
  setDuration(r.maxBackoff, out->mutable_max_backoff());
  out->set_multiplier(r.multiplier);
  out->set_jitter(r.jitter);
  out->set_max_attempts(r.maxAttempts);
  setDuration(r.connectTimeout, out->mutable_connect_timeout());
  switch (r.onGiveUp) {
    case GiveUpAction::kKeep: out->set_on_give_up(v1::GIVE_UP_ACTION_KEEP); break;
    case GiveUpAction::kRemove: out->set_on_give_up(v1::GIVE_UP_ACTION_REMOVE); break;
    case GiveUpAction::kCoolDown: out->set_on_give_up(v1::GIVE_UP_ACTION_COOL_DOWN); break;
  }
  setDuration(r.giveUpCooldown, out->mutable_give_up_cooldown());
}

void toProto(const ReconnectPolicy& p, v1::Policy* out) {
  out->set_name(p.name);
  out->set_description(p.description);
  auto* s = out->mutable_selector();
  for (const Address& a : p.selector.addresses) s->add_addresses(a.toString());
  s->set_name_prefix(p.selector.namePrefix);
  for (const Uuid& u : p.selector.serviceUuids) s->add_service_uuids(u.toString());
  for (auto id : p.selector.manufacturerIds) s->add_manufacturer_ids(id);
  for (const auto& [k, v] : p.selector.labels) (*s->mutable_labels())[k] = v;
  toProto(p.reconnect, out->mutable_reconnect());
  out->set_priority(p.priority);
  out->set_auto_connect(p.autoConnect);
  for (const PolicySubscription& sub : p.subscriptions) toProto(sub, out->add_subscriptions());
  setTimestamp(p.createTime, out->mutable_create_time());
  setTimestamp(p.updateTime, out->mutable_update_time());
}

absl::StatusOr<DeviceFacts> resolveRequest(const v1::ResolvePolicyRequest& r, DeviceFacts f) {
  if (!r.name().empty()) f.name = r.name();
  for (int i = 0; i < r.service_uuids_size(); ++i) {
    auto u = Uuid::parse(r.service_uuids(i), absl::StrCat("service_uuids[", i, "]"));
    if (!u.ok()) return u.status();
    f.serviceUuids.push_back(*u);
  }
  for (int i = 0; i < r.manufacturer_ids_size(); ++i) {
    if (r.manufacturer_ids(i) > 0xFFFF) {
      return err::invalidField(absl::StrCat("manufacturer_ids[", i, "]"),
                               "is not a company identifier (0..65535)");
    }
    f.manufacturerIds.push_back(static_cast<std::uint16_t>(r.manufacturer_ids(i)));
  }
  for (const auto& [k, v] : r.labels()) f.labels[k] = v;
  return f;
}

void toProto(const PolicyResolution& r, v1::ResolvePolicyResponse* out) {
  if (r.policy != nullptr) toProto(*r.policy, out->mutable_policy());
  out->set_reason(r.reason);
  for (const auto& c : r.candidates) {
    auto* pc = out->add_candidates();
    pc->set_policy(c.policy->name);
    pc->set_matches(c.match.matches);
    pc->set_explanation(c.match.explanation);
    pc->set_specificity(static_cast<std::uint32_t>(c.match.specificity));
  }
  toProto(r.policy != nullptr ? r.policy->reconnect : ReconnectSettings{}, out->mutable_effective());
}

}  // namespace gattway::server
