// Central: the central domain assembled. It is the backend's one listener and hands each report
// to the parts that need it (scan hub, sessions, subscriptions); the gRPC services reach the
// parts through it. Owns them in dependency order, so that destroying it tears down the users of
// a part before the part.
//
// Loop thread only: construct anywhere, then start(), use and destroy on the loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "ble/central/adapter_watchdog.h"
#include "ble/central/auto_connect.h"
#include "ble/central/batch_executor.h"
#include "ble/central/connect_scheduler.h"
#include "ble/central/gatt_client.h"
#include "ble/central/kept_subscriptions.h"
#include "ble/central/policy_store.h"
#include "ble/central/scan_hub.h"
#include "ble/central/session_manager.h"
#include "ble/central/subscription_hub.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

// An adapter as the API shows it: BlueZ's view plus the gateway's own use of it.
struct AdapterView {
  AdapterInfo info;
  std::uint32_t slotsInUse = 0;
  std::uint32_t slotLimit = 0;
  bool discoveringForGateway = false;
};

class Central final : public CentralBackendListener {
 public:
  static constexpr std::uint32_t kMaxSlotLimit = 64;

  Central(Executor& executor, CentralBackend& backend, Metrics& metrics,
          WatchdogOptions watchdog = {});
  ~Central() override;
  Central(const Central&) = delete;
  Central& operator=(const Central&) = delete;

  void start();
  // Ends every stream, batch, session and pending call with UNAVAILABLE (SHUTTING_DOWN), then
  // releases what the gateway holds in BlueZ. Idempotent.
  void shutdown();
  bool shuttingDown() const { return shuttingDown_; }

  Executor& executor() { return executor_; }
  CentralBackend& backend() { return backend_; }
  ScanHub& scanHub() { return scanHub_; }
  ConnectScheduler& scheduler() { return scheduler_; }
  PolicyStore& policies() { return policies_; }
  SessionManager& sessions() { return sessions_; }
  GattClient& gatt() { return gatt_; }
  SubscriptionHub& subscriptions() { return subscriptions_; }
  KeptSubscriptions& keptSubscriptions() { return kept_; }
  BatchExecutor& batches() { return batches_; }
  AutoConnect& autoConnect() { return autoConnect_; }
  AdapterWatchdog& watchdog() { return watchdog_; }

  // Adapters, ordered by name. UNAVAILABLE when BlueZ is down; NOT_FOUND for an unknown name.
  absl::StatusOr<std::vector<AdapterView>> adapters() const;
  absl::StatusOr<AdapterView> adapter(const std::string& name) const;
  // Changes power and/or the slot limit; `done` gets the adapter afterwards.
  void updateAdapter(const std::string& name, std::optional<bool> powered,
                     std::optional<std::uint32_t> slotLimit,
                     Callback<absl::StatusOr<AdapterView>> done);

  // CentralBackendListener.
  void onBackendUp() override;
  void onBackendDown() override;
  void onAdapterChanged(const AdapterInfo& adapter) override;
  void onAdapterRemoved(const std::string& adapter) override;
  void onDeviceChanged(const DeviceInfo& device, std::uint32_t changes) override;
  void onDeviceRemoved(const std::string& adapter, const Address& address) override;
  void onNotification(const std::string& adapter, const Address& address,
                      std::uint16_t characteristicHandle,
                      absl::Span<const std::uint8_t> value) override;

 private:
  AdapterView view(const AdapterInfo& info) const;
  // Storm control: sessions coming back after a bluetoothd restart or a power-on gather in the
  // adapter's queue for a jittered settling time, then connect one at a time by priority.
  void settle(const std::string& adapter);
  absl::BitGen random_;

  Executor& executor_;
  CentralBackend& backend_;
  Metrics& metrics_;
  // Dependency order: later members use earlier ones.
  ScanHub scanHub_;
  ConnectScheduler scheduler_;
  PolicyStore policies_;
  SessionManager sessions_;
  GattClient gatt_;
  SubscriptionHub subscriptions_;
  KeptSubscriptions kept_;
  BatchExecutor batches_;
  AutoConnect autoConnect_;
  AdapterWatchdog watchdog_;
  struct AdapterOp {
    Operation op;
    Callback<absl::StatusOr<AdapterView>> done;
  };
  std::map<std::uint64_t, AdapterOp> adapterOps_;
  std::uint64_t nextOp_ = 1;
  bool started_ = false;
  bool everUp_ = false;
  bool shuttingDown_ = false;
};

}  // namespace gattway
