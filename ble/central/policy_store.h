// PolicyStore: the gateway's named reconnection policies (session.proto, Policy). Validated on the
// way in (validatePolicy); sessions look theirs up at each attempt through resolve(), so a change
// applies from a session's next attempt on. Listeners hear of every change (the state file is
// written from there).
//
// Loop thread only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ble/central/reconnect_policy.h"

namespace gattway {

class PolicyStore {
 public:
  static constexpr std::size_t kMaxPolicies = 256;

  // Errors: INVALID_ARGUMENT (validatePolicy), ALREADY_EXISTS, RESOURCE_EXHAUSTED past the limit.
  absl::StatusOr<ReconnectPolicy> create(ReconnectPolicy policy, absl::Time now);
  // Replaces every field but the name and create time. NOT_FOUND unless `allowMissing`.
  absl::StatusOr<ReconnectPolicy> update(ReconnectPolicy policy, bool allowMissing, absl::Time now);
  absl::StatusOr<ReconnectPolicy> get(absl::string_view name) const;
  absl::Status remove(absl::string_view name);
  std::vector<ReconnectPolicy> list() const;  // ordered by name
  const ReconnectPolicy* find(absl::string_view name) const;
  bool anyAutoConnect() const;

  // Which policy applies to the device (ResolvePolicy's precedence).
  PolicyResolution resolve(const DeviceFacts& device, absl::string_view explicitPolicy = "") const;

  // Told after every change (create, update, delete). Loop thread.
  void onChange(std::function<void()> listener) { listeners_.push_back(std::move(listener)); }

 private:
  void changed();
  std::map<std::string, ReconnectPolicy, std::less<>> policies_;
  std::vector<std::function<void()>> listeners_;
};

}  // namespace gattway
