// Adapter1's discovery: sessions per bus client, filters merged across clients, what a report
// does to the device objects. BlueZ 5.66 src/adapter.c (start_discovery, stop_discovery,
// set_discovery_filter, discovery_stop, discovery_disconnect, btd_adapter_update_found_device);
// bluez-5.66-api.md §1 and §7.1-7.3.
#include "ble/log.h"
#include "ble/sim/adapter.h"
#include "ble/sim/errors.h"

namespace gattway::sim {

Adapter::DiscoveryClient* Adapter::client(const std::string& owner) {
  filtersDirty_ = true;  // callers change what they find
  for (auto& c : clients_) {
    if (c.owner == owner) return &c;
  }
  return nullptr;
}

const std::vector<const DiscoveryFilter*>& Adapter::discoveringFilters() {
  // Rebuilt after any change to the clients (reports read it thousands of times a second).
  if (filtersDirty_) {
    filters_.clear();
    for (const auto& c : clients_) {
      if (c.discovering) filters_.push_back(c.filter ? &*c.filter : nullptr);
    }
    filtersDirty_ = false;
  }
  return filters_;
}

void Adapter::startDiscovery(dbus::Call call) {
  if (!powered_) return call.error(bluez::kNotReady, bluez::kMsgNotReady);
  const std::string owner = call.sender();
  DiscoveryClient* c = client(owner);
  // One session per client; a second StartDiscovery is busy, not a second session.
  if (c != nullptr && (c->discovering || c->pending)) return call.error(bluez::kInProgress, bluez::kMsgBusy);
  if (c == nullptr) {
    clients_.push_back(DiscoveryClient{owner, std::nullopt, false, {}});
    c = &clients_.back();
  }
  filtersDirty_ = true;
  c->discovering = true;  // a pre-set filter now counts
  updateFilter(std::move(call));
}

void Adapter::updateFilter(dbus::Call waiting) {
  const MergedFilter merged = mergeFilters(discoveringFilters());
  if (merged.discoverable && !discoverable_) {
    discoverable_ = true;
    changed(kDiscoverable);
  }
  if (merged == merged_ && discovering_ && scanning_) {
    // Same merged filter, scan running: nothing to restart.
    waiting.reply();
    return;
  }
  merged_ = merged;
  if (waiting) scanWaiters_.push_back(std::move(waiting));
  if (scanTimer_.held()) return;
  // The kernel (re)starts the scan; the reply waits for it, then Discovering=true (idle).
  scanTimer_ = ctx_.loop.runAfter(ctx_.options.scanLatency, [this] {
    scanTimer_ = Timer();
    if (ctx_.faults.discoveryWedged(name_)) {
      // A wedged controller acknowledges the scan command and never scans: the start succeeds,
      // Discovering stays false, nothing is reported (faults.h, DiscoveryWedge).
      auto waiters = std::move(scanWaiters_);
      scanWaiters_.clear();
      for (auto& w : waiters) w.reply();
      log::info("sim.adapter.discovery_wedged", {{"adapter", name_}});
      return;
    }
    scanning_ = true;
    ctx_.air.setScanning(this, true);
    auto waiters = std::move(scanWaiters_);
    scanWaiters_.clear();
    for (auto& w : waiters) w.reply();
    if (!discovering_) {
      discovering_ = true;
      changed(kDiscovering);
      log::info("sim.adapter.discovering", {{"adapter", name_}, {"filtered", merged_.filtered}});
    }
  });
}

void Adapter::stopDiscovery(dbus::Call call) {
  if (!powered_) return call.error(bluez::kNotReady, bluez::kMsgNotReady);
  const std::string owner = call.sender();
  DiscoveryClient* c = client(owner);
  if (c == nullptr || !c->discovering) return call.error(bluez::kFailed, "No discovery started");
  if (c->pending) return call.error(bluez::kInProgress, bluez::kMsgBusy);
  if (ctx_.faults.discoveryStopped(name_)) log::info("sim.adapter.discovery_unwedged", {{"adapter", name_}});
  stopScanning(std::move(call), owner);
}

void Adapter::wedgeDiscovery() {
  // The controller stops scanning on its own; the kernel reports discovery stopped, so BlueZ says
  // Discovering=false, while every client keeps its session.
  scanTimer_.cancel();
  auto waiters = std::move(scanWaiters_);
  scanWaiters_.clear();
  for (auto& w : waiters) w.reply();
  if (scanning_) ctx_.air.setScanning(this, false);
  scanning_ = false;
  if (discovering_) {
    discovering_ = false;
    changed(kDiscovering);
  }
}

void Adapter::stopScanning(dbus::Call waiting, const std::string& leaving) {
  // An explicit StopDiscovery keeps the client's filter for its next StartDiscovery; a client
  // that left the bus loses it.
  const bool keepFilter = static_cast<bool>(waiting);
  int others = 0;
  for (const auto& c : clients_) others += c.discovering && c.owner != leaving ? 1 : 0;
  if (others > 0) {
    removeClient(leaving, keepFilter);
    updateFilter(dbus::Call());
    waiting.reply();
    return;
  }
  if (!scanning_) {
    // Idle phase (the kernel is not scanning): signal and answer at once.
    scanTimer_.cancel();
    removeClient(leaving, keepFilter);
    discovering_ = false;
    changed(kDiscovering);
    waiting.reply();
    return;
  }
  DiscoveryClient* c = client(leaving);
  if (c != nullptr) c->pending = std::move(waiting);
  stopTimer_ = ctx_.loop.runAfter(ctx_.options.scanLatency, [this, leaving, keepFilter] {
    stopTimer_ = Timer();
    scanning_ = false;
    ctx_.air.setScanning(this, false);
    if (DiscoveryClient* cl = client(leaving)) {
      dbus::Call pending = std::move(cl->pending);
      pending.reply();
    }
    removeClient(leaving, keepFilter);
    discovering_ = false;
    changed(kDiscovering);
    log::info("sim.adapter.discovery_stopped", {{"adapter", name_}});
    // A StartDiscovery that came in while stopping starts the scan again.
    if (!discoveringFilters().empty()) updateFilter(dbus::Call());
  });
}

void Adapter::removeClient(const std::string& owner, bool keepFilter) {
  filtersDirty_ = true;
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->owner != owner) continue;
    if (keepFilter && it->filter) {
      it->discovering = false;  // back to a pre-set filter
      it->pending = dbus::Call();
    } else {
      clients_.erase(it);
    }
    break;
  }
  if (discoveringFilters().empty()) discoveryCleanup();
}

