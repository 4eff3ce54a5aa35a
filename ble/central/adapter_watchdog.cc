#include "ble/central/adapter_watchdog.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/central/scan_hub.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

AdapterWatchdog::AdapterWatchdog(Executor& executor, CentralBackend& backend, ScanHub& scanHub,
                                 Metrics& metrics, WatchdogOptions options)
    : executor_(executor),
      backend_(backend),
      scanHub_(scanHub),
      metrics_(metrics),
      options_(std::move(options)) {
  options_.inProgressFailures = std::max<std::uint32_t>(options_.inProgressFailures, 1);
}

AdapterWatchdog::~AdapterWatchdog() { stop(); }

void AdapterWatchdog::start() {
  if (!options_.enabled || running_) return;
  running_ = true;
  checkTimer_ = executor_.runAfter(options_.checkInterval, [this] { check(); });
}

void AdapterWatchdog::stop() {
  running_ = false;
  checkTimer_.cancel();
  for (auto& [name, w] : watches_) {
    for (auto& op : w.power) op.reset();
    w.powerDeadline.cancel();
  }
}

void AdapterWatchdog::check() {
  checkTimer_ = executor_.runAfter(options_.checkInterval, [this] { check(); });
  if (!backend_.bluezUp()) return;
  const absl::Time now = executor_.now();
  for (const AdapterInfo& a : backend_.adapters()) {
    Watch& w = watches_[a.name];
    if (w.phase == Phase::kPoweringOff || w.phase == Phase::kPoweringOn) continue;
    // Only a discovery the gateway holds counts, and only Discovering tells (header comment).
    if (!a.powered || !scanHub_.discoveringForGateway(a.name) || a.discovering) {
      w.notDiscoveringSince.reset();
      continue;
    }
    if (!w.notDiscoveringSince) {
      w.notDiscoveringSince = now;
      continue;
    }
    if (now - *w.notDiscoveringSince < options_.discoveryTimeout) continue;
    w.notDiscoveringSince = now;  // the next sign only after another full timeout
    wedged(a.name, WedgeKind::kDiscovery,
           absl::StrCat("the gateway's discovery has not turned Discovering on for ",
                        absl::FormatDuration(options_.discoveryTimeout)));
  }
}

std::optional<absl::Status> AdapterWatchdog::onConnectResult(const std::string& adapter,
                                                             const Address& address,
                                                             const absl::Status& status) {
  if (!options_.enabled) return std::nullopt;
  Watch& w = watches_[adapter];
  if (status.ok()) {
    w.inProgress = 0;
    w.timedOut.clear();
    if (w.kind == WedgeKind::kConnect) healthy(adapter, "a connect succeeded");
    return std::nullopt;
  }
  if (err::reasonOf(status) != err::Reason::kInProgress) {
    w.inProgress = 0;
    if (options_.timeoutFailures > 0 && status.code() == absl::StatusCode::kDeadlineExceeded) {
      w.timedOut.insert(address);
      if (w.timedOut.size() >= options_.timeoutFailures) {
        w.timedOut.clear();
        wedged(adapter, WedgeKind::kConnect,
               absl::StrCat("connects to ", options_.timeoutFailures,
                            " different devices in a row timed out"));
      }
    }
    return std::nullopt;
  }
  const absl::Time now = executor_.now();
  if (w.inProgress++ == 0) w.inProgressSince = now;
  const absl::Duration streak = now - w.inProgressSince;
  if (w.inProgress >= options_.inProgressFailures && streak >= options_.inProgressSpan) {
    wedged(adapter, WedgeKind::kConnect,
           absl::StrCat(w.inProgress, " connects in a row over ", absl::FormatDuration(streak),
                        " failed with InProgress while the gateway had no other connect in flight "
                        "on the adapter: longer than another client's connect can hold it"));
  }
  // Until then it may be another BlueZ client's connect: the caller sees BlueZ's answer.
  if (w.kind != WedgeKind::kConnect) return std::nullopt;
  absl::Status instead = err::make(
      absl::StatusCode::kUnavailable, err::Reason::kBluezError,
      absl::StrCat("adapter ", adapter, " refuses every connect as busy although the gateway "
                   "has no other connect in flight on it; the adapter watchdog takes that for a "
                   "wedged adapter and is recovering it"),
      {{err::kMetaAdapter, adapter}, {err::kMetaAddress, address.toString()}});
  err::forEachMetadata(status, [&](absl::string_view k, absl::string_view v) {
    if (k != err::kMetaAdapter && k != err::kMetaAddress) err::setMetadata(instead, k, v);
  });
  return instead;
}

