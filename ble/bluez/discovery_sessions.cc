#include "ble/bluez/discovery_sessions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ble/bluez/paths.h"
#include "ble/bluez/proxies/adapter1.h"
#include "ble/error.h"

namespace gattway::bluez {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(10);

// StopDiscovery answers that our session is already gone (after a power cycle, say) with these.
bool sessionAlreadyGone(const absl::Status& status) {
  const auto name = err::metadata(status, err::kMetaBluezError);
  const auto message = err::metadata(status, err::kMetaBluezMessage);
  return name == "org.bluez.Error.NotReady" ||
         (name == "org.bluez.Error.Failed" && message == "No discovery started");
}

}  // namespace

DiscoverySessions::DiscoverySessions(BackendContext& context, StartedHook onStarted)
    : context_(context), onStarted_(std::move(onStarted)) {}

DiscoverySessions::Adapter& DiscoverySessions::state(const std::string& name) {
  auto [it, inserted] = adapters_.try_emplace(name);
  if (inserted) {
    const AdapterNode* node = context_.mirror().adapter(name);
    it->second.powered = node != nullptr && node->info.powered;
  }
  return it->second;
}

DiscoverySessions::Adapter* DiscoverySessions::find(const std::string& name) {
  auto it = adapters_.find(name);
  return it == adapters_.end() ? nullptr : &it->second;
}

bool DiscoverySessions::running(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  return it != adapters_.end() && it->second.applied.has_value();
}

void DiscoverySessions::want(const std::string& adapter, const DiscoveryFilter& filter, Done done) {
  Adapter& a = state(adapter);
  a.wanted = filter;
  a.stalled = false;
  a.waiters.push_back(std::move(done));
  schedule(adapter);
}

void DiscoverySessions::unwant(const std::string& adapter, Done done) {
  Adapter& a = state(adapter);
  a.wanted.reset();
  a.stalled = false;
  a.waiters.push_back(std::move(done));
  schedule(adapter);
}

void DiscoverySessions::addTarget(const std::string& adapter, const Address& address, Done done) {
  Adapter& a = state(adapter);
  a.targets.insert(address);
  a.stalled = false;
  a.waiters.push_back(std::move(done));
  schedule(adapter);
}

void DiscoverySessions::removeTarget(const std::string& adapter, const Address& address) {
  Adapter* a = find(adapter);
  if (a == nullptr || a->targets.erase(address) == 0) return;
  schedule(adapter);
}

std::optional<DiscoveryFilter> DiscoverySessions::desired(const Adapter& a) const {
  if (a.targets.empty()) return a.wanted;
  // Looking for devices: the domain's UUID/RSSI/pattern filter could hide them, so it is dropped
  // while connect attempts look (the domain checks each report against its own filters anyway).
  DiscoveryFilter f;
  f.duplicateData = a.wanted && a.wanted->duplicateData;
  if (!a.wanted && a.targets.size() == 1) f.pattern = a.targets.begin()->toString();
  return f;
}

void DiscoverySessions::schedule(const std::string& name) {
  Adapter& a = state(name);
  if (a.turn.held()) return;
  a.turn = context_.loop().runAfter(absl::ZeroDuration(), [this, name] {
    if (Adapter* s = find(name)) s->turn = Timer();
    reconcile(name);
  });
}

void DiscoverySessions::reconcile(const std::string& name) {
  Adapter* a = find(name);
  if (a == nullptr || a->call.pending()) return;  // a running chain reconciles when it ends
  const auto target = desired(*a);
  if (target == a->applied) return complete(*a, absl::OkStatus());
  if (a->stalled) return;
  // Nothing asked for right now: wait for the adapter to be powered (then it restarts on its own).
  if (!a->powered && a->waiters.empty()) return;
  if (!target) return stopSession(name);
  if (!a->applied) return startSession(name, *target);
  updateFilter(name, *target);
}

void DiscoverySessions::startSession(const std::string& name, const DiscoveryFilter& filter) {
  CallLimiter& calls = context_.calls();
  const std::string path = adapterPath(name);
  state(name).call = Adapter1Proxy(calls, path).setDiscoveryFilter(
      &filter, kCallTimeout, [this, name, filter, path, &calls](absl::Status status) {
        if (!status.ok()) return chainFailed(name, status);
        state(name).call = Adapter1Proxy(calls, path).startDiscovery(
            kCallTimeout, [this, name, filter, path, &calls](absl::Status started) {
              if (!started.ok()) {
                // Do not leave the pre-set filter behind (see the header).
                Adapter1Proxy(calls, path)
                    .setDiscoveryFilter(nullptr, kCallTimeout, [](absl::Status) {})
                    .release();
                return chainFailed(name, started);
              }
              state(name).applied = filter;
              if (onStarted_) onStarted_(name);
              reconcile(name);
            });
      });
}

