#include "ble/central/session_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/central/scan_hub.h"
#include "ble/central/central_errors.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {
namespace {

// The ATT MTU before any exchange (Core spec Vol 3, Part F, 3.2.8).
constexpr std::uint16_t kDefaultAttMtu = 23;

// What callers see of kept subscriptions (session.proto, KeptSubscription): none is active
// without a link (what KeptSubscriptions last reported may lag behind a drop by a loop turn), and
// one that is neither active nor failed is being enabled.
void maskKept(std::vector<KeptSubscriptionInfo>& kept, bool connected) {
  for (auto& k : kept) {
    if (!connected) {
      k.active = false;
      k.detail = "not connected";
    } else if (!k.active && k.detail.empty()) {
      k.detail = "enabling notifications";
    }
  }
}

std::optional<SessionStateMetric> metricOf(SessionState s) {
  switch (s) {
    case SessionState::kQueued: return SessionStateMetric::kQueued;
    case SessionState::kConnecting: return SessionStateMetric::kConnecting;
    case SessionState::kResolvingServices: return SessionStateMetric::kResolvingServices;
    case SessionState::kConnected: return SessionStateMetric::kConnected;
    case SessionState::kDisconnected: return SessionStateMetric::kDisconnected;
    case SessionState::kBackingOff: return SessionStateMetric::kBackingOff;
    case SessionState::kGaveUp: return SessionStateMetric::kGaveUp;
    case SessionState::kWaitingForAdapter: return SessionStateMetric::kWaitingForAdapter;
    case SessionState::kRemoved: break;
  }
  return std::nullopt;
}

}  // namespace

const char* sessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kQueued: return "QUEUED";
    case SessionState::kConnecting: return "CONNECTING";
    case SessionState::kResolvingServices: return "RESOLVING_SERVICES";
    case SessionState::kConnected: return "CONNECTED";
    case SessionState::kDisconnected: return "DISCONNECTED";
    case SessionState::kBackingOff: return "BACKING_OFF";
    case SessionState::kGaveUp: return "GAVE_UP";
    case SessionState::kWaitingForAdapter: return "WAITING_FOR_ADAPTER";
    case SessionState::kRemoved: return "REMOVED";
  }
  return "UNKNOWN";
}

// --- manager ---

SessionManager::SessionManager(Executor& executor, CentralBackend& backend,
                               ConnectScheduler& scheduler, const ScanHub& scanHub,
                               const PolicyStore& policies, Metrics& metrics)
    : executor_(executor),
      backend_(backend),
      scheduler_(scheduler),
      scanHub_(scanHub),
      policies_(policies),
      metrics_(metrics) {}

SessionManager::~SessionManager() {
  for (auto& [address, s] : sessions_) countState(s->info_.state, -1);
  sessions_.clear();
  closing_.clear();
}

SessionManager::WatcherHandle SessionManager::watch(SessionWatcher* watcher) {
  const std::uint64_t id = nextId_++;
  watchers_.emplace(id, watcher);
  return WatcherHandle(this, id);
}

absl::StatusOr<std::string> SessionManager::chooseAdapter(const std::string& requested,
                                                          const Address& address) const {
  const auto adapters = backend_.adapters();
  if (!requested.empty()) {
    auto it = std::find_if(adapters.begin(), adapters.end(),
                           [&](const AdapterInfo& a) { return a.name == requested; });
    if (it == adapters.end()) {
      return central_errors::adapterNotFound(requested);
    }
    if (!it->powered) {
      return central_errors::adapterOff(requested);
    }
    return requested;
  }
  // A link BlueZ already holds (opened before a gateway restart, or by another client) is
  // adopted: Connect on its adapter succeeds at once, and a connect through another adapter would
  // fail while the device is linked.
  for (const auto& a : adapters) {
    const DeviceInfo* d = a.powered ? backend_.device(a.name, address) : nullptr;
    if (d != nullptr && d->connected) return a.name;
  }
  // The adapter with the most free slots, then the one that heard the device loudest
  // (session.proto, ConnectRequest.adapter), then by name.
  const AdapterInfo* best = nullptr;
  std::uint32_t bestFree = 0;
  int bestRssi = -1000;
  for (const auto& a : adapters) {
    if (!a.powered) continue;
    const std::uint32_t free = scheduler_.available(a.name);
    const ScanRecord* heard = scanHub_.record(a.name, address);
    const int rssi = heard != nullptr && heard->rssi ? *heard->rssi : -999;
    if (best == nullptr || free > bestFree || (free == bestFree && rssi > bestRssi)) {
      best = &a;
      bestFree = free;
      bestRssi = rssi;
    }
  }
  if (best == nullptr) {
    return central_errors::noAdapterPowered(absl::StatusCode::kFailedPrecondition);
  }
  return best->name;
}

