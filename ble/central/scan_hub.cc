#include "ble/central/scan_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/central/central_errors.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

ScanHub::ScanHub(Executor& executor, CentralBackend& backend, Metrics& metrics)
    : executor_(executor), backend_(backend), metrics_(metrics) {}

ScanHub::~ScanHub() {
  // Subscriptions still held elsewhere must not call back into a destroyed hub; the owner
  // (Central) ends them first, this only keeps the order obvious.
  subscribers_.clear();
  discoveries_.clear();
  metrics_.discoverySessions.set(0);
}

std::vector<AdapterInfo> ScanHub::poweredAdapters() const {
  std::vector<AdapterInfo> powered;
  for (auto& a : backend_.adapters()) {
    if (a.powered) powered.push_back(std::move(a));
  }
  return powered;
}

absl::StatusOr<ScanHub::Subscription> ScanHub::subscribe(ScanOptions options, ScanSink* sink) {
  if (!backend_.bluezUp() && !options.survivesBackendRestart) {
    return central_errors::bluezDown();
  }
  if (subscribers_.size() >= kMaxSubscribers) {
    return err::make(err::Reason::kLimitExceeded,
                     absl::StrCat("too many scan subscriptions (at most ", kMaxSubscribers, ")"));
  }
  std::vector<std::string> adapters;
  if (!options.adapter.empty()) {
    const auto all = backend_.adapters();
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const AdapterInfo& a) { return a.name == options.adapter; });
    if (it == all.end() && backend_.bluezUp()) {
      return central_errors::adapterNotFound(options.adapter);
    }
    if (it != all.end() && !it->powered) {
      return central_errors::adapterOff(options.adapter);
    }
    adapters.push_back(options.adapter);
  } else {
    for (const auto& a : poweredAdapters()) adapters.push_back(a.name);
    if (adapters.empty() && !options.survivesBackendRestart) {
      return central_errors::noAdapterPowered(absl::StatusCode::kUnavailable);
    }
  }

  const std::uint64_t id = nextId_++;
  auto owned = std::make_unique<Subscriber>();
  Subscriber& s = *owned;
  s.id = id;
  s.options = std::move(options);
  s.sink = sink;
  subscribers_.emplace(id, std::move(owned));
  for (const auto& a : adapters) attach(s, a);
  if (s.options.duration > absl::ZeroDuration()) {
    s.durationTimer = executor_.runAfter(s.options.duration, [this, id] {
      end(id, absl::OkStatus());
    });
  }
  if (s.options.includeKnown) deliverKnown(s);
  for (const auto& a : adapters) reconcile(a);
  return Subscription(this, id);
}

void ScanHub::attach(Subscriber& s, const std::string& adapter) {
  if (std::find(s.adapters.begin(), s.adapters.end(), adapter) != s.adapters.end()) return;
  s.adapters.push_back(adapter);
  discoveries_[adapter].subscribers.push_back(&s);
}

void ScanHub::detach(Subscriber& s, const std::string& adapter) {
  std::erase(s.adapters, adapter);
  auto it = discoveries_.find(adapter);
  if (it == discoveries_.end()) return;
  auto& subs = it->second.subscribers;
  auto pos = std::find(subs.begin(), subs.end(), &s);
  if (pos == subs.end()) return;
  if (dispatching_ > 0) {
    *pos = nullptr;  // compacted after the dispatch
  } else {
    subs.erase(pos);
  }
  reconcileLater(adapter);
}

void ScanHub::unsubscribe(const std::uint64_t& id) {
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return;
  Subscriber& s = *it->second;
  const std::vector<std::string> adapters = s.adapters;
  for (const auto& a : adapters) detach(s, a);
  subscribers_.erase(it);
}

void ScanHub::end(std::uint64_t id, const absl::Status& status) {
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return;
  ScanSink* sink = it->second->sink;
  unsubscribe(id);
  sink->onScanEnded(status);
}

void ScanHub::endAll(const absl::Status& status) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, s] : subscribers_) ids.push_back(id);
  for (auto id : ids) end(id, status);
}

void ScanHub::compact(Discovery& d) {
  std::erase(d.subscribers, nullptr);
}

