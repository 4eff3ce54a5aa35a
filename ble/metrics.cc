#include "ble/metrics.h"

#include <cmath>

namespace gattway {

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  const long long nanos = seconds > 0 ? std::llround(seconds * 1e9) : 0;
  sumNanos_.fetch_add(static_cast<std::uint64_t>(nanos), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds.assign(kBounds.begin(), kBounds.end());
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = static_cast<double>(sumNanos_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

const char* gattOpKindName(GattOpKind k) {
  switch (k) {
    case GattOpKind::kDiscover: return "discover";
    case GattOpKind::kRead: return "read";
    case GattOpKind::kWrite: return "write";
    case GattOpKind::kSubscribe: return "subscribe";
    case GattOpKind::kCount: break;
  }
  return "unknown";
}

const char* wedgeKindName(WedgeKind k) {
  switch (k) {
    case WedgeKind::kDiscovery: return "discovery";
    case WedgeKind::kConnect: return "connect";
    case WedgeKind::kCount: break;
  }
  return "unknown";
}

const char* recoveryStepName(RecoveryStep s) {
  switch (s) {
    case RecoveryStep::kRestartDiscovery: return "restart_discovery";
    case RecoveryStep::kPowerCycle: return "power_cycle";
    case RecoveryStep::kPowerCycleDeferred: return "power_cycle_deferred";
    case RecoveryStep::kCount: break;
  }
  return "unknown";
}

const char* connectResultName(ConnectResult r) {
  switch (r) {
    case ConnectResult::kOk: return "ok";
    case ConnectResult::kFailed: return "failed";
    case ConnectResult::kTimeout: return "timeout";
    case ConnectResult::kInProgress: return "in_progress";
    case ConnectResult::kCancelled: return "cancelled";
    case ConnectResult::kCount: break;
  }
  return "unknown";
}

const char* batchOutcomeName(BatchOutcome o) {
  switch (o) {
    case BatchOutcome::kOk: return "ok";
    case BatchOutcome::kDeadlineExceeded: return "deadline_exceeded";
    case BatchOutcome::kDisconnected: return "disconnected";
    case BatchOutcome::kFailed: return "failed";
    case BatchOutcome::kCount: break;
  }
  return "unknown";
}

const char* sessionStateMetricName(SessionStateMetric s) {
  switch (s) {
    case SessionStateMetric::kQueued: return "queued";
    case SessionStateMetric::kConnecting: return "connecting";
    case SessionStateMetric::kResolvingServices: return "resolving_services";
    case SessionStateMetric::kConnected: return "connected";
    case SessionStateMetric::kDisconnected: return "disconnected";
    case SessionStateMetric::kBackingOff: return "backing_off";
    case SessionStateMetric::kGaveUp: return "gave_up";
    case SessionStateMetric::kWaitingForAdapter: return "waiting_for_adapter";
    case SessionStateMetric::kCount: break;
  }
  return "unknown";
}

void Metrics::countGattOp(GattOpKind kind, absl::StatusCode code, double seconds) {
  const auto k = static_cast<std::size_t>(kind);
  auto c = static_cast<std::size_t>(code);
  if (c >= kStatusCodes) c = static_cast<std::size_t>(absl::StatusCode::kUnknown);
  gattOps_[k][c].add();
  gattLatency_[k].observe(seconds);
}

std::uint64_t Metrics::gattOps(GattOpKind kind, std::size_t code) const {
  return gattOps_[static_cast<std::size_t>(kind)][code].value();
}

const Histogram& Metrics::gattLatency(GattOpKind kind) const {
  return gattLatency_[static_cast<std::size_t>(kind)];
}

void Metrics::setAdapter(const std::string& name, const AdapterSlotsMetric& slots) {
  std::lock_guard lock(adaptersMu_);
  adapters_[name] = slots;
}

void Metrics::removeAdapter(const std::string& name) {
  std::lock_guard lock(adaptersMu_);
  adapters_.erase(name);
}

std::map<std::string, AdapterSlotsMetric> Metrics::adapters() const {
  std::lock_guard lock(adaptersMu_);
  return adapters_;
}

}  // namespace gattway