void SessionManager::connect(ConnectOptions o, SessionCallback done) {
  if (shuttingDown_) {
    done(err::make(err::Reason::kShuttingDown, "the gateway is shutting down"));
    return;
  }
  // A persistent session is kept even when BlueZ or the adapter is not there yet: it waits
  // (session.proto, Connect: the errors describe the first attempt only).
  if (!backend_.bluezUp() && !o.persistent) {
    done(central_errors::bluezDown());
    return;
  }
  if (!o.policy.empty() && policies_.find(o.policy) == nullptr) {
    done(central_errors::policyNotFound(o.policy, "policy"));
    return;
  }
  if (auto it = sessions_.find(o.address); it != sessions_.end()) {
    auto live = it->second;
    Session& s = *live;
    bool saved = false;
    if (!o.labels.empty() && o.labels != s.info_.labels) {
      s.info_.labels = o.labels;
      saved = true;
    }
    // An ephemeral session becomes persistent, never the reverse (session.proto, Connect).
    if (o.persistent && !s.info_.persistent) {
      s.info_.persistent = true;
      s.leaseTimer_.cancel();
      s.info_.leaseExpireTime.reset();
      saved = true;
    }
    if (!o.policy.empty() && o.policy != s.info_.explicitPolicy) {
      s.info_.explicitPolicy = o.policy;
      saved = true;
    }
    if (o.priority && o.priority != s.info_.requestedPriority) {
      s.info_.requestedPriority = o.priority;
      saved = true;
    }
    if (saved) {
      refreshPolicy(s);
      if (s.info_.persistent) persistentChanged();
    }
    if (s.info_.state == SessionState::kGaveUp) {
      // A Connect starts a session that gave up afresh (session.proto, GiveUpAction KEEP).
      s.info_.failedAttempts = 0;
      requeue(live, SessionReason::kRequested);
    }
    if (s.connected()) {
      touch(s);
      done(snapshot(s));
    } else if (o.noWait) {
      done(snapshot(s));
    } else {
      addWaiter(s, std::move(done), o.timeout);
    }
    return;
  }
  if (sessions_.size() >= kMaxSessions) {
    done(err::make(err::Reason::kLimitExceeded,
                   absl::StrCat("the gateway holds ", kMaxSessions, " sessions, its limit")));
    return;
  }
  absl::StatusOr<std::string> adapter = backend_.bluezUp()
                                            ? chooseAdapter(o.adapter, o.address)
                                            : absl::StatusOr<std::string>(central_errors::bluezDown());
  if (!adapter.ok() && !o.persistent) {
    done(adapter.status());
    return;
  }
  auto s = std::make_shared<Session>();
  std::weak_ptr<Session> weak = s;
  SessionInfo& info = s->info_;
  info.address = o.address;
  info.labels = o.labels;
  info.persistent = o.persistent;
  info.explicitPolicy = o.policy;
  info.requestedAdapter = o.adapter;
  info.requestedPriority = o.priority;
  refreshPolicy(*s);
  if (adapter.ok()) {
    // A persistent session queues for a slot whatever the caller asked: it keeps trying anyway.
    auto ticket = scheduler_.request(*adapter, info.priority, o.waitForSlot || o.persistent,
                                     [this, weak](ConnectScheduler::Grant grant) {
                                       if (auto live = weak.lock()) granted(live, std::move(grant));
                                     });
    if (!ticket.ok()) {  // refused before any attempt: not counted as one
      done(ticket.status());
      return;
    }
    s->ticket_ = std::move(*ticket);
    info.adapter = *adapter;
    info.state = SessionState::kQueued;
  } else {
    info.adapter = o.adapter;
    info.state = SessionState::kWaitingForAdapter;
    info.detail = std::string(adapter.status().message());
  }
  const absl::Time now = executor_.now();
  info.addressType = o.addressType ? *o.addressType
                                   : scanHub_.lastAddressType(o.address).value_or(AddressType::kPublic);
  info.createTime = now;
  info.stateTime = now;
  info.reason = o.origin;
  info.idleTimeout = o.idleTimeout;
  if (adapter.ok()) armAttempt(s, o.timeout);
  sessions_.emplace(o.address, s);
  countState(info.state, +1);
  emit(*s, std::nullopt);
  if (!adapter.ok()) {
    log::info("session.waiting_for_adapter",
              {{"address", info.address.toString()}, {"detail", info.detail}});
    persistentChanged();
    if (o.noWait) {
      done(snapshot(*s));
    } else {
      done(adapter.status());
    }
    return;
  }
  log::info("session.queued", {{"address", info.address.toString()},
                               {"adapter", info.adapter},
                               {"persistent", info.persistent}});
  if (info.persistent) persistentChanged();
  if (o.noWait) {
    done(snapshot(*s));
  } else {
    addWaiter(*s, std::move(done), absl::InfiniteDuration());  // the attempt timer bounds it
  }
}

