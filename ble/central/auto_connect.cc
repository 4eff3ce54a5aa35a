#include "ble/central/auto_connect.h"

#include "ble/log.h"

namespace gattway {
namespace {

// The hub's filter: the union of the auto_connect selectors' service UUIDs when every one of
// them names some (BlueZ then reports only those devices), else none (selectors are matched
// here, per device).
ScanFilter filterFor(const PolicyStore& policies) {
  ScanFilter f;
  for (const auto& p : policies.list()) {
    if (!p.autoConnect) continue;
    if (p.selector.serviceUuids.empty()) return ScanFilter{};
    f.serviceUuids.insert(f.serviceUuids.end(), p.selector.serviceUuids.begin(),
                          p.selector.serviceUuids.end());
  }
  f.normalize();
  return f;
}

bool sameFilter(const ScanFilter& a, const ScanFilter& b) {
  return a.serviceUuids == b.serviceUuids;
}

}  // namespace

AutoConnect::AutoConnect(Executor& executor, ScanHub& scanHub, SessionManager& sessions,
                         const PolicyStore& policies)
    : executor_(executor), scanHub_(scanHub), sessions_(sessions), policies_(policies) {}

void AutoConnect::refresh() {
  if (stopped_) return;
  if (!policies_.anyAutoConnect()) {
    if (scan_) log::info("auto_connect.stopped");
    scan_.reset();
    rescan_.cancel();
    return;
  }
  ScanFilter filter = filterFor(policies_);
  if (scan_ && sameFilter(filter, applied_)) return;
  scan_.reset();
  ScanOptions o;
  o.filter = filter;
  o.mode = ScanMode::kChanges;
  o.includeKnown = true;
  o.survivesBackendRestart = true;
  auto sub = scanHub_.subscribe(std::move(o), this);
  if (!sub.ok()) {
    log::warn("auto_connect.scan_failed", {{"error", sub.status()}});
    rescan_ = executor_.runAfter(kRescanAfter, [this] { refresh(); });
    return;
  }
  applied_ = std::move(filter);
  scan_.emplace(std::move(*sub));
  log::info("auto_connect.scanning", {{"service_uuids", applied_.serviceUuids.size()}});
}

void AutoConnect::stop() {
  stopped_ = true;
  scan_.reset();
  rescan_.cancel();
}

void AutoConnect::onScanResult(const ScanRecord& record) {
  if (record.connectable == false) return;
  if (sessions_.get(record.address).ok()) return;
  const absl::Time now = executor_.now();
  if (auto it = tried_.find(record.address); it != tried_.end() && now - it->second < kRetryAfter) {
    return;
  }
  DeviceFacts facts;
  facts.address = record.address;
  facts.name = record.data().name;
  facts.serviceUuids = record.data().serviceUuids;
  for (const auto& [id, bytes] : record.data().manufacturerData) facts.manufacturerIds.push_back(id);
  const PolicyResolution r = policies_.resolve(facts);
  const ReconnectPolicy* onboarding = nullptr;
  for (const auto& c : r.candidates) {
    if (c.match.matches && c.policy->autoConnect) {
      onboarding = c.policy;
      break;
    }
  }
  if (onboarding == nullptr) return;
  if (tried_.size() >= kMaxTried) tried_.clear();
  tried_[record.address] = now;
  ConnectOptions o;
  o.address = record.address;
  o.addressType = record.addressType;
  o.persistent = true;
  o.noWait = true;
  o.origin = SessionReason::kAutoConnect;
  log::info("auto_connect.onboarding", {{"address", record.address.toString()},
                                        {"name", facts.name},
                                        {"policy", onboarding->name}});
  const std::string address = record.address.toString();
  sessions_.connect(std::move(o), [address](absl::StatusOr<SessionInfo> s) {
    if (!s.ok()) log::warn("auto_connect.failed", {{"address", address}, {"error", s.status()}});
  });
}

void AutoConnect::onScanEnded(const absl::Status& status) {
  scan_.reset();
  if (stopped_) return;
  log::warn("auto_connect.scan_ended", {{"error", status}});
  rescan_ = executor_.runAfter(kRescanAfter, [this] { refresh(); });
}

}  // namespace gattway
