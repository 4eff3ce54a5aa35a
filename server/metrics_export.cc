#include "server/metrics_export.h"

#include <dirent.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>

#include <limits>

#include "google/protobuf/util/time_util.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace gattway::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric sample(double value, MetricType type,
                    std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  return m;
}

void add(std::vector<MetricFamily>& out, const std::string& name, const std::string& help,
         MetricType type, double value) {
  auto f = family(name, help, type);
  f.metric.push_back(sample(value, type));
  out.push_back(std::move(f));
}

double d(std::uint64_t v) { return static_cast<double>(v); }
double d(std::int64_t v) { return static_cast<double>(v); }

// One counter or gauge per value of `Enum`, labelled `label` = nameOf(value): a Prometheus family,
// and the same figures for MetricsService (appended to `out`, a repeated LabeledCounter field).
template <typename Enum, typename Cell, std::size_t N>
MetricFamily byEnum(std::string name, std::string help, MetricType type, const char* label,
                    const std::array<Cell, N>& cells, const char* (*nameOf)(Enum)) {
  auto f = family(std::move(name), std::move(help), type);
  for (std::size_t i = 0; i < N; ++i) {
    f.metric.push_back(sample(d(cells[i].value()), type, {{label, nameOf(static_cast<Enum>(i))}}));
  }
  return f;
}
template <typename Enum, typename Cell, std::size_t N, typename Repeated>
void fillByEnum(const std::array<Cell, N>& cells, const char* label, const char* (*nameOf)(Enum),
                Repeated* out) {
  for (std::size_t i = 0; i < N; ++i) {
    auto* c = out->Add();
    (*c->mutable_labels())[label] = nameOf(static_cast<Enum>(i));
    c->set_value(static_cast<std::uint64_t>(cells[i].value()));
  }
}

ClientMetric histogramSample(const Histogram::Snapshot& s,
                             std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = s.count;
  m.histogram.sample_sum = s.sum;
  for (std::size_t i = 0; i < s.bounds.size(); ++i) {
    m.histogram.bucket.push_back({s.cumulative[i], s.bounds[i]});
  }
  m.histogram.bucket.push_back({s.count, std::numeric_limits<double>::infinity()});
  return m;
}

void fillHistogram(const Histogram::Snapshot& s, v1::Histogram* out) {
  for (std::size_t i = 0; i < s.bounds.size(); ++i) {
    out->add_bounds(s.bounds[i]);
    out->add_cumulative_counts(s.cumulative[i]);
  }
  out->set_count(s.count);
  out->set_sum(s.sum);
}


// Process figures from /proc/self, as Prometheus client libraries export them.
struct ProcessFigures {
  double cpuSeconds = 0, residentBytes = 0, virtualBytes = 0, openFds = 0, maxFds = 0;
};

ProcessFigures readProcess() {
  ProcessFigures p;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name (which may contain spaces) start after the last ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    std::vector<std::string> f;
    while (rest >> field) f.push_back(field);
    // f[0] is field 3 (state): utime 14 → f[11], stime 15 → f[12], vsize 23 → f[20], rss 24 → f[21].
    if (f.size() > 21) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      p.cpuSeconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      p.virtualBytes = std::stod(f[20]);
      p.residentBytes = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int n = 0;
    while (readdir(dir) != nullptr) ++n;
    closedir(dir);
    p.openFds = n - 3;  // ".", ".." and the directory's own descriptor
  }
  p.maxFds = static_cast<double>(sysconf(_SC_OPEN_MAX));
  return p;
}

}  // namespace

MetricsExport::MetricsExport(const Metrics& metrics, const RpcMetrics& rpc, absl::Time startTime,
                             std::string version)
    : metrics_(metrics), rpc_(rpc), startTime_(startTime), version_(std::move(version)) {}