void ScanHub::reconcileLater(const std::string& adapter) {
  // Out of the current call stack: a subscriber may leave from inside a sink call, and several
  // changes in one turn then cost one BlueZ call.
  auto it = discoveries_.find(adapter);
  if (it == discoveries_.end() || it->second.reconcileSoon.held()) return;
  it->second.reconcileSoon = executor_.runAfter(absl::ZeroDuration(), [this, adapter] {
    discoveries_[adapter].reconcileSoon = Timer();
    reconcile(adapter);
  });
}

void ScanHub::reconcile(const std::string& adapter) {
  auto it = discoveries_.find(adapter);
  if (it == discoveries_.end()) return;
  Discovery& d = it->second;
  if (d.busy || !backend_.bluezUp()) return;
  if (dispatching_ == 0) compact(d);
  std::vector<DiscoveryNeed> needs;
  for (const Subscriber* s : d.subscribers) {
    if (s != nullptr) needs.push_back({&s->options.filter, s->options.mode});
  }
  if (!d.on) d.restart = false;
  if (!needs.empty() && !d.restart) {
    DiscoveryFilter desired = mergeDiscoveryFilters(needs);
    if (d.on && d.applied == desired) return;
    d.busy = true;
    d.pending = backend_.startDiscovery(adapter, desired, [this, adapter,
                                                           desired](absl::Status status) {
      Discovery& dd = discoveries_[adapter];
      dd.pending.release();
      dd.busy = false;
      if (!status.ok()) {
        log::warn("scan.discovery_failed", {{"adapter", adapter}, {"error", status}});
        discoveryFailed(adapter, status);
        reconcile(adapter);
        return;
      }
      if (!dd.on) log::info("scan.discovery_started", {{"adapter", adapter}});
      dd.on = true;
      dd.applied = desired;
      updateDiscoveryGauge();
      reconcile(adapter);
    });
  } else if (d.on) {
    d.busy = true;
    d.restart = false;
    d.pending = backend_.stopDiscovery(adapter, [this, adapter](absl::Status status) {
      Discovery& dd = discoveries_[adapter];
      dd.pending.release();
      dd.busy = false;
      // Even when BlueZ refuses, the session is no longer wanted; a failure here means it is gone
      // already (adapter off, BlueZ restarted).
      if (!status.ok()) log::warn("scan.stop_failed", {{"adapter", adapter}, {"error", status}});
      dd.on = false;
      dd.applied = DiscoveryFilter();
      updateDiscoveryGauge();
      log::info("scan.discovery_stopped", {{"adapter", adapter}});
      reconcile(adapter);
    });
  }
}

void ScanHub::discoveryFailed(const std::string& adapter, const absl::Status& status) {
  auto it = discoveries_.find(adapter);
  if (it == discoveries_.end()) return;
  std::vector<std::uint64_t> ended;
  std::vector<Subscriber*> subs = it->second.subscribers;
  for (Subscriber* s : subs) {
    if (s == nullptr) continue;
    detach(*s, adapter);
    // A stream on every adapter goes on while it has one left.
    if (!s->options.adapter.empty() || s->adapters.empty()) ended.push_back(s->id);
  }
  for (auto id : ended) end(id, status);
}

void ScanHub::adapterGone(const std::string& adapter, const absl::Status& status) {
  auto it = discoveries_.find(adapter);
  if (it == discoveries_.end()) return;
  Discovery& d = it->second;
  d.pending.reset();
  d.busy = false;
  d.on = false;
  d.applied = DiscoveryFilter();
  updateDiscoveryGauge();
  std::vector<std::uint64_t> ended;
  std::vector<Subscriber*> subs = d.subscribers;
  for (Subscriber* s : subs) {
    if (s == nullptr || s->options.survivesBackendRestart || d.keepSubscribers) continue;
    detach(*s, adapter);
    if (!s->options.adapter.empty() || s->adapters.empty()) ended.push_back(s->id);
  }
  for (auto id : ended) end(id, status);
}

void ScanHub::updateDiscoveryGauge() {
  std::int64_t on = 0;
  for (const auto& [name, d] : discoveries_) on += d.on ? 1 : 0;
  metrics_.discoverySessions.add(on - discoveryGauge_);
  discoveryGauge_ = on;
}

void ScanHub::onBackendUp() {
  const auto powered = poweredAdapters();
  for (auto& [id, s] : subscribers_) {
    if (!s->options.adapter.empty()) continue;
    for (const auto& a : powered) attach(*s, a.name);
  }
  std::vector<std::string> names;
  for (const auto& [name, d] : discoveries_) names.push_back(name);
  for (const auto& n : names) reconcile(n);
}

