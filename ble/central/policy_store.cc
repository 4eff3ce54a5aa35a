#include "ble/central/policy_store.h"

#include "absl/strings/str_cat.h"
#include "ble/central/central_errors.h"
#include "ble/error.h"

namespace gattway {
namespace {

absl::Status notFound(absl::string_view name) {
  return central_errors::policyNotFound(std::string(name));
}

}  // namespace

absl::StatusOr<ReconnectPolicy> PolicyStore::create(ReconnectPolicy p, absl::Time now) {
  if (auto s = validatePolicy(p); !s.ok()) return s;
  if (policies_.count(p.name) != 0) {
    return err::make(err::Reason::kPolicyExists,
                     absl::StrCat("policy \"", p.name, "\" already exists; use UpdatePolicy"),
                     {{"policy", p.name}});
  }
  if (policies_.size() >= kMaxPolicies) {
    return err::make(err::Reason::kLimitExceeded,
                     absl::StrCat("the gateway holds ", kMaxPolicies, " policies, its limit"));
  }
  p.createTime = now;
  p.updateTime = now;
  const ReconnectPolicy stored = policies_.emplace(p.name, std::move(p)).first->second;
  changed();
  return stored;
}

absl::StatusOr<ReconnectPolicy> PolicyStore::update(ReconnectPolicy p, bool allowMissing,
                                                    absl::Time now) {
  if (auto s = validatePolicy(p); !s.ok()) return s;
  auto it = policies_.find(p.name);
  if (it == policies_.end()) {
    if (!allowMissing) return notFound(p.name);
    return create(std::move(p), now);
  }
  p.createTime = it->second.createTime;
  p.updateTime = now;
  it->second = std::move(p);
  const ReconnectPolicy stored = it->second;
  changed();
  return stored;
}

absl::StatusOr<ReconnectPolicy> PolicyStore::get(absl::string_view name) const {
  const ReconnectPolicy* p = find(name);
  if (p == nullptr) return notFound(name);
  return *p;
}

const ReconnectPolicy* PolicyStore::find(absl::string_view name) const {
  auto it = policies_.find(name);
  return it == policies_.end() ? nullptr : &it->second;
}

absl::Status PolicyStore::remove(absl::string_view name) {
  auto it = policies_.find(name);
  if (it == policies_.end()) return notFound(name);
  policies_.erase(it);
  changed();
  return absl::OkStatus();
}

std::vector<ReconnectPolicy> PolicyStore::list() const {
  std::vector<ReconnectPolicy> out;
  out.reserve(policies_.size());
  for (const auto& [name, p] : policies_) out.push_back(p);
  return out;
}

bool PolicyStore::anyAutoConnect() const {
  for (const auto& [name, p] : policies_) {
    if (p.autoConnect) return true;
  }
  return false;
}

PolicyResolution PolicyStore::resolve(const DeviceFacts& device,
                                      absl::string_view explicitPolicy) const {
  std::vector<const ReconnectPolicy*> all;
  all.reserve(policies_.size());
  for (const auto& [name, p] : policies_) all.push_back(&p);
  return resolvePolicy(all, device, explicitPolicy);
}

void PolicyStore::changed() {
  for (auto& l : listeners_) l();
}

}  // namespace gattway