std::vector<MetricFamily> MetricsExport::Collect() const {
  const Metrics& m = metrics_;
  std::vector<MetricFamily> out;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;

  {
    auto f = family("gattway_build_info", "Version of the running gateway (value is always 1).", G);
    f.metric.push_back(sample(1, G, {{"version", version_}}));
    out.push_back(std::move(f));
  }

  // Scan.
  add(out, "gattway_scan_results_received_total", "Advertisement reports received from BlueZ.", C,
      d(m.scanResultsReceived.value()));
  add(out, "gattway_scan_results_delivered_total",
      "Scan results sent to Scan streams, summed over streams.", C,
      d(m.scanResultsDelivered.value()));
  add(out, "gattway_scan_results_dropped_total",
      "Scan results dropped because a stream fell behind.", C, d(m.scanResultsDropped.value()));
  add(out, "gattway_scan_streams", "Open Scan streams.", G, d(m.scanStreams.value()));
  add(out, "gattway_discovery_sessions", "Adapters on which the gateway holds a discovery session.",
      G, d(m.discoverySessions.value()));

  // Sessions.
  out.push_back(byEnum("gattway_sessions", "Sessions by state.", G, "state", m.sessions,
                       sessionStateMetricName));
  out.push_back(byEnum("gattway_connect_attempts_total", "Connect attempts by result.", C, "result",
                       m.connectAttempts, connectResultName));
  {
    auto f = family("gattway_connect_duration_seconds",
                    "Time from connect start to services resolved, successful attempts.",
                    MetricType::Histogram);
    f.metric.push_back(histogramSample(m.connectDuration.snapshot()));
    out.push_back(std::move(f));
  }
  add(out, "gattway_reconnects_total", "Links re-established by persistent sessions.", C,
      d(m.reconnects.value()));
  add(out, "gattway_session_give_ups_total", "Times a persistent session gave up.", C,
      d(m.giveUps.value()));

  // GATT client.
  {
    auto ops = family("gattway_gatt_operations_total", "GATT operations by kind and result code.", C);
    auto latency = family("gattway_gatt_operation_duration_seconds", "GATT operation latency.",
                          MetricType::Histogram);
    for (std::size_t k = 0; k < static_cast<std::size_t>(GattOpKind::kCount); ++k) {
      const auto kind = static_cast<GattOpKind>(k);
      for (std::size_t code = 0; code < Metrics::kStatusCodes; ++code) {
        const std::uint64_t n = m.gattOps(kind, code);
        if (n == 0 && code != 0) continue;  // OK always present; others once they happen
        ops.metric.push_back(sample(d(n), C,
                                    {{"kind", gattOpKindName(kind)},
                                     {"code", statusCodeName(static_cast<int>(code))}}));
      }
      latency.metric.push_back(
          histogramSample(m.gattLatency(kind).snapshot(), {{"kind", gattOpKindName(kind)}}));
    }
    out.push_back(std::move(ops));
    out.push_back(std::move(latency));
  }
  add(out, "gattway_notifications_received_total",
      "Notifications and indications received from devices.", C,
      d(m.notificationsReceived.value()));
  add(out, "gattway_notifications_delivered_total",
      "Notification values sent to Subscribe streams, summed over streams.", C,
      d(m.notificationsDelivered.value()));
  add(out, "gattway_notifications_dropped_total",
      "Notification values dropped because a stream fell behind.", C,
      d(m.notificationsDropped.value()));
  add(out, "gattway_notifications_unclaimed_total",
      "Notification values on subscriptions a policy keeps, dropped because no Subscribe stream "
      "was open.",
      C, d(m.notificationsUnclaimed.value()));
  out.push_back(byEnum("gattway_batches_total", "Execute batches by outcome.", C, "outcome",
                       m.batches, batchOutcomeName));
  add(out, "gattway_subscribe_streams", "Open Subscribe streams.", G,
      d(m.subscribeStreams.value()));

  // Hosted peripheral.
  add(out, "gattway_peripheral_connections", "Centrals connected to the hosted database.", G,
      d(m.peripheralConnections.value()));
  add(out, "gattway_peripheral_writes_captured_total", "Writes captured for StreamWrites.", C,
      d(m.writesCaptured.value()));
  add(out, "gattway_peripheral_writes_dropped_total", "Captured writes dropped on overflow.", C,
      d(m.writesDropped.value()));
  add(out, "gattway_peripheral_reads_handled_total", "Reads answered by a HandleReads stream.", C,
      d(m.readsHandled.value()));
  add(out, "gattway_peripheral_reads_timed_out_total",
      "Reads a handler did not answer in time (the stored value was served).", C,
      d(m.readsTimedOut.value()));
  add(out, "gattway_peripheral_updates_sent_total",
      "Notifications and indications sent to centrals.", C, d(m.updatesSent.value()));

  // BlueZ and adapters.
  add(out, "gattway_bluez_up", "Whether org.bluez is on the bus (1) or not (0).", G,
      d(m.bluezUp.value()));
  add(out, "gattway_bluez_restarts_total", "Times org.bluez left the bus.", C,
      d(m.bluezRestarts.value()));
  add(out, "gattway_dbus_signals_received_total", "D-Bus signals received from BlueZ.", C,
      d(m.dbusSignalsReceived.value()));
  out.push_back(byEnum("gattway_adapter_wedged_total",
                       "Wedged adapters the watchdog noticed, by kind.", C, "kind",
                       m.adapterWedged, wedgeKindName));
  out.push_back(byEnum("gattway_adapter_recoveries_total",
                       "Recovery steps the adapter watchdog took (or deferred), by step.", C, "step",
                       m.adapterRecoveries, recoveryStepName));
  {
    auto powered = family("gattway_adapter_powered", "Whether the adapter is powered.", G);
    auto inUse = family("gattway_connection_slots_in_use", "LE links the gateway holds.", G);
    auto limit = family("gattway_connection_slots_limit", "The gateway's LE link limit.", G);
    for (const auto& [name, a] : m.adapters()) {
      powered.metric.push_back(sample(a.powered ? 1 : 0, G, {{"adapter", name}}));
      inUse.metric.push_back(sample(a.inUse, G, {{"adapter", name}}));
      limit.metric.push_back(sample(a.limit, G, {{"adapter", name}}));
    }
    out.push_back(std::move(powered));
    out.push_back(std::move(inUse));
    out.push_back(std::move(limit));
  }

  // gRPC.
  {
    auto f = family("gattway_grpc_calls_total", "Finished gRPC calls by method and code.", C);
    for (const auto& c : rpc_.calls()) {
      f.metric.push_back(sample(d(c.count), C,
                                {{"method", c.method},
                                 {"code", statusCodeName(static_cast<int>(c.code))}}));
    }
    out.push_back(std::move(f));
  }
  add(out, "gattway_grpc_streams", "Open streaming gRPC calls.", G, d(rpc_.openStreams.value()));

  // Process.
  const ProcessFigures p = readProcess();
  add(out, "process_cpu_seconds_total", "User and system CPU time spent, in seconds.", C,
      p.cpuSeconds);
  add(out, "process_resident_memory_bytes", "Resident memory size in bytes.", G, p.residentBytes);
  add(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", G, p.virtualBytes);
  add(out, "process_open_fds", "Number of open file descriptors.", G, p.openFds);
  add(out, "process_max_fds", "Maximum number of open file descriptors.", G, p.maxFds);
  add(out, "process_start_time_seconds", "Start time of the process since the Unix epoch.", G,
      absl::ToDoubleSeconds(startTime_ - absl::UnixEpoch()));
  return out;
}

void MetricsExport::fill(v1::GetMetricsResponse* out, absl::Time now) const {
  const Metrics& m = metrics_;
  using google::protobuf::util::TimeUtil;
  *out->mutable_time() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  *out->mutable_uptime() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(now - startTime_));
  out->set_version(version_);

  auto* scan = out->mutable_scan();
  scan->set_results_received(m.scanResultsReceived.value());
  scan->set_results_delivered(m.scanResultsDelivered.value());
  scan->set_results_dropped(m.scanResultsDropped.value());
  scan->set_active_streams(static_cast<std::uint32_t>(m.scanStreams.value()));
  scan->set_discovery_sessions(static_cast<std::uint32_t>(m.discoverySessions.value()));

  auto* sessions = out->mutable_sessions();
  fillByEnum(m.sessions, "state", sessionStateMetricName, sessions->mutable_sessions());
  fillByEnum(m.connectAttempts, "result", connectResultName, sessions->mutable_connect_attempts());
  fillHistogram(m.connectDuration.snapshot(), sessions->mutable_connect_duration());
  sessions->set_reconnects(m.reconnects.value());
  sessions->set_give_ups(m.giveUps.value());

  auto* gatt = out->mutable_gatt();
  for (std::size_t k = 0; k < static_cast<std::size_t>(GattOpKind::kCount); ++k) {
    const auto kind = static_cast<GattOpKind>(k);
    for (std::size_t code = 0; code < Metrics::kStatusCodes; ++code) {
      const std::uint64_t n = m.gattOps(kind, code);
      if (n == 0 && code != 0) continue;
      auto* c = gatt->add_operations();
      (*c->mutable_labels())["kind"] = gattOpKindName(kind);
      (*c->mutable_labels())["code"] = statusCodeName(static_cast<int>(code));
      c->set_value(n);
    }
    auto* h = gatt->add_latency();
    (*h->mutable_labels())["kind"] = gattOpKindName(kind);
    fillHistogram(m.gattLatency(kind).snapshot(), h->mutable_histogram());
  }
  gatt->set_notifications_received(m.notificationsReceived.value());
  gatt->set_notifications_delivered(m.notificationsDelivered.value());
  gatt->set_notifications_dropped(m.notificationsDropped.value());
  gatt->set_notifications_unclaimed(m.notificationsUnclaimed.value());
  fillByEnum(m.batches, "outcome", batchOutcomeName, gatt->mutable_batches());
  gatt->set_active_subscriptions(static_cast<std::uint32_t>(m.subscribeStreams.value()));

  auto* peripheral = out->mutable_peripheral();
  peripheral->set_connected_centrals(static_cast<std::uint32_t>(m.peripheralConnections.value()));
  peripheral->set_writes_captured(m.writesCaptured.value());
  peripheral->set_writes_dropped(m.writesDropped.value());
  peripheral->set_reads_handled(m.readsHandled.value());
  peripheral->set_reads_timed_out(m.readsTimedOut.value());
  peripheral->set_updates_sent(m.updatesSent.value());

  auto* bluez = out->mutable_bluez();
  bluez->set_up(m.bluezUp.value() != 0);
  bluez->set_restarts(m.bluezRestarts.value());
  bluez->set_signals_received(m.dbusSignalsReceived.value());
  fillByEnum(m.adapterWedged, "kind", wedgeKindName, bluez->mutable_adapter_wedged());
  fillByEnum(m.adapterRecoveries, "step", recoveryStepName, bluez->mutable_adapter_recoveries());
  for (const auto& [name, a] : m.adapters()) {
    auto* slots = bluez->add_adapters();
    slots->set_adapter(name);
    slots->set_powered(a.powered);
    slots->set_in_use(a.inUse);
    slots->set_limit(a.limit);
  }

  auto* rpc = out->mutable_rpc();
  for (const auto& c : rpc_.calls()) {
    auto* count = rpc->add_calls();
    (*count->mutable_labels())["method"] = c.method;
    (*count->mutable_labels())["code"] = statusCodeName(static_cast<int>(c.code));
    count->set_value(c.count);
  }
  rpc->set_open_streams(static_cast<std::uint32_t>(rpc_.openStreams.value()));
}

}  // namespace gattway::server