void Adapter::discoveryCleanup() {
  // End of the run: RSSI and TxPower of every device seen go away; temporary devices whose last
  // report was non-connectable are removed at once.
  for (Device* d : found_) d->invalidateRssi();
  found_.clear();
  for (Device* d : devices()) {
    if (d->temporary() && !d->lastConnectable() && !d->linkBusy()) removeDevice(d);
  }
  if (discoverable_ && merged_.discoverable) {
    discoverable_ = false;
    changed(kDiscoverable);
  }
  merged_ = MergedFilter{};
}

void Adapter::setDiscoveryFilter(dbus::Call call) {
  if (!powered_) return call.error(bluez::kNotReady, bluez::kMsgNotReady);
  dbus::Dict dict;
  if (!call.args().dict(dict)) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  bool empty = false;
  const std::optional<DiscoveryFilter> filter = parseDiscoveryFilter(dict, empty);
  if (!filter) return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  const std::string owner = call.sender();
  DiscoveryClient* c = client(owner);
  if (c != nullptr) {
    c->filter = empty ? std::nullopt : filter;
    const bool discovering = c->discovering;
    if (discovering) updateFilter(dbus::Call());
    if (empty && !discovering) removeClient(owner, false);  // pre-set filter cleared
    return call.reply();
  }
  if (!empty) clients_.push_back(DiscoveryClient{owner, filter, false, {}});
  filtersDirty_ = true;
  call.reply();
}

void Adapter::clientLeft(const std::string& owner) {
  DiscoveryClient* c = client(owner);
  if (c == nullptr) return;
  if (c->discovering) {
    c->pending = dbus::Call();  // nobody to answer
    stopScanning(dbus::Call(), owner);
    return;
  }
  // 5.66 bug (discovery_disconnect on a client that only pre-set a filter): the stop path runs
  // for the adapter. With exactly one client discovering, that client's scan stops
  // (Discovering=false, no more reports) although its session remains.
  int discovering = 0;
  for (const auto& cl : clients_) discovering += cl.discovering ? 1 : 0;
  removeClient(owner, false);
  if (discovering >= 2) {
    updateFilter(dbus::Call());
    return;
  }
  if (discovering == 1 && scanning_) {
    stopTimer_ = ctx_.loop.runAfter(ctx_.options.scanLatency, [this] {
      stopTimer_ = Timer();
      scanning_ = false;
      ctx_.air.setScanning(this, false);
      discovering_ = false;
      changed(kDiscovering);
    });
    return;
  }
  discovering_ = false;
  changed(kDiscovering);  // sent even when it was already false
}

void Adapter::endAllDiscovery() {
  scanTimer_.cancel();
  stopTimer_.cancel();
  for (auto& w : scanWaiters_) w.error(bluez::kInProgress, bluez::kMsgBusy);
  scanWaiters_.clear();
  for (auto& c : clients_) {
    if (c.pending) c.pending.error(bluez::kInProgress, bluez::kMsgBusy);
  }
  clients_.clear();
  filtersDirty_ = true;
  if (scanning_) ctx_.air.setScanning(this, false);
  scanning_ = false;
  discoveryCleanup();
  if (discovering_) {
    discovering_ = false;
    changed(kDiscovering);
  }
}

void Adapter::onAdvertisement(Peripheral& peripheral, std::int16_t rssi) {
  // A controller does not hear its own advertisements (hosted_air.h puts them on the air).
  if (!powered_ || !scanning_ || peripheral.address() == address_) return;
  if (ctx_.backedUp()) {
    ++ctx_.stats.reportsShed;
    return;
  }
  const Report& report = peripheral.report(rssi);
  if (!kernelPasses(merged_, report)) return;
  const std::vector<const DiscoveryFilter*>& filters = discoveringFilters();
  const bool isDiscoverable = discoverable(filters, merged_.filtered, report);
  Device* d = device(peripheral.address());
  if (d == nullptr) {
    if (!isDiscoverable) return;
    d = &deviceFor(peripheral);
  }
  if (d->peripheral() == nullptr) d->setPeripheral(&peripheral);  // back in the air
  const AdvertisingSpec& adv = peripheral.advertising();
  d->seen(ctx_.loop.now(), adv.connectable);
  if (!d->connected() && d->temporary() && filters.empty()) return;
  if (!isDiscoverable || (merged_.filtered && !filterMatch(filters, report))) return;
  d->applyReport(report, adv, merged_.filtered, merged_.duplicateData);
  found_.insert(d);
  ++ctx_.stats.advertisingReports;
}

}  // namespace gattway::sim