void SessionManager::armAttempt(const std::shared_ptr<Session>& s, absl::Duration timeout) {
  std::weak_ptr<Session> weak = s;
  s->attemptDeadline_ = executor_.now() + timeout;
  s->attemptTimer_ = executor_.runAfter(timeout, [this, weak, timeout] {
    auto live = weak.lock();
    if (!live) return;
    live->attemptTimer_ = Timer();
    attemptFailed(live, err::make(err::Reason::kTimeout,
                                  absl::StrCat("connect to ", live->address().toString(),
                                               " did not finish within ",
                                               absl::FormatDuration(timeout), " (it was ",
                                               sessionStateName(live->info_.state), ")"),
                                  {{err::kMetaAddress, live->address().toString()},
                                   {err::kMetaAdapter, live->adapter()}}));
  });
}

void SessionManager::addWaiter(Session& s, SessionCallback done, absl::Duration timeout) {
  const std::uint64_t id = nextId_++;
  Session::Waiter& w = s.waiters_[id];
  w.done = std::move(done);
  if (timeout != absl::InfiniteDuration()) {
    std::weak_ptr<Session> weak = s.weak_from_this();
    w.timeout = executor_.runAfter(timeout, [weak, id, timeout] {
      auto live = weak.lock();
      if (!live) return;
      auto it = live->waiters_.find(id);
      if (it == live->waiters_.end()) return;
      auto cb = std::move(it->second.done);
      it->second.timeout = Timer();
      live->waiters_.erase(it);
      cb(err::make(err::Reason::kTimeout,
                   absl::StrCat("the session to ", live->address().toString(), " did not connect within ",
                                absl::FormatDuration(timeout), " (it is ",
                                sessionStateName(live->info_.state), ")")));
    });
  }
}

absl::Duration SessionManager::remaining(const Session& s) const {
  return std::max(s.attemptDeadline_ - executor_.now(), absl::Milliseconds(1));
}

