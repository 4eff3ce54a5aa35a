// AutoConnect: fleet onboarding (session.proto, Policy.auto_connect). While any policy has
// auto_connect, a background scan runs on every powered adapter (it survives bluetoothd restarts),
// and each device it hears that an auto_connect policy's selector matches gets a persistent
// session (reason AUTO_CONNECT).
//
// Loop thread only.
#pragma once

#include "absl/container/flat_hash_map.h"
#include "ble/central/policy_store.h"
#include "ble/central/scan_hub.h"
#include "ble/central/session_manager.h"
#include "ble/executor.h"

namespace gattway {

class AutoConnect final : public ScanSink {
 public:
  // A device whose session could not be opened is tried again after this long.
  static constexpr absl::Duration kRetryAfter = absl::Seconds(30);
  // The background scan is started again this long after it ended (no adapter powered, ...).
  static constexpr absl::Duration kRescanAfter = absl::Seconds(5);
  // Devices remembered as tried (bounded; the oldest entries are forgotten).
  static constexpr std::size_t kMaxTried = 4096;

  AutoConnect(Executor& executor, ScanHub& scanHub, SessionManager& sessions,
              const PolicyStore& policies);
  AutoConnect(const AutoConnect&) = delete;
  AutoConnect& operator=(const AutoConnect&) = delete;

  // Policies changed, or BlueZ came up: starts, adjusts or stops the background scan.
  void refresh();
  void stop();
  bool scanning() const { return scan_.has_value(); }

  void onScanResult(const ScanRecord& record) override;
  void onScanEnded(const absl::Status& status) override;

 private:
  Executor& executor_;
  ScanHub& scanHub_;
  SessionManager& sessions_;
  const PolicyStore& policies_;
  std::optional<ScanHub::Subscription> scan_;
  ScanFilter applied_;
  Timer rescan_;
  absl::flat_hash_map<Address, absl::Time> tried_;
  bool stopped_ = false;
};

}  // namespace gattway
