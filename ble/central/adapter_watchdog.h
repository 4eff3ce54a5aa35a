// AdapterWatchdog: notices a wedged adapter and recovers it (README, "Adapter watchdog").
//
// Wedged means:
// - discovery: the gateway holds a discovery session on the adapter (its StartDiscovery
//   succeeded) and BlueZ has not reported Discovering=true for `discoveryTimeout`. Silence is
//   never taken for a wedge: a healthy adapter in an empty room reports nothing, and BlueZ says
//   Discovering=true all the same.
// - connects: at least `inProgressFailures` connects in a row on the adapter failed with
//   InProgress, over at least `inProgressSpan` from the first to the last. The connect scheduler
//   keeps one gateway connect in flight per adapter, so these are not the gateway's own. Another
//   BlueZ client's LE connect holds the adapter too, but for at most the kernel's LE connect
//   timeout (20 s); a controller stuck in a create-connection refuses every connect until it is
//   reset (users report exactly that: bleak-retry-connector#226, home-assistant/core#115995 "try
//   power cycling the bluetooth hardware"). The span tells the two apart. Optionally
//   (`timeoutFailures`, off by default) connects to that many different devices in a row that time
//   out while CONNECTING: off because a fleet of absent devices times out too.
//
// Recovery ladder, per adapter; each step is logged (adapter.wedged, adapter.recovery) and
// counted (Metrics::adapterWedged, adapterRecoveries):
// 1. restart discovery (stop, then start) when the gateway is discovering on the adapter;
// 2. noticed again before the adapter proved healthy (or step 1 did not apply): power cycle
//    through Adapter1.Powered, off then on, at most once per `minPowerCycleInterval` per adapter
//    (a deferred cycle is logged and counted, and taken when the wedge is noticed after the
//    bound). Links on the adapter drop and persistent sessions come back as after any power-on
//    (storm control, Central::settle); Scan streams on it carry on.
// Healthy again: Discovering=true (discovery), a connect that succeeds (connects).
//
// Callers see an InProgress connect as ABORTED (IN_PROGRESS) while it may be another client's;
// once the watchdog has declared the adapter's connects wedged, and until a connect succeeds or a
// power cycle is done, as UNAVAILABLE (BLUEZ_ERROR, bluez_error kept in the metadata, session
// reason WATCHDOG). SessionManager never counts an InProgress against max_attempts.
//
// Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

class ScanHub;

struct WatchdogOptions {
  bool enabled = true;
  // A gateway discovery not Discovering for this long is wedged.
  absl::Duration discoveryTimeout = absl::Seconds(10);
  // Connects in a row failing with InProgress that make a wedge (at least 1).
  std::uint32_t inProgressFailures = 3;
  // ... and only once they have gone on this long (first to last): longer than another BlueZ
  // client's LE connect can hold the adapter (the kernel's connect timeout, 20 s).
  absl::Duration inProgressSpan = absl::Seconds(30);
  // Connects to different devices in a row timing out that make a wedge; 0: not a sign.
  std::uint32_t timeoutFailures = 0;
  // At most one power cycle per adapter per this long.
  absl::Duration minPowerCycleInterval = absl::Minutes(10);
  // How often the discovery condition is checked.
  absl::Duration checkInterval = absl::Seconds(1);
  // Each half of a power cycle (Powered false, then true) is given this long to be reported.
  absl::Duration powerStepTimeout = absl::Seconds(10);
};

class AdapterWatchdog {
 public:
  AdapterWatchdog(Executor& executor, CentralBackend& backend, ScanHub& scanHub, Metrics& metrics,
                  WatchdogOptions options);
  ~AdapterWatchdog();
  AdapterWatchdog(const AdapterWatchdog&) = delete;
  AdapterWatchdog& operator=(const AdapterWatchdog&) = delete;

  const WatchdogOptions& options() const { return options_; }
  void start();
  void stop();

  // Told the outcome of each connect the gateway made on `adapter` (SessionManager). Returns the
  // error callers should see instead when the watchdog takes the failure as the adapter's.
  std::optional<absl::Status> onConnectResult(const std::string& adapter, const Address& address,
                                              const absl::Status& status);

  // From the backend listener (Central).
  void onAdapterChanged(const AdapterInfo& adapter);
  void onAdapterRemoved(const std::string& adapter);
  void onBackendDown();

 private:
  enum class Phase {
    kHealthy,
    kRestartedDiscovery,  // step 1 taken; the next wedge escalates
    kPoweringOff,         // step 2: Powered=false asked, waiting for it to be reported
    kPoweringOn,          // Powered=true asked, waiting for it
  };
  struct Watch {
    Phase phase = Phase::kHealthy;
    std::optional<WedgeKind> kind;  // of the wedge being recovered
    std::optional<absl::Time> notDiscoveringSince;
    std::uint32_t inProgress = 0;  // InProgress connects in a row, the first at inProgressSince
    absl::Time inProgressSince;
    std::set<Address> timedOut;
    absl::Time lastPowerCycle = absl::InfinitePast();
    bool deferredLogged = false;
    std::array<Operation, 2> power;  // Powered=false, Powered=true
    Timer powerDeadline;
  };

  void check();
  void wedged(const std::string& adapter, WedgeKind kind, const std::string& detail);
  void healthy(const std::string& adapter, const char* sign);
  void powerCycle(const std::string& adapter);
  void setPower(const std::string& adapter, bool on);

  Executor& executor_;
  CentralBackend& backend_;
  ScanHub& scanHub_;
  Metrics& metrics_;
  WatchdogOptions options_;
  std::map<std::string, Watch> watches_;
  Timer checkTimer_;
  bool running_ = false;
};

}  // namespace gattway