void ScanHub::onBackendDown() {
  const absl::Status down =
      err::make(err::Reason::kBluezUnavailable, "BlueZ left the D-Bus (bluetoothd stopped)");
  std::vector<std::string> names;
  for (const auto& [name, d] : discoveries_) names.push_back(name);
  for (const auto& n : names) adapterGone(n, down);
  std::vector<std::uint64_t> ended;
  for (const auto& [id, s] : subscribers_) {
    if (!s->options.survivesBackendRestart) ended.push_back(id);
  }
  for (auto id : ended) end(id, down);
  for (auto& [key, e] : devices_) {
    e.record.rssi.reset();
    e.record.connected = false;
  }
}

void ScanHub::restartDiscovery(const std::string& adapter) {
  auto it = discoveries_.find(adapter);
  if (it == discoveries_.end() || !it->second.on) return;
  log::info("scan.discovery_restart", {{"adapter", adapter}});
  it->second.restart = true;
  reconcile(adapter);
}

void ScanHub::keepThroughPowerCycle(const std::string& adapter) {
  discoveries_[adapter].keepSubscribers = true;
}

void ScanHub::onAdapterChanged(const AdapterInfo& adapter) {
  if (adapter.powered) {
    if (auto it = discoveries_.find(adapter.name); it != discoveries_.end()) {
      it->second.keepSubscribers = false;
    }
    bool any = false;
    for (auto& [id, s] : subscribers_) {
      if (!s->options.adapter.empty() && s->options.adapter != adapter.name) continue;
      attach(*s, adapter.name);
      any = true;
    }
    if (any) reconcile(adapter.name);
    return;
  }
  auto it = discoveries_.find(adapter.name);
  if (it == discoveries_.end()) return;
  // Powering off ends every discovery session on the adapter (adapter-api.txt, Powered).
  adapterGone(adapter.name,
              err::make(absl::StatusCode::kUnavailable, err::Reason::kAdapterOff,
                        absl::StrCat("adapter ", adapter.name, " was powered off"),
                        {{err::kMetaAdapter, adapter.name}}));
}

void ScanHub::onAdapterRemoved(const std::string& adapter) {
  adapterGone(adapter, err::make(absl::StatusCode::kUnavailable, err::Reason::kAdapterNotFound,
                                 absl::StrCat("adapter ", adapter, " was removed"),
                                 {{err::kMetaAdapter, adapter}}));
  auto it = discoveries_.find(adapter);
  if (it != discoveries_.end() && it->second.subscribers.empty() && dispatching_ == 0) {
    discoveries_.erase(it);
  }
}

void ScanHub::onDeviceChanged(const DeviceInfo& device, std::uint32_t changes) {
  using namespace device_change;
  const bool heard = (changes & (kRssi | kAdvertisement)) != 0 ||
                     ((changes & kAdded) != 0 && device.rssi.has_value());
  DeviceKey key{device.adapter, device.address};
  if (!devices_.contains(key)) evictIfFull();
  auto [it, inserted] = devices_.try_emplace(key);
  DeviceEntry& e = it->second;
  const absl::Time now = executor_.now();
  if (inserted) {
    e.record.adapter = device.adapter;
    e.record.address = device.address;
    e.record.firstSeen = now;
    e.record.advertisement = std::make_shared<const AdvertisementData>(device.advertisement);
    e.generation = 1;
  } else if ((changes & (kAdvertisement | kAdded)) != 0 &&
             !(*e.record.advertisement == device.advertisement)) {
    e.record.advertisement = std::make_shared<const AdvertisementData>(device.advertisement);
    ++e.generation;
  }
  e.record.addressType = device.addressType;
  e.record.rssi = device.rssi;
  e.record.connected = device.connected;
  if (device.connected) e.everConnected = true;
  e.record.connectable = inferConnectable(e.record.advertisement->flags, e.everConnected);
  if (!heard) return;
  e.record.lastSeen = now;
  metrics_.scanResultsReceived.add();

  auto dit = discoveries_.find(device.adapter);
  if (dit == discoveries_.end()) return;
  Discovery& d = dit->second;
  ++dispatching_;
  for (std::size_t i = 0; i < d.subscribers.size(); ++i) {
    Subscriber* s = d.subscribers[i];
    if (s != nullptr) deliver(*s, key, e);
  }
  if (--dispatching_ == 0) compact(d);
}

