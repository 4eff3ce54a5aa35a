// The BLE layer's counters and gauges: one Metrics object per gateway, passed by reference to the
// parts that count. server/ reads it for the Prometheus endpoint and MetricsService.GetMetrics, so
// both report the same figures. Lock-free where it is counted on hot paths (relaxed atomics).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gattway {

class Counter {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Durations in seconds, Prometheus-style buckets (cumulative when read).
class Histogram {
 public:
  // Upper bounds, seconds: 100 µs .. 60 s.
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                     0.005,  0.01,    0.025,  0.05,  0.1,
                                                     0.25,   1.0,     5.0,    60.0};
  void observe(double seconds);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound
    std::uint64_t count = 0;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sumNanos_{0};
};

enum class GattOpKind : std::uint8_t { kDiscover, kRead, kWrite, kSubscribe, kCount };
enum class ConnectResult : std::uint8_t { kOk, kFailed, kTimeout, kInProgress, kCancelled, kCount };
enum class BatchOutcome : std::uint8_t { kOk, kDeadlineExceeded, kDisconnected, kFailed, kCount };
// Mirrors gattway.v1.SessionState without UNSPECIFIED and REMOVED.
enum class SessionStateMetric : std::uint8_t {
  kQueued, kConnecting, kResolvingServices, kConnected, kDisconnected, kBackingOff, kGaveUp,
  kWaitingForAdapter, kCount
};

// The adapter watchdog (ble/central/adapter_watchdog.h): what it noticed, what it did.
enum class WedgeKind : std::uint8_t { kDiscovery, kConnect, kCount };
enum class RecoveryStep : std::uint8_t {
  kRestartDiscovery, kPowerCycle, kPowerCycleDeferred, kCount
};

const char* gattOpKindName(GattOpKind k);             // "read"
const char* connectResultName(ConnectResult r);       // "ok"
const char* batchOutcomeName(BatchOutcome o);         // "deadline_exceeded"
const char* sessionStateMetricName(SessionStateMetric s);  // "backing_off"
const char* wedgeKindName(WedgeKind k);               // "discovery"
const char* recoveryStepName(RecoveryStep s);         // "power_cycle"

struct AdapterSlotsMetric {
  bool powered = false;
  std::uint32_t inUse = 0;
  std::uint32_t limit = 0;
};

class Metrics {
 public:
  static constexpr std::size_t kStatusCodes = 17;  // absl/gRPC codes 0..16

  // Scan.
  Counter scanResultsReceived, scanResultsDelivered, scanResultsDropped;
  Gauge scanStreams, discoverySessions;

  // Sessions.
  std::array<Gauge, static_cast<std::size_t>(SessionStateMetric::kCount)> sessions;
  std::array<Counter, static_cast<std::size_t>(ConnectResult::kCount)> connectAttempts;
  Histogram connectDuration;
  Counter reconnects, giveUps;

  // GATT client.
  void countGattOp(GattOpKind kind, absl::StatusCode code, double seconds);
  std::uint64_t gattOps(GattOpKind kind, std::size_t code) const;
  const Histogram& gattLatency(GattOpKind kind) const;
  Counter notificationsReceived, notificationsDelivered, notificationsDropped;
  // Values on a subscription a policy keeps that arrived while no Subscribe stream was open on it:
  // counted and dropped (session.proto, Policy.subscriptions).
  Counter notificationsUnclaimed;
  std::array<Counter, static_cast<std::size_t>(BatchOutcome::kCount)> batches;
  Gauge subscribeStreams;

  // Hosted peripheral.
  Gauge peripheralConnections;
  Counter writesCaptured, writesDropped, readsHandled, readsTimedOut, updatesSent;

  // BlueZ.
  Gauge bluezUp;
  Counter bluezRestarts, dbusSignalsReceived;
  std::array<Counter, static_cast<std::size_t>(WedgeKind::kCount)> adapterWedged;
  std::array<Counter, static_cast<std::size_t>(RecoveryStep::kCount)> adapterRecoveries;
  void setAdapter(const std::string& name, const AdapterSlotsMetric& slots);
  void removeAdapter(const std::string& name);
  std::map<std::string, AdapterSlotsMetric> adapters() const;

 private:
  static constexpr std::size_t kKinds = static_cast<std::size_t>(GattOpKind::kCount);
  std::array<std::array<Counter, kStatusCodes>, kKinds> gattOps_;
  std::array<Histogram, kKinds> gattLatency_;
  mutable std::mutex adaptersMu_;
  std::map<std::string, AdapterSlotsMetric> adapters_;  // guarded by adaptersMu_
};

}  // namespace gattway
