#include "ble/central/reconnect_policy.h"

#include <algorithm>
#include <cmath>

#include "absl/random/distributions.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ble/error.h"

namespace gattway {
namespace {

bool validName(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  const auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  };
  const char first = name.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) return false;
  return std::all_of(name.begin(), name.end(), ok);
}

absl::Status durationInRange(absl::Duration d, absl::Duration lo, absl::Duration hi,
                             const std::string& field) {
  if (d < lo || d > hi) {
    return err::invalidField(field, absl::StrCat("must be between ", absl::FormatDuration(lo),
                                                 " and ", absl::FormatDuration(hi), ", not ",
                                                 absl::FormatDuration(d)));
  }
  return absl::OkStatus();
}

std::string quoted(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::Status validateSubscriptions(const std::vector<PolicySubscription>& subs,
                                   const std::string& at) {
  if (subs.size() > kMaxPolicySubscriptions) {
    return err::invalidField(at, absl::StrCat("at most ", kMaxPolicySubscriptions,
                                              " subscriptions, not ", subs.size()));
  }
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const PolicySubscription& sub = subs[i];
    const std::string f = absl::StrCat(at, "[", i, "]");
    const AttributeQuery& c = sub.characteristic;
    if (c.handle == 0 && !c.characteristic) {
      return err::invalidField(f + ".characteristic",
                               "give characteristic_uuid (e.g. \"2A37\") or a handle");
    }
    if (c.descriptor) {
      return err::invalidField(f + ".characteristic.descriptor_uuid",
                               "notifications come from characteristics; leave it empty");
    }
    switch (sub.mode) {
      case SubscribeMode::kAuto:
      case SubscribeMode::kNotify:
      case SubscribeMode::kIndicate: break;
      default:
        return err::invalidField(f + ".mode", "must be SUBSCRIBE_MODE_AUTO, _NOTIFY or _INDICATE");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (subs[j].characteristic == c) {
        return err::invalidField(
            f + ".characteristic",
            absl::StrCat(c.describe(), " is already kept by subscriptions[", j,
                         "]; a policy keeps each characteristic once"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status validatePolicy(const ReconnectPolicy& p, absl::string_view prefix) {
  const std::string at(prefix);
  if (!validName(p.name)) {
    return err::invalidField(
        at + ".name", absl::StrCat(quoted(p.name.substr(0, 80)),
                                   " is not a policy name: 1..63 characters from [a-z0-9-_.], "
                                   "starting with a letter or digit"));
  }
  if (p.description.size() > 1024) {
    return err::invalidField(at + ".description", "must be at most 1024 bytes");
  }
  const DeviceSelector& s = p.selector;
  if (s.addresses.size() > 1024) {
    return err::invalidField(at + ".selector.addresses", "at most 1024 addresses");
  }
  if (s.namePrefix.size() > 248) {
    return err::invalidField(at + ".selector.name_prefix", "must be at most 248 bytes");
  }
  if (s.serviceUuids.size() > 64) {
    return err::invalidField(at + ".selector.service_uuids", "at most 64 UUIDs");
  }
  if (s.manufacturerIds.size() > 64) {
    return err::invalidField(at + ".selector.manufacturer_ids", "at most 64 ids");
  }
  if (s.labels.size() > 16) return err::invalidField(at + ".selector.labels", "at most 16 labels");
  for (const auto& [k, v] : s.labels) {
    if (k.empty() || k.size() > 63 || v.empty() || v.size() > 63) {
      return err::invalidField(at + ".selector.labels",
                               absl::StrCat("label ", quoted(k.substr(0, 80)),
                                            ": keys and values must be 1..63 bytes"));
    }
  }
  const ReconnectSettings& r = p.reconnect;
  const std::string rc = at + ".reconnect";
  if (auto st = durationInRange(r.initialBackoff, absl::Milliseconds(10), absl::Hours(1),
                                rc + ".initial_backoff");
      !st.ok()) {
    return st;
  }
  if (auto st = durationInRange(r.maxBackoff, r.initialBackoff, absl::Hours(24),
                                rc + ".max_backoff");
      !st.ok()) {
    return st;
  }
  if (!(r.multiplier >= 1.0 && r.multiplier <= 10.0)) {
    return err::invalidField(rc + ".multiplier",
                             absl::StrCat("must be between 1.0 and 10.0, not ", r.multiplier));
  }
  if (!(r.jitter >= 0.0 && r.jitter <= 1.0)) {
    return err::invalidField(rc + ".jitter",
                             absl::StrCat("must be between 0.0 and 1.0, not ", r.jitter));
  }
  if (auto st = durationInRange(r.connectTimeout, absl::Seconds(1), absl::Minutes(5),
                                rc + ".connect_timeout");
      !st.ok()) {
    return st;
  }
  if (auto st = durationInRange(r.giveUpCooldown, absl::Seconds(1), absl::Hours(24 * 7),
                                rc + ".give_up_cooldown");
      !st.ok()) {
    return st;
  }
  if (p.priority < -100 || p.priority > 100) {
    return err::invalidField(at + ".priority",
                             absl::StrCat("must be between -100 and 100, not ", p.priority));
  }
  return validateSubscriptions(p.subscriptions, at + ".subscriptions");
}

SelectorMatch matchSelector(const DeviceSelector& s, const DeviceFacts& d) {
  SelectorMatch m;
  m.matches = true;
  std::vector<std::string> notes;
  auto raise = [&](Specificity level) {
    if (static_cast<std::uint32_t>(level) > static_cast<std::uint32_t>(m.specificity)) {
      m.specificity = level;
    }
  };
  auto fail = [&](std::string note) {
    m.matches = false;
    notes.push_back(std::move(note));
  };

  if (!s.addresses.empty()) {
    raise(Specificity::kAddress);
    if (std::find(s.addresses.begin(), s.addresses.end(), d.address) != s.addresses.end()) {
      notes.push_back(absl::StrCat("addresses matched ", d.address.toString()));
    } else {
      fail(absl::StrCat("addresses did not list ", d.address.toString()));
    }
  }
  if (!s.labels.empty()) {
    raise(Specificity::kLabels);
    std::vector<std::string> missing;
    for (const auto& [k, v] : s.labels) {
      auto it = d.labels.find(k);
      if (it == d.labels.end() || it->second != v) missing.push_back(absl::StrCat(k, "=", v));
    }
    if (missing.empty()) notes.push_back("labels matched");
    else fail(absl::StrCat("labels lacked ", absl::StrJoin(missing, ", ")));
  }
  if (!s.serviceUuids.empty()) {
    raise(Specificity::kServicesOrManufacturer);
    auto it = std::find_first_of(s.serviceUuids.begin(), s.serviceUuids.end(),
                                 d.serviceUuids.begin(), d.serviceUuids.end());
    if (it != s.serviceUuids.end()) notes.push_back(absl::StrCat("service_uuids matched ", it->toString()));
    else fail("service_uuids: the device advertises none of them");
  }
  if (!s.manufacturerIds.empty()) {
    raise(Specificity::kServicesOrManufacturer);
    auto it = std::find_first_of(s.manufacturerIds.begin(), s.manufacturerIds.end(),
                                 d.manufacturerIds.begin(), d.manufacturerIds.end());
    if (it != s.manufacturerIds.end()) {
      notes.push_back(absl::StrCat("manufacturer_ids matched ", *it));
    } else {
      fail("manufacturer_ids: the device advertises none of them");
    }
  }
  if (!s.namePrefix.empty()) {
    raise(Specificity::kNamePrefix);
    if (absl::StartsWith(d.name, s.namePrefix)) {
      notes.push_back(absl::StrCat("name_prefix ", quoted(s.namePrefix), " matched"));
    } else {
      fail(absl::StrCat("name_prefix ", quoted(s.namePrefix), " did not match ",
                        d.name.empty() ? std::string("(no name)") : quoted(d.name)));
    }
  }
  if (s.empty()) notes.push_back("empty selector: matches every device");
  m.explanation = absl::StrJoin(notes, "; ");
  return m;
}

PolicyResolution resolvePolicy(const std::vector<const ReconnectPolicy*>& policies,
                               const DeviceFacts& device, absl::string_view explicitPolicy) {
  PolicyResolution r;
  for (const ReconnectPolicy* p : policies) r.candidates.push_back({p, matchSelector(p->selector, device)});
  std::sort(r.candidates.begin(), r.candidates.end(),
            [](const PolicyCandidate& a, const PolicyCandidate& b) {
              if (a.match.matches != b.match.matches) return a.match.matches;
              if (a.match.matches) {
                if (a.match.specificity != b.match.specificity) {
                  return a.match.specificity > b.match.specificity;
                }
                if (a.policy->priority != b.policy->priority) {
                  return a.policy->priority > b.policy->priority;
                }
              }
              return a.policy->name < b.policy->name;
            });
  std::string missingExplicit;
  if (!explicitPolicy.empty()) {
    for (const auto& c : r.candidates) {
      if (c.policy->name == explicitPolicy) {
        r.policy = c.policy;
        r.reason = absl::StrCat("policy ", quoted(explicitPolicy),
                                " is named explicitly by the device's session");
        return r;
      }
    }
    missingExplicit = absl::StrCat("the session names policy ", quoted(explicitPolicy),
                                   ", which does not exist; ");
  }
  if (!r.candidates.empty() && r.candidates.front().match.matches) {
    const PolicyCandidate& best = r.candidates.front();
    r.policy = best.policy;
    std::size_t matching = 0;
    for (const auto& c : r.candidates) matching += c.match.matches ? 1 : 0;
    r.reason = absl::StrCat(missingExplicit, "policy ", quoted(best.policy->name), " matches (",
                            best.match.explanation, ")");
    if (matching > 1) {
      r.reason += absl::StrCat(" and wins over ", matching - 1,
                               " other matching polic", matching == 2 ? "y" : "ies",
                               " by specificity, then priority, then name");
    }
    return r;
  }
  r.reason = absl::StrCat(missingExplicit,
                          "no policy's selector matches this device: the built-in defaults apply");
  return r;
}

absl::Duration backoffDelay(const ReconnectSettings& s, std::uint32_t failedAttempts,
                            absl::BitGenRef random) {
  const double n = failedAttempts == 0 ? 0.0 : static_cast<double>(failedAttempts - 1);
  const double initial = absl::ToDoubleSeconds(s.initialBackoff);
  const double cap = absl::ToDoubleSeconds(s.maxBackoff);
  // multiplier^n overflows to +inf for large n, which min() then caps.
  const double grown = initial * std::pow(s.multiplier, n);
  const double base = std::min(cap, std::isfinite(grown) ? grown : cap);
  const double cut = s.jitter > 0 ? absl::Uniform(random, 0.0, s.jitter) : 0.0;
  return absl::Seconds(base * (1.0 - cut));
}

}  // namespace gattway