void DiscoverySessions::updateFilter(const std::string& name, const DiscoveryFilter& filter) {
  state(name).call = Adapter1Proxy(context_.calls(), adapterPath(name))
                         .setDiscoveryFilter(&filter, kCallTimeout,
                                             [this, name, filter](absl::Status status) {
                                               if (!status.ok()) return chainFailed(name, status);
                                               state(name).applied = filter;
                                               reconcile(name);
                                             });
}

void DiscoverySessions::stopSession(const std::string& name) {
  CallLimiter& calls = context_.calls();
  const std::string path = adapterPath(name);
  state(name).call = Adapter1Proxy(calls, path).stopDiscovery(
      kCallTimeout, [this, name, path, &calls](absl::Status status) {
        if (!status.ok() && !sessionAlreadyGone(status)) return chainFailed(name, status);
        state(name).call = Adapter1Proxy(calls, path).setDiscoveryFilter(
            nullptr, kCallTimeout, [this, name](absl::Status) {
              // A failure here (adapter off) leaves nothing behind worth reporting.
              state(name).applied.reset();
              reconcile(name);
            });
      });
}

void DiscoverySessions::chainFailed(const std::string& name, const absl::Status& status) {
  Adapter& a = state(name);
  a.stalled = true;
  if (!a.applied) {
    // Nothing runs: the callers hear why and ask again if they still want it.
    a.wanted.reset();
    a.targets.clear();
  }
  complete(a, status);
}

void DiscoverySessions::complete(Adapter& a, const absl::Status& status) {
  auto waiters = std::move(a.waiters);
  a.waiters.clear();
  for (auto& done : waiters) done(status);
}

void DiscoverySessions::adapterChanged(const AdapterInfo& adapter) {
  Adapter& a = state(adapter.name);
  if (a.powered == adapter.powered) return;
  a.powered = adapter.powered;
  if (!adapter.powered) {
    // Power-off ends every discovery session and drops every filter (§1, Powered).
    a.applied.reset();
    return;
  }
  a.stalled = false;
  schedule(adapter.name);
}

void DiscoverySessions::adapterRemoved(const std::string& adapter) {
  Adapter* a = find(adapter);
  if (a == nullptr) return;
  // As in bluezDown(): a running session comes back with the adapter, a pending request fails.
  if (!a->waiters.empty()) a->wanted.reset();
  a->applied.reset();
  a->powered = false;
  a->call.reset();
  a->targets.clear();
  complete(*a, err::make(err::Reason::kAdapterNotFound,
                         absl::StrCat("adapter ", adapter, " went away"),
                         {{err::kMetaAdapter, adapter}}));
}

void DiscoverySessions::bluezDown() {
  for (auto& [name, a] : adapters_) {
    // A session that ran is started again when BlueZ is back; one whose request was still pending
    // failed (its caller hears UNAVAILABLE and asks again if it still wants it).
    if (!a.waiters.empty()) a.wanted.reset();
    a.applied.reset();
    a.powered = false;
    a.stalled = false;
    a.call.reset();
    a.turn.cancel();
    a.targets.clear();
    a.waiters.clear();
  }
}

void DiscoverySessions::bluezUp() {
  // The adapters were just reported (adapterChanged with Powered): wanted sessions are scheduled.
}

void DiscoverySessions::releaseAll() {
  CallLimiter& calls = context_.calls();
  for (auto& [name, a] : adapters_) {
    if (!a.applied && !a.call.pending()) continue;
    const std::string path = adapterPath(name);
    Adapter1Proxy(calls, path)
        .stopDiscovery(kCallTimeout,
                       [&calls, path](absl::Status) {
                         Adapter1Proxy(calls, path)
                             .setDiscoveryFilter(nullptr, kCallTimeout, [](absl::Status) {})
                             .release();
                       })
        .release();
  }
  adapters_.clear();
}

}  // namespace gattway::bluez
