#include "ble/central/central.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/central/central_errors.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

Central::Central(Executor& executor, CentralBackend& backend, Metrics& metrics,
                 WatchdogOptions watchdog)
    : executor_(executor),
      backend_(backend),
      metrics_(metrics),
      scanHub_(executor, backend, metrics),
      scheduler_(executor, metrics),
      sessions_(executor, backend, scheduler_, scanHub_, policies_, metrics),
      gatt_(executor, backend, sessions_, metrics),
      subscriptions_(executor, backend, sessions_, metrics),
      kept_(executor, sessions_, subscriptions_, policies_),
      batches_(executor, sessions_, gatt_, subscriptions_, metrics),
      autoConnect_(executor, scanHub_, sessions_, policies_),
      watchdog_(executor, backend, scanHub_, metrics, std::move(watchdog)) {
  sessions_.observeConnects(
      [this](const std::string& adapter, const Address& address,
             const absl::Status& status) -> std::optional<absl::Status> {
        if (shuttingDown_) return std::nullopt;
        return watchdog_.onConnectResult(adapter, address, status);
      });
  // A changed policy applies from each session's next attempt on (session.proto, UpdatePolicy);
  // its kept subscriptions at once.
  policies_.onChange([this] {
    sessions_.onPoliciesChanged();
    kept_.refresh();
    if (started_) autoConnect_.refresh();
  });
}

Central::~Central() { shutdown(); }

namespace {
// Settling time after BlueZ or an adapter comes back: long enough for the returning sessions to
// queue, jittered so that gateways sharing a site do not all start at once.
constexpr absl::Duration kSettleMin = absl::Milliseconds(200);
constexpr absl::Duration kSettleMax = absl::Milliseconds(600);
}  // namespace

void Central::settle(const std::string& adapter) {
  const double f = absl::Uniform(random_, 0.0, 1.0);
  scheduler_.hold(adapter, kSettleMin + (kSettleMax - kSettleMin) * f);
}

void Central::start() {
  if (started_) return;
  started_ = true;
  backend_.start(this);
  watchdog_.start();
}

void Central::shutdown() {
  if (shuttingDown_) return;
  shuttingDown_ = true;
  const absl::Status down = err::make(err::Reason::kShuttingDown, "the gateway is shutting down");
  watchdog_.stop();
  autoConnect_.stop();
  batches_.shutdown(down);
  kept_.shutdown();
  subscriptions_.shutdown(down);
  gatt_.shutdown(down);
  sessions_.shutdown();
  scanHub_.endAll(down);
  auto ops = std::move(adapterOps_);
  adapterOps_.clear();
  for (auto& [id, op] : ops) {
    op.op.reset();
    op.done(down);
  }
  if (started_) backend_.stop();
}

AdapterView Central::view(const AdapterInfo& info) const {
  AdapterView v;
  v.info = info;
  v.slotsInUse = scheduler_.inUse(info.name);
  v.slotLimit = scheduler_.limit(info.name);
  v.discoveringForGateway = scanHub_.discoveringForGateway(info.name);
  return v;
}

absl::StatusOr<std::vector<AdapterView>> Central::adapters() const {
  if (!backend_.bluezUp()) {
    return central_errors::bluezDown();
  }
  auto infos = backend_.adapters();
  std::sort(infos.begin(), infos.end(),
            [](const AdapterInfo& a, const AdapterInfo& b) { return a.name < b.name; });
  std::vector<AdapterView> out;
  out.reserve(infos.size());
  for (const auto& a : infos) out.push_back(view(a));
  return out;
}

absl::StatusOr<AdapterView> Central::adapter(const std::string& name) const {
  auto all = adapters();
  if (!all.ok()) return all.status();
  for (auto& v : *all) {
    if (v.info.name == name) return std::move(v);
  }
  return central_errors::adapterNotFound(name);
}

void Central::updateAdapter(const std::string& name, std::optional<bool> powered,
                            std::optional<std::uint32_t> slotLimit,
                            Callback<absl::StatusOr<AdapterView>> done) {
  auto current = adapter(name);
  if (!current.ok()) {
    done(current.status());
    return;
  }
  if (slotLimit) scheduler_.setLimit(name, *slotLimit);
  if (!powered || *powered == current->info.powered) {
    done(adapter(name));
    return;
  }
  const std::uint64_t id = nextOp_++;
  AdapterOp& op = adapterOps_[id];
  op.done = std::move(done);
  op.op = backend_.setPowered(name, *powered, [this, id, name](absl::Status status) {
    auto it = adapterOps_.find(id);
    if (it == adapterOps_.end()) return;
    it->second.op.release();
    auto callback = std::move(it->second.done);
    adapterOps_.erase(it);
    // BlueZ refusing to change power (rfkill, Busy) is FAILED_PRECONDITION (adapter.proto).
    if (!status.ok() && status.code() != absl::StatusCode::kUnavailable &&
        status.code() != absl::StatusCode::kNotFound) {
      absl::Status refused = err::make(absl::StatusCode::kFailedPrecondition,
                                       err::Reason::kBluezError, status.message());
      err::forEachMetadata(status, [&](absl::string_view k, absl::string_view v) {
        err::setMetadata(refused, k, v);
      });
      callback(refused);
      return;
    }
    if (!status.ok()) {
      callback(status);
      return;
    }
    callback(adapter(name));
  });
}

void Central::onBackendUp() {
  const bool again = everUp_;
  if (everUp_) metrics_.bluezRestarts.add();
  everUp_ = true;
  metrics_.bluezUp.set(1);
  for (const auto& a : backend_.adapters()) {
    scheduler_.setPowered(a.name, a.powered);
    if (a.powered && again) settle(a.name);
  }
  log::info("bluez.up", {{"adapters", backend_.adapters().size()}});
  scanHub_.onBackendUp();
  sessions_.onBackendUp();
  if (!autoConnect_.scanning()) autoConnect_.refresh();
}

void Central::onBackendDown() {
  metrics_.bluezUp.set(0);
  log::warn("bluez.down");
  watchdog_.onBackendDown();
  sessions_.onBackendDown();
  scanHub_.onBackendDown();
}

void Central::onAdapterChanged(const AdapterInfo& adapter) {
  if (everUp_ && adapter.powered && !scheduler_.powered(adapter.name) && backend_.bluezUp()) {
    settle(adapter.name);
  }
  scheduler_.setPowered(adapter.name, adapter.powered);
  sessions_.onAdapterChanged(adapter);
  scanHub_.onAdapterChanged(adapter);
  watchdog_.onAdapterChanged(adapter);
}

void Central::onAdapterRemoved(const std::string& adapter) {
  watchdog_.onAdapterRemoved(adapter);
  scheduler_.removeAdapter(adapter);
  sessions_.onAdapterRemoved(adapter);
  scanHub_.onAdapterRemoved(adapter);
}

void Central::onDeviceChanged(const DeviceInfo& device, std::uint32_t changes) {
  scanHub_.onDeviceChanged(device, changes);
  if ((changes & device_change::kConnected) != 0) sessions_.onDeviceChanged(device, changes);
}

void Central::onDeviceRemoved(const std::string& adapter, const Address& address) {
  scanHub_.onDeviceRemoved(adapter, address);
  sessions_.onDeviceRemoved(adapter, address);
}

void Central::onNotification(const std::string& adapter, const Address& address,
                             std::uint16_t characteristicHandle,
                             absl::Span<const std::uint8_t> value) {
  subscriptions_.onNotification(adapter, address, characteristicHandle, value);
}

}  // namespace gattway
