// Reconnection policies: which devices a policy applies to, which policy wins when several do, and
// how long a persistent session waits between attempts (session.proto, Policy and ResolvePolicy).
// Pure logic: no clock, no loop; randomness is injected so tests can pin it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/central/attribute_resolver.h"
#include "ble/central/subscribe_mode.h"
#include "ble/uuid.h"

namespace gattway {

// Which devices a policy applies to. Every non-empty field must match (AND); within a list any
// element may match (OR); every label must be present with its value. Empty: every device.
struct DeviceSelector {
  std::vector<Address> addresses;
  std::string namePrefix;
  std::vector<Uuid> serviceUuids;
  std::vector<std::uint16_t> manufacturerIds;
  std::map<std::string, std::string> labels;

  bool empty() const {
    return addresses.empty() && namePrefix.empty() && serviceUuids.empty() &&
           manufacturerIds.empty() && labels.empty();
  }
  bool operator==(const DeviceSelector&) const = default;
};

enum class GiveUpAction { kKeep, kRemove, kCoolDown };

// How a persistent session reconnects; the defaults are session.proto's.
struct ReconnectSettings {
  absl::Duration initialBackoff = absl::Seconds(1);
  absl::Duration maxBackoff = absl::Seconds(60);
  double multiplier = 2.0;
  double jitter = 0.2;
  std::uint32_t maxAttempts = 0;  // 0: never give up
  absl::Duration connectTimeout = absl::Seconds(10);
  GiveUpAction onGiveUp = GiveUpAction::kKeep;
  absl::Duration giveUpCooldown = absl::Hours(1);

  bool operator==(const ReconnectSettings&) const = default;
};

// A characteristic a policy keeps subscribed on its persistent sessions (session.proto,
// PolicySubscription; KeptSubscriptions starts it on every link).
struct PolicySubscription {
  AttributeQuery characteristic;
  SubscribeMode mode = SubscribeMode::kAuto;

  bool operator==(const PolicySubscription&) const = default;
};

// Subscriptions one policy may keep (session.proto, Policy.subscriptions).
inline constexpr std::size_t kMaxPolicySubscriptions = 32;

struct ReconnectPolicy {
  std::string name;
  std::string description;
  DeviceSelector selector;
  ReconnectSettings reconnect;
  std::int32_t priority = 0;  // -100..100, higher connects first
  bool autoConnect = false;
  std::vector<PolicySubscription> subscriptions;
  absl::Time createTime;
  absl::Time updateTime;
};

// Checks names, ranges and the kept subscriptions (at most kMaxPolicySubscriptions, each a
// characteristic named by UUID or handle, no descriptor, none twice), naming the offending field
// under `prefix` ("policy.subscriptions[2].characteristic").
absl::Status validatePolicy(const ReconnectPolicy& policy, absl::string_view prefix = "policy");

// What is known of a device when choosing its policy: its latest advertisement and its session's
// labels.
struct DeviceFacts {
  Address address;
  std::string name;
  std::vector<Uuid> serviceUuids;
  std::vector<std::uint16_t> manufacturerIds;
  std::map<std::string, std::string> labels;
};

// Specificity ranks used for precedence (ResolvePolicy's documentation).
enum class Specificity : std::uint32_t {
  kEmpty = 0,
  kNamePrefix = 1,
  kServicesOrManufacturer = 2,
  kLabels = 3,
  kAddress = 4,
};

struct SelectorMatch {
  bool matches = false;
  Specificity specificity = Specificity::kEmpty;  // of the selector, matching or not
  std::string explanation;                        // which fields matched or failed
};

SelectorMatch matchSelector(const DeviceSelector& selector, const DeviceFacts& device);

struct PolicyCandidate {
  const ReconnectPolicy* policy = nullptr;
  SelectorMatch match;
};

struct PolicyResolution {
  const ReconnectPolicy* policy = nullptr;  // null: no policy applies, the defaults do
  std::string reason;
  std::vector<PolicyCandidate> candidates;  // every policy, in precedence order, matching first
};

// Picks the policy for a device: the one named explicitly (when it exists), else the most
// specific matching selector, then the higher priority, then the name in byte order.
PolicyResolution resolvePolicy(const std::vector<const ReconnectPolicy*>& policies,
                               const DeviceFacts& device, absl::string_view explicitPolicy = "");

// The wait after the n-th consecutive failed attempt (n >= 1): min(max, initial × multiplier^(n-1))
// less a random fraction of it up to `jitter`, so that a fleet that dropped together does not come
// back together.
absl::Duration backoffDelay(const ReconnectSettings& settings, std::uint32_t failedAttempts,
                            absl::BitGenRef random);

// Whether a session that has failed `failedAttempts` times in a row should give up.
inline bool shouldGiveUp(const ReconnectSettings& settings, std::uint32_t failedAttempts) {
  return settings.maxAttempts != 0 && failedAttempts >= settings.maxAttempts;
}

}  // namespace gattway