void ScanHub::deliver(Subscriber& s, const DeviceKey& key, const DeviceEntry& entry) {
  if (!matches(s.options.filter, entry.record)) return;
  if (s.options.mode == ScanMode::kChanges) {
    auto [it, inserted] = s.delivered.try_emplace(key, entry.generation);
    if (!inserted) {
      if (it->second == entry.generation) return;
      it->second = entry.generation;
    }
  }
  // Last use of `s`: the sink may unsubscribe from inside the call.
  s.sink->onScanResult(entry.record);
}

void ScanHub::deliverKnown(Subscriber& s) {
  std::vector<const std::pair<const DeviceKey, DeviceEntry>*> known;
  for (const auto& kv : devices_) {
    if (std::find(s.adapters.begin(), s.adapters.end(), kv.first.adapter) == s.adapters.end()) {
      continue;
    }
    known.push_back(&kv);
  }
  std::sort(known.begin(), known.end(), [](auto* a, auto* b) {
    return std::tie(a->first.address, a->first.adapter) <
           std::tie(b->first.address, b->first.adapter);
  });
  const std::uint64_t id = s.id;
  for (auto* kv : known) {
    if (!subscribers_.contains(id)) return;  // the sink ended it
    deliver(s, kv->first, kv->second);
  }
}

void ScanHub::onDeviceRemoved(const std::string& adapter, const Address& address) {
  // Remembered for ListDevices (first seen), no longer heard or connected.
  auto it = devices_.find(DeviceKey{adapter, address});
  if (it == devices_.end()) return;
  it->second.record.rssi.reset();
  it->second.record.connected = false;
}

void ScanHub::evictIfFull() {
  if (devices_.size() < kMaxDevices) return;
  // Forget the least recently heard tenth, preferring devices BlueZ no longer lists.
  std::vector<std::pair<std::pair<bool, absl::Time>, DeviceKey>> order;
  order.reserve(devices_.size());
  for (const auto& [key, e] : devices_) {
    const bool inBluez = backend_.device(key.adapter, key.address) != nullptr;
    order.push_back({{inBluez, e.record.lastSeen}, key});
  }
  const std::size_t n = kMaxDevices / 10;
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < n; ++i) {
    devices_.erase(order[i].second);
    for (auto& [id, s] : subscribers_) s->delivered.erase(order[i].second);
  }
}

absl::StatusOr<std::vector<ScanRecord>> ScanHub::knownDevices(const std::string& adapter,
                                                              const ScanFilter& filter) const {
  if (!backend_.bluezUp()) {
    return central_errors::bluezDown();
  }
  if (!adapter.empty()) {
    const auto all = backend_.adapters();
    if (std::none_of(all.begin(), all.end(), [&](const AdapterInfo& a) {
          return a.name == adapter;
        })) {
      return central_errors::adapterNotFound(adapter);
    }
  }
  std::vector<ScanRecord> out;
  for (const auto& [key, e] : devices_) {
    if (!adapter.empty() && key.adapter != adapter) continue;
    if (matches(filter, e.record)) out.push_back(e.record);
  }
  std::sort(out.begin(), out.end(), [](const ScanRecord& a, const ScanRecord& b) {
    return std::tie(a.address, a.adapter) < std::tie(b.address, b.adapter);
  });
  return out;
}

const ScanRecord* ScanHub::record(const std::string& adapter, const Address& address) const {
  auto it = devices_.find(DeviceKey{adapter, address});
  return it == devices_.end() ? nullptr : &it->second.record;
}

std::optional<AddressType> ScanHub::lastAddressType(const Address& address) const {
  std::optional<AddressType> type;
  absl::Time latest = absl::InfinitePast();
  for (const auto& [key, e] : devices_) {
    if (key.address == address && (!type || e.record.lastSeen > latest)) {
      type = e.record.addressType;
      latest = e.record.lastSeen;
    }
  }
  return type;
}

bool ScanHub::discoveringForGateway(const std::string& adapter) const {
  auto it = discoveries_.find(adapter);
  return it != discoveries_.end() && it->second.on;
}

}  // namespace gattway