void AdapterWatchdog::wedged(const std::string& adapter, WedgeKind kind,
                             const std::string& detail) {
  Watch& w = watches_[adapter];
  if (w.phase == Phase::kPoweringOff || w.phase == Phase::kPoweringOn) return;
  metrics_.adapterWedged[static_cast<std::size_t>(kind)].add();
  log::warn("adapter.wedged", {{"adapter", adapter}, {"kind", wedgeKindName(kind)}, {"detail", detail}});
  w.kind = kind;
  w.inProgress = 0;
  w.timedOut.clear();
  if (w.phase == Phase::kHealthy && scanHub_.discoveringForGateway(adapter)) {
    metrics_.adapterRecoveries[static_cast<std::size_t>(RecoveryStep::kRestartDiscovery)].add();
    log::warn("adapter.recovery", {{"adapter", adapter}, {"step", "restart_discovery"}});
    w.phase = Phase::kRestartedDiscovery;
    scanHub_.restartDiscovery(adapter);
    return;
  }
  powerCycle(adapter);
}

void AdapterWatchdog::healthy(const std::string& adapter, const char* sign) {
  Watch& w = watches_[adapter];
  if (w.phase != Phase::kRestartedDiscovery) return;
  log::info("adapter.recovered", {{"adapter", adapter}, {"sign", sign}});
  w.phase = Phase::kHealthy;
  w.kind.reset();
}

void AdapterWatchdog::powerCycle(const std::string& adapter) {
  Watch& w = watches_[adapter];
  const absl::Time now = executor_.now();
  if (now - w.lastPowerCycle < options_.minPowerCycleInterval) {
    // The rate bound: a wedge that a power cycle did not cure is not cured by cycling faster.
    // Logged once per bound window; counted every time.
    metrics_.adapterRecoveries[static_cast<std::size_t>(RecoveryStep::kPowerCycleDeferred)].add();
    if (!w.deferredLogged) {
      log::warn("adapter.recovery",
                {{"adapter", adapter},
                 {"step", "power_cycle_deferred"},
                 {"next_allowed",
                  absl::FormatTime(w.lastPowerCycle + options_.minPowerCycleInterval)}});
    }
    w.deferredLogged = true;
    w.phase = Phase::kRestartedDiscovery;
    return;
  }
  w.lastPowerCycle = now;
  w.deferredLogged = false;
  metrics_.adapterRecoveries[static_cast<std::size_t>(RecoveryStep::kPowerCycle)].add();
  log::warn("adapter.recovery", {{"adapter", adapter}, {"step", "power_cycle"}});
  w.phase = Phase::kPoweringOff;
  w.notDiscoveringSince.reset();
  scanHub_.keepThroughPowerCycle(adapter);
  setPower(adapter, false);
}

void AdapterWatchdog::setPower(const std::string& adapter, bool on) {
  Watch& w = watches_[adapter];
  w.power[on ? 1 : 0] = backend_.setPowered(adapter, on, [this, adapter, on](absl::Status status) {
    watches_[adapter].power[on ? 1 : 0].release();
    if (status.ok()) return;  // the change itself is reported through onAdapterChanged
    log::warn("adapter.recovery_failed",
              {{"adapter", adapter}, {"powered", on}, {"error", status}});
  });
  // Powered is reported after the Set reply (mgmt); waiting for it is bounded.
  w.powerDeadline = executor_.runAfter(options_.powerStepTimeout, [this, adapter, on] {
    Watch& ww = watches_[adapter];
    ww.powerDeadline = Timer();
    log::warn("adapter.recovery_failed", {{"adapter", adapter},
                                          {"powered", on},
                                          {"error", "the power change was not reported in time"}});
    if (on) {
      setPower(adapter, true);  // an adapter left off helps nobody: ask again
      return;
    }
    ww.power[0].reset();
    ww.phase = Phase::kRestartedDiscovery;
  });
}

void AdapterWatchdog::onAdapterChanged(const AdapterInfo& adapter) {
  auto it = watches_.find(adapter.name);
  if (it == watches_.end()) return;
  Watch& w = it->second;
  if (w.phase == Phase::kPoweringOff && !adapter.powered) {
    w.phase = Phase::kPoweringOn;
    setPower(adapter.name, true);
    return;
  }
  if (w.phase == Phase::kPoweringOn && adapter.powered) {
    log::info("adapter.power_cycled", {{"adapter", adapter.name}});
    w.powerDeadline.cancel();
    w.phase = Phase::kHealthy;
    w.kind.reset();
    return;
  }
  if (!adapter.powered) {
    w.notDiscoveringSince.reset();
    w.inProgress = 0;
    w.timedOut.clear();
  }
  if (adapter.discovering && w.kind == WedgeKind::kDiscovery) healthy(adapter.name, "Discovering=true");
}

void AdapterWatchdog::onAdapterRemoved(const std::string& adapter) { watches_.erase(adapter); }

void AdapterWatchdog::onBackendDown() {
  // The power-cycle bound (lastPowerCycle) outlives bluetoothd; the rest starts afresh.
  for (auto& [name, w] : watches_) {
    for (auto& op : w.power) op.reset();
    w.powerDeadline.cancel();
    w.phase = Phase::kHealthy;
    w.kind.reset();
    w.notDiscoveringSince.reset();
    w.inProgress = 0;
    w.timedOut.clear();
  }
}

}  // namespace gattway