void SessionManager::granted(const std::shared_ptr<Session>& s, ConnectScheduler::Grant grant) {
  s->ticket_ = ConnectScheduler::Ticket();
  s->slot_ = std::move(grant.slot);
  s->turn_ = std::move(grant.turn);
  s->connectingSince_ = executor_.now();
  s->linkRequested_ = true;
  // A persistent session's later attempts are bounded by its policy's connect_timeout, from here
  // (the first is bounded by Connect's timeout, queueing included).
  if (!s->attemptTimer_.held()) armAttempt(s, settingsFor(s->address()).connectTimeout);
  setState(*s, SessionState::kConnecting, SessionReason::kProgress);
  std::weak_ptr<Session> weak = s;
  s->pending_ = backend_.connect(s->adapter(), s->address(), s->info_.addressType, remaining(*s),
                                 [this, weak](absl::Status status) {
                                   auto live = weak.lock();
                                   if (!live) return;
                                   live->pending_.release();
                                   live->turn_.reset();  // the next connect on the adapter may go
                                   if (!status.ok()) {
                                     attemptFailed(live, status);
                                     return;
                                   }
                                   if (connectObserver_) {
                                     connectObserver_(live->adapter(), live->address(), status);
                                   }
                                   linkUp(live);
                                 });
}

void SessionManager::linkUp(const std::shared_ptr<Session>& s) {
  setState(*s, SessionState::kResolvingServices, SessionReason::kProgress);
  std::weak_ptr<Session> weak = s;
  s->pending_ = backend_.resolveServices(
      s->adapter(), s->address(), remaining(*s),
      [this, weak](absl::StatusOr<std::vector<GattServiceInfo>> result) {
        auto live = weak.lock();
        if (!live) return;
        live->pending_.release();
        if (!result.ok()) {
          attemptFailed(live, result.status());
          return;
        }
        servicesResolved(live, std::move(*result));
      });
}

void SessionManager::servicesResolved(const std::shared_ptr<Session>& s,
                                      std::vector<GattServiceInfo> services) {
  const absl::Time now = executor_.now();
  s->services_ = std::move(services);
  s->attemptTimer_.cancel();
  s->info_.mtu = backend_.mtu(s->adapter(), s->address()).value_or(kDefaultAttMtu);
  s->info_.connects++;
  s->info_.failedAttempts = 0;
  s->busyAttempts_ = 0;
  s->info_.connectTime = now;
  s->info_.nextAttemptTime.reset();
  refreshPolicy(*s);  // the services it offers may select its policy (DeviceSelector.service_uuids)
  if (s->info_.persistent && s->info_.connects > 1) metrics_.reconnects.add();
  s->lastUse_ = now;
  metrics_.connectAttempts[static_cast<std::size_t>(ConnectResult::kOk)].add();
  metrics_.connectDuration.observe(absl::ToDoubleSeconds(now - s->connectingSince_));
  setState(*s, SessionState::kConnected, SessionReason::kProgress);
  log::info("session.connected", {{"address", s->address().toString()},
                                  {"adapter", s->adapter()},
                                  {"mtu", s->info_.mtu}});
  armLease(s);
  auto waiters = std::move(s->waiters_);
  s->waiters_.clear();
  for (auto& [id, w] : waiters) {
    w.timeout.cancel();
    w.done(snapshot(*s));
  }
}

void SessionManager::attemptFailed(const std::shared_ptr<Session>& s, const absl::Status& failure) {
  ConnectResult result = ConnectResult::kFailed;
  if (failure.code() == absl::StatusCode::kDeadlineExceeded) result = ConnectResult::kTimeout;
  if (err::reasonOf(failure) == err::Reason::kInProgress) result = ConnectResult::kInProgress;
  metrics_.connectAttempts[static_cast<std::size_t>(result)].add();
  std::optional<absl::Status> adapters;  // the watchdog's view: the adapter's fault
  if (connectObserver_ && s->info_.state == SessionState::kConnecting) {
    adapters = connectObserver_(s->adapter(), s->address(), failure);
  }
  const absl::Status& status = adapters ? *adapters : failure;
  // InProgress: the adapter was busy and the device never tried (session.proto, max_attempts).
  if (adapters || result == ConnectResult::kInProgress) {
    s->busyAttempts_++;
  } else {
    s->info_.failedAttempts++;
  }
  log::warn("session.connect_failed",
            {{"address", s->address().toString()}, {"adapter", s->adapter()}, {"error", failure}});
  SessionReason reason = result == ConnectResult::kTimeout ? SessionReason::kConnectTimeout
                                                           : SessionReason::kConnectFailed;
  if (adapters) reason = SessionReason::kWatchdog;
  end(s, Ending{reason, std::string(status.message()), status, status, true});
}

