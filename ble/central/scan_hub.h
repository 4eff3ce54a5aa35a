// ScanHub: one BlueZ discovery session per adapter, shared by every subscriber (Scan streams now,
// auto-connect policies later). It keeps the adapter's discovery filter the merge of what the
// subscribers need, starts discovery with the first subscriber and stops it with the last, and
// delivers each advertisement to the subscribers whose filter and mode want it. It also keeps the
// device registry behind ListDevices (first/last seen, latest advertisement).
//
// Loop thread only, like everything in ble/central.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/central/handle.h"
#include "ble/central/scan_filter.h"
#include "ble/central/scan_record.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

// Receives one subscriber's results. Loop thread; calls must return quickly (queue and go).
class ScanSink {
 public:
  virtual ~ScanSink() = default;
  virtual void onScanResult(const ScanRecord& record) = 0;
  // The subscription ended by itself: OK when its duration elapsed, an error when discovery
  // could not go on (BlueZ left the bus, the adapter was powered off). No call follows.
  virtual void onScanEnded(const absl::Status& status) = 0;
};

struct ScanOptions {
  std::string adapter;  // empty: every powered adapter, including ones powered on later
  ScanFilter filter;    // normalized
  ScanMode mode = ScanMode::kChanges;
  absl::Duration duration = absl::ZeroDuration();  // zero: until unsubscribed
  bool includeKnown = false;  // first deliver the devices already known
  // Keep the subscription when BlueZ leaves the bus and resume discovery when it returns
  // (subscribers inside the gateway, such as auto-connect). Scan streams end instead.
  bool survivesBackendRestart = false;
};

class ScanHub {
  void unsubscribe(const std::uint64_t& id);

 public:
  // A live subscription; destroying it unsubscribes.
  using Subscription = OwnedHandle<ScanHub, std::uint64_t, &ScanHub::unsubscribe>;

  // Bounds: subscribers at once, and devices remembered for ListDevices (the least recently heard
  // ones that BlueZ no longer lists are forgotten first).
  static constexpr std::size_t kMaxSubscribers = 1024;
  static constexpr std::size_t kMaxDevices = 10000;

  ScanHub(Executor& executor, CentralBackend& backend, Metrics& metrics);
  ~ScanHub();
  ScanHub(const ScanHub&) = delete;
  ScanHub& operator=(const ScanHub&) = delete;

  // Starts or joins discovery. Errors: NOT_FOUND (unknown adapter), UNAVAILABLE (BlueZ down, or
  // no adapter powered), FAILED_PRECONDITION (the named adapter is off), RESOURCE_EXHAUSTED.
  // Results and the end arrive through `sink`, which must outlive the subscription.
  absl::StatusOr<Subscription> subscribe(ScanOptions options, ScanSink* sink);

  // The devices known on `adapter` (empty: every adapter) that match `filter`, by address.
  absl::StatusOr<std::vector<ScanRecord>> knownDevices(const std::string& adapter,
                                                       const ScanFilter& filter) const;
  // The latest record of a device, or null.
  const ScanRecord* record(const std::string& adapter, const Address& address) const;
  // The address type last seen for `address` on any adapter.
  std::optional<AddressType> lastAddressType(const Address& address) const;
  // Whether the gateway holds a discovery session on the adapter.
  bool discoveringForGateway(const std::string& adapter) const;
  std::size_t subscriberCount() const { return subscribers_.size(); }

  // Ends every subscription with `status` (gateway shutdown).
  void endAll(const absl::Status& status);

  // For the adapter watchdog (adapter_watchdog.h). Stops and starts the gateway's discovery
  // session on the adapter (nothing when it is off).
  void restartDiscovery(const std::string& adapter);
  // The adapter is about to be power-cycled on purpose: its subscribers stay through the
  // power-off (instead of ending with ADAPTER_OFF) and discovery resumes at the next power-on.
  void keepThroughPowerCycle(const std::string& adapter);

  // From the backend listener (Central).
  void onBackendUp();
  void onBackendDown();
  void onAdapterChanged(const AdapterInfo& adapter);
  void onAdapterRemoved(const std::string& adapter);
  void onDeviceChanged(const DeviceInfo& device, std::uint32_t changes);
  void onDeviceRemoved(const std::string& adapter, const Address& address);

 private:
  struct DeviceKey {
    std::string adapter;
    Address address;
    bool operator==(const DeviceKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const DeviceKey& k) {
      return H::combine(std::move(h), k.adapter, k.address);
    }
  };
  struct DeviceEntry {
    ScanRecord record;
    std::uint64_t generation = 0;  // bumped when the advertised data changes
    bool everConnected = false;
  };
  struct Subscriber {
    std::uint64_t id = 0;
    ScanOptions options;
    ScanSink* sink = nullptr;
    std::vector<std::string> adapters;  // the adapters it listens on now
    // SCAN_MODE_CHANGES: the generation last delivered per device.
    absl::flat_hash_map<DeviceKey, std::uint64_t> delivered;
    Timer durationTimer;
  };
  // The gateway's discovery session on one adapter.
  struct Discovery {
    std::vector<Subscriber*> subscribers;  // null entries are removed after dispatch
    bool on = false;                       // our session is on, with `applied`
    bool busy = false;                     // a start/stop is in flight
    bool restart = false;                  // stop, then start again (restartDiscovery)
    bool keepSubscribers = false;          // through a power cycle (keepThroughPowerCycle)
    DiscoveryFilter applied;
    Operation pending;
    Timer reconcileSoon;
  };

  void attach(Subscriber& s, const std::string& adapter);
  void detach(Subscriber& s, const std::string& adapter);
  void end(std::uint64_t id, const absl::Status& status);
  void reconcile(const std::string& adapter);
  void reconcileLater(const std::string& adapter);
  void discoveryFailed(const std::string& adapter, const absl::Status& status);
  void adapterGone(const std::string& adapter, const absl::Status& status);
  void deliver(Subscriber& s, const DeviceKey& key, const DeviceEntry& entry);
  void deliverKnown(Subscriber& s);
  void compact(Discovery& d);
  void evictIfFull();
  void updateDiscoveryGauge();
  std::vector<AdapterInfo> poweredAdapters() const;

  Executor& executor_;
  CentralBackend& backend_;
  Metrics& metrics_;
  std::uint64_t nextId_ = 1;
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<Subscriber>> subscribers_;
  std::map<std::string, Discovery> discoveries_;  // node-based: entries stay put
  absl::flat_hash_map<DeviceKey, DeviceEntry> devices_;
  int dispatching_ = 0;  // > 0 while delivering: unsubscribes leave null entries
  std::int64_t discoveryGauge_ = 0;
};

using ScanSubscription = ScanHub::Subscription;

}  // namespace gattway