void SessionManager::end(const std::shared_ptr<Session>& s, Ending ending, SessionCallback done) {
  if (s->ending_) {
    if (done) done(snapshot(*s));
    return;
  }
  if (s->info_.persistent && !ending.remove && ending.reason != SessionReason::kRequested &&
      ending.reason != SessionReason::kShutdown) {
    retreat(s, std::move(ending));
    return;
  }
  s->ending_ = true;
  s->backoffTimer_.cancel();
  Detached d = detach(*s);
  setState(*s, SessionState::kDisconnected, ending.reason, ending.detail);
  if (auto it = sessions_.find(s->address()); it != sessions_.end() && it->second == s) {
    sessions_.erase(it);
  }
  log::info("session.ended", {{"address", s->address().toString()},
                              {"adapter", s->adapter()},
                              {"detail", ending.detail}});
  // Work on the link and callers still waiting learn why, once the session is gone from the map.
  tell(d, ending);
  // Ephemeral sessions end at DISCONNECTED (session.proto).
  setState(*s, SessionState::kRemoved, ending.reason, ending.detail);
  SessionInfo removed = snapshot(*s);
  if (s->info_.persistent) persistentChanged();
  if (s->linkRequested_ && ending.closeLink) {
    closeLink(s, std::move(d.turn), ending.linkDown, std::move(done), std::move(removed));
  } else {
    s->slot_.reset();
    if (done) done(removed);
  }
}

SessionManager::Detached SessionManager::detach(Session& s) {
  s.ticket_ = ConnectScheduler::Ticket();
  s.pending_.reset();
  s.attemptTimer_.cancel();
  s.leaseTimer_.cancel();
  Detached d;
  // A connect cancelled while in flight keeps the adapter's turn until BlueZ has let it go, so the
  // next one does not meet InProgress.
  d.turn = std::move(s.turn_);
  d.watchers = std::move(s.linkWatchers_);
  s.linkWatchers_.clear();
  d.waiters = std::move(s.waiters_);
  s.waiters_.clear();
  s.info_.mtu = 0;
  s.info_.connectTime.reset();
  return d;
}

void SessionManager::tell(Detached& d, const Ending& ending) {
  for (auto& [id, w] : d.watchers) w(ending.link);
  for (auto& [id, w] : d.waiters) {
    w.timeout.cancel();
    w.done(ending.waiters);
  }
}

absl::StatusOr<SessionInfo> SessionManager::get(const Address& address) const {
  auto it = sessions_.find(address);
  if (it == sessions_.end()) {
    return err::make(err::Reason::kDeviceNotFound,
                     absl::StrCat("no session for ", address.toString()),
                     {{err::kMetaAddress, address.toString()}});
  }
  return snapshot(*it->second);
}

std::vector<SessionInfo> SessionManager::list() const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [address, s] : sessions_) out.push_back(snapshot(*s));
  std::sort(out.begin(), out.end(),
            [](const SessionInfo& a, const SessionInfo& b) { return a.address < b.address; });
  return out;
}

absl::StatusOr<std::shared_ptr<Session>> SessionManager::use(const Address& address) {
  auto it = sessions_.find(address);
  if (it == sessions_.end()) {
    return err::make(err::Reason::kDeviceNotFound,
                     absl::StrCat("no session for ", address.toString(),
                                  "; open one with SessionService.Connect"),
                     {{err::kMetaAddress, address.toString()}});
  }
  Session& s = *it->second;
  if (!s.connected()) {
    return err::make(err::Reason::kNotConnected,
                     absl::StrCat("the session for ", address.toString(), " is ",
                                  sessionStateName(s.info_.state), ", not CONNECTED"),
                     {{err::kMetaAddress, address.toString()}});
  }
  touch(s);
  return it->second;
}

std::uint16_t SessionManager::refreshMtu(Session& s) {
  if (s.connected()) {
    s.info_.mtu = backend_.mtu(s.adapter(), s.address()).value_or(s.info_.mtu);
  }
  return s.info_.mtu;
}

void SessionManager::setKeptSubscriptions(const Address& address,
                                          std::vector<KeptSubscriptionInfo> kept) {
  auto it = sessions_.find(address);
  if (it == sessions_.end() || it->second->ending_) return;
  Session& s = *it->second;
  std::vector<KeptSubscriptionInfo> before = s.info_.subscriptions;
  maskKept(before, s.connected());
  s.info_.subscriptions = std::move(kept);
  std::vector<KeptSubscriptionInfo> after = s.info_.subscriptions;
  maskKept(after, s.connected());
  if (after != before) emit(s, s.info_.state);  // session.proto, WatchSessions
}

void SessionManager::setState(Session& s, SessionState state, SessionReason reason,
                              std::string detail) {
  const SessionState previous = s.info_.state;
  countState(previous, -1);
  countState(state, +1);
  s.info_.state = state;
  s.info_.reason = reason;
  s.info_.detail = std::move(detail);
  s.info_.stateTime = executor_.now();
  emit(s, previous);
}

void SessionManager::countState(SessionState state, int delta) {
  if (auto m = metricOf(state)) metrics_.sessions[static_cast<std::size_t>(*m)].add(delta);
}

void SessionManager::emit(const Session& s, std::optional<SessionState> previous) {
  if (watchers_.empty()) return;
  const SessionEvent event{snapshot(s), previous};
  std::vector<std::uint64_t> ids;
  ids.reserve(watchers_.size());
  for (const auto& [id, w] : watchers_) ids.push_back(id);
  for (auto id : ids) {
    auto it = watchers_.find(id);
    if (it != watchers_.end()) it->second->onSessionEvent(event);
  }
}

SessionInfo SessionManager::snapshot(const Session& s) const {
  SessionInfo info = s.info_;
  if (s.connected() && s.leaseHolds_ == 0 && !info.persistent) info.leaseExpireTime = s.lastUse_ + info.idleTimeout;
  maskKept(info.subscriptions, s.connected());
  if (const DeviceInfo* d = backend_.device(s.adapter(), s.address()); d != nullptr) {
    info.name = d->advertisement.name;
  } else if (const ScanRecord* r = scanHub_.record(s.adapter(), s.address()); r != nullptr) {
    info.name = r->data().name;
  }
  return info;
}

std::vector<std::shared_ptr<Session>> SessionManager::sessionsOn(const std::string& adapter) const {
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [address, s] : sessions_) {
    if (adapter.empty() || s->adapter() == adapter) out.push_back(s);
  }
  return out;
}

void SessionManager::shutdown() {
  shuttingDown_ = true;
  const absl::Status down = err::make(err::Reason::kShuttingDown, "the gateway is shutting down");
  for (auto& s : sessionsOn("")) {
    end(s, Ending{SessionReason::kShutdown, "the gateway is shutting down", down, down, true});
  }
  // Disconnect callers are answered now; BlueZ finishes closing on its own (backend stop()).
  for (auto& [id, c] : closing_) {
    auto callbacks = std::move(c.done);
    c.done.clear();
    for (auto& cb : callbacks) cb(c.removed);
  }
}

}  // namespace gattway
