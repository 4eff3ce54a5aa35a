#include "ble/central/subscription_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

SubscriptionHub::SubscriptionHub(Executor& executor, CentralBackend& backend,
                                 SessionManager& sessions, Metrics& metrics)
    : executor_(executor), backend_(backend), sessions_(sessions), metrics_(metrics) {
  watch_ = sessions_.watch(this);
}

SubscriptionHub::~SubscriptionHub() {
  watch_.reset();
  notify_.clear();
  subscribers_.clear();
  cleanup_.clear();
}

std::size_t SubscriptionHub::countFor(const Address& address) const {
  std::size_t n = 0;
  for (const auto& [key, ns] : notify_) {
    if (key.address != address) continue;
    for (const Subscriber* s : ns->subscribers) n += s != nullptr ? 1 : 0;
  }
  return n;
}

absl::StatusOr<SubscriptionHub::Handle> SubscriptionHub::subscribe(const SubscribeOptions& o,
                                                        NotificationSink* sink) {
  using namespace gatt_property;
  auto session = sessions_.use(o.address);
  if (!session.ok()) return session.status();
  if (o.characteristic.descriptor) {
    return err::invalidField("characteristic.descriptor_uuid",
                             "notifications come from characteristics; leave it empty");
  }
  auto r = resolveAttribute((*session)->services(), o.characteristic, "characteristic");
  if (!r.ok()) return r.status();
  if (r->isDescriptor()) {
    return err::invalidField("characteristic.handle",
                             "the handle names a descriptor; give the characteristic's");
  }
  const GattCharacteristicInfo& c = *r->characteristic;
  const std::string name = c.uuid.toString();
  const std::string p = absl::StrFormat("0x%02x", c.properties);
  const bool canNotify = (c.properties & kNotify) != 0;
  const bool canIndicate = (c.properties & kIndicate) != 0;
  bool indicate = false;
  switch (o.mode) {
    case SubscribeMode::kAuto:
      if (!canNotify && !canIndicate) {
        return err::make(err::Reason::kOperationNotSupported,
                         absl::StrCat("characteristic ", name,
                                      " supports neither notify nor indicate (properties ", p, ")"),
                         {{err::kMetaAttribute, name}});
      }
      indicate = !canNotify;
      break;
    case SubscribeMode::kNotify:
      if (!canNotify) {
        return err::make(err::Reason::kOperationNotSupported,
                         absl::StrCat("characteristic ", name,
                                      " does not support notify (property 0x10; properties ", p, ")"),
                         {{err::kMetaAttribute, name}});
      }
      break;
    case SubscribeMode::kIndicate:
      if (!canIndicate) {
        return err::make(err::Reason::kOperationNotSupported,
                         absl::StrCat("characteristic ", name,
                                      " does not support indicate (property 0x20; properties ", p,
                                      ")"),
                         {{err::kMetaAttribute, name}});
      }
      if (canNotify) {
        // StartNotify writes the CCCD itself and prefers notifications (BlueZ 5.66
        // gatt-client.c); it cannot be told to indicate. Refused rather than ignored.
        return err::make(err::Reason::kBackendLimitation,
                         absl::StrCat("characteristic ", name,
                                      " supports notify and indicate, and BlueZ enables "
                                      "notifications in that case; use SUBSCRIBE_MODE_NOTIFY or "
                                      "SUBSCRIBE_MODE_AUTO"),
                         {{err::kMetaAttribute, name}});
      }
      indicate = true;
      break;
  }
  if (o.acquire && indicate) {
    return err::make(err::Reason::kBackendLimitation,
                     "AcquireNotify carries notifications only (BlueZ 5.66 requires the notify "
                     "property); subscribe to indications without `acquire`",
                     {{err::kMetaAttribute, name}, {"bluez_version_needed", "5.80"}});
  }
  if (countFor(o.address) >= kMaxPerSession) {
    return err::make(err::Reason::kLimitExceeded,
                     absl::StrCat("the session to ", o.address.toString(), " has ", kMaxPerSession,
                                  " subscriptions, its limit"));
  }

  const std::uint64_t id = nextId_++;
  const Key key{o.address, r->handle};
  auto owned = std::make_unique<Subscriber>();
  Subscriber* s = owned.get();
  s->id = id;
  s->key = key;
  s->sink = sink;
  s->kept = o.kept;
  // A kept subscription must not keep an ephemeral session alive: only streams hold its lease.
  if (!o.kept) s->lease = sessions_.holdLease(*session);
  subscribers_.emplace(id, std::move(owned));

  auto& slot = notify_[key];
  if (!slot) {
    slot = std::make_unique<NotifySession>();
    NotifySession& ns = *slot;
    ns.adapter = (*session)->adapter();
    ns.key = key;
    ns.method = o.acquire ? NotifyMethod::kAcquireNotify : NotifyMethod::kStartNotify;
    ns.indicate = indicate;
    ns.timeout = o.timeout;
    ns.subscribers.push_back(s);
    ns.linkWatch = sessions_.watchLink(*session, [this, key](const absl::Status& status) {
      linkEnded(key, status);
    });
    start(ns);
  } else {
    NotifySession& ns = *slot;
    ns.subscribers.push_back(s);
    if (ns.state == State::kActive) {
      sink->onSubscribed({ns.method, key.handle, ns.indicate});
    }
    // kStarting: told when it starts; kStopping: restarted when the stop completes.
  }
  return Handle(this, id);
}

void SubscriptionHub::start(NotifySession& ns) {
  ns.state = State::kStarting;
  ns.startedAt = executor_.now();
  const Key key = ns.key;
  ns.op = backend_.startNotify(ns.adapter, key.address, key.handle, ns.method, ns.timeout,
                               [this, key](absl::Status status) { started(key, status); });
}

void SubscriptionHub::started(const Key& key, const absl::Status& status) {
  auto it = notify_.find(key);
  if (it == notify_.end()) return;
  NotifySession& ns = *it->second;
  ns.op.release();
  metrics_.countGattOp(GattOpKind::kSubscribe, status.code(),
                       absl::ToDoubleSeconds(executor_.now() - ns.startedAt));
  if (!status.ok()) {
    log::warn("gatt.subscribe_failed",
              {{"address", key.address.toString()}, {"handle", key.handle}, {"error", status}});
    endAll(key, status, false);
    return;
  }
  ns.state = State::kActive;
  std::erase(ns.subscribers, nullptr);
  if (ns.subscribers.empty()) {
    stop(ns);
    return;
  }
  const bool resumed = ns.resuming;
  ns.resuming = false;
  log::debug("gatt.notify_started", {{"address", key.address.toString()}, {"handle", key.handle}});
  const SubscriptionStarted info{ns.method, key.handle, ns.indicate};
  const std::vector<Subscriber*> subs = ns.subscribers;
  std::vector<std::uint64_t> ids;
  for (Subscriber* s : subs) ids.push_back(s->id);
  for (auto id : ids) {
    auto sit = subscribers_.find(id);
    if (sit == subscribers_.end()) continue;
    if (resumed) {
      sit->second->sink->onResumed(info, executor_.now() - ns.interruptedAt);
    } else {
      sit->second->sink->onSubscribed(info);
    }
  }
}

void SubscriptionHub::stop(NotifySession& ns) {
  ns.state = State::kStopping;
  const Key key = ns.key;
  ns.op = backend_.stopNotify(ns.adapter, key.address, key.handle,
                              [this, key](absl::Status status) {
                                if (!status.ok()) {
                                  log::warn("gatt.unsubscribe_failed",
                                            {{"address", key.address.toString()},
                                             {"handle", key.handle},
                                             {"error", status}});
                                }
                                stopped(key);
                              });
}

void SubscriptionHub::stopped(const Key& key) {
  auto it = notify_.find(key);
  if (it == notify_.end()) return;
  NotifySession& ns = *it->second;
  ns.op.release();
  std::erase(ns.subscribers, nullptr);
  if (ns.subscribers.empty()) {
    notify_.erase(it);
    return;
  }
  start(ns);  // someone joined while it was stopping
}

void SubscriptionHub::unsubscribe(const std::uint64_t& id) {
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return;
  const Key key = it->second->key;
  Subscriber* s = it->second.get();
  auto nit = notify_.find(key);
  if (nit != notify_.end()) {
    NotifySession& ns = *nit->second;
    auto pos = std::find(ns.subscribers.begin(), ns.subscribers.end(), s);
    if (pos != ns.subscribers.end()) {
      if (ns.dispatching > 0) {
        *pos = nullptr;
      } else {
        ns.subscribers.erase(pos);
      }
    }
    const bool anyLeft = std::any_of(ns.subscribers.begin(), ns.subscribers.end(),
                                     [](const Subscriber* x) { return x != nullptr; });
    // The last one to leave stops it (gatt.proto, Subscribe). A start in flight finishes first.
    if (!anyLeft && ns.state == State::kActive) stop(ns);
    // Interrupted: nothing is held in BlueZ any more (linkEnded released it).
    if (!anyLeft && ns.state == State::kInterrupted) notify_.erase(nit);
  }
  subscribers_.erase(it);  // releases the lease hold
}

void SubscriptionHub::end(std::uint64_t id, const absl::Status& status) {
  auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return;
  NotificationSink* sink = it->second->sink;
  subscribers_.erase(it);
  sink->onSubscriptionEnded(status);
}

void SubscriptionHub::endAll(const Key& key, const absl::Status& status, bool stopNotify) {
  auto it = notify_.find(key);
  if (it == notify_.end()) return;
  std::unique_ptr<NotifySession> ns = std::move(it->second);
  notify_.erase(it);
  if (stopNotify && ns->state != State::kStopping && ns->state != State::kInterrupted) {
    releaseInBluez(*ns);
  }
  std::vector<std::uint64_t> ids;
  for (const Subscriber* s : ns->subscribers) {
    if (s != nullptr) ids.push_back(s->id);
  }
  ns.reset();
  for (auto id : ids) end(id, status);
}

void SubscriptionHub::releaseInBluez(NotifySession& ns) {
  // BlueZ keeps a notify session across a disconnect to restore it on the next link; the
  // gateway releases it and, for a persistent session, asks afresh on the next link, so it
  // knows when notifications are really on again.
  const std::uint64_t cid = nextId_++;
  ns.op.reset();
  cleanup_[cid] = backend_.stopNotify(ns.adapter, ns.key.address, ns.key.handle,
                                      [this, cid](absl::Status) {
                                        auto c = cleanup_.find(cid);
                                        if (c == cleanup_.end()) return;
                                        c->second.release();
                                        cleanup_.erase(c);
                                      });
}

void SubscriptionHub::linkEnded(const Key& key, const absl::Status& status) {
  auto session = sessions_.get(key.address);
  // An ephemeral session ended with its link; a removed persistent one is gone from the map.
  if (!session.ok() || !session->persistent) {
    endAll(key, status, true);
    return;
  }
  auto it = notify_.find(key);
  if (it == notify_.end()) return;
  NotifySession& ns = *it->second;
  // Kept subscriptions end with the link; their owner starts them again on the next one, after
  // resolving the characteristic afresh. Told once the notify session is dealt with.
  std::vector<std::uint64_t> kept;
  for (Subscriber*& s : ns.subscribers) {
    if (s != nullptr && s->kept) {
      kept.push_back(s->id);
      s = nullptr;
    }
  }
  std::erase(ns.subscribers, nullptr);
  auto endKept = [&] {
    for (auto id : kept) end(id, status);
  };
  if (ns.subscribers.empty() || ns.state == State::kStopping) {
    releaseInBluez(ns);
    notify_.erase(it);
    endKept();
    return;
  }
  releaseInBluez(ns);
  ns.linkWatch = SessionManager::LinkWatch();
  ns.state = State::kInterrupted;
  ns.resuming = false;
  ns.interruptedAt = executor_.now();
  log::info("gatt.subscription_interrupted",
            {{"address", key.address.toString()}, {"handle", key.handle}});
  std::vector<std::uint64_t> ids;
  for (const Subscriber* s : ns.subscribers) ids.push_back(s->id);
  for (auto id : ids) {
    auto sit = subscribers_.find(id);
    if (sit != subscribers_.end()) sit->second->sink->onInterrupted(status);
  }
  endKept();
}

void SubscriptionHub::resume(NotifySession& ns) {
  auto session = sessions_.use(ns.key.address);
  if (!session.ok()) return;
  ns.adapter = (*session)->adapter();
  const Key key = ns.key;
  ns.linkWatch = sessions_.watchLink(*session, [this, key](const absl::Status& status) {
    linkEnded(key, status);
  });
  ns.resuming = true;
  start(ns);
}

void SubscriptionHub::onSessionEvent(const SessionEvent& event) {
  const SessionState state = event.session.state;
  if (state != SessionState::kConnected && state != SessionState::kRemoved) return;
  if (event.previous && *event.previous == state) return;  // not a new link (kept subscriptions)
  std::vector<Key> keys;
  for (const auto& [key, ns] : notify_) {
    if (key.address == event.session.address && ns->state == State::kInterrupted) {
      keys.push_back(key);
    }
  }
  for (const Key& key : keys) {
    auto it = notify_.find(key);
    if (it == notify_.end()) continue;
    if (state == SessionState::kConnected) {
      resume(*it->second);
    } else {
      const std::string a = key.address.toString();
      endAll(key,
             err::make(err::Reason::kSessionEnded,
                       absl::StrCat("the session to ", a, " ended (", event.session.detail, ")"),
                       {{err::kMetaAddress, a}}),
             false);
    }
  }
}

void SubscriptionHub::onNotification(const std::string& adapter, const Address& address,
                                     std::uint16_t handle, absl::Span<const std::uint8_t> value) {
  metrics_.notificationsReceived.add();
  auto it = notify_.find(Key{address, handle});
  if (it == notify_.end()) return;
  NotifySession& ns = *it->second;
  if (ns.state != State::kActive || ns.adapter != adapter) return;
  const absl::Time now = executor_.now();
  ++ns.dispatching;
  // Only those subscribed when the value arrived; one that joins from inside a sink waits for
  // the next value.
  const std::size_t n = ns.subscribers.size();
  bool claimed = false;
  for (std::size_t i = 0; i < n; ++i) {
    Subscriber* s = ns.subscribers[i];
    if (s == nullptr || s->kept) continue;  // kept subscriptions take no values
    claimed = true;
    s->sink->onNotification(value, now);
  }
  // Only a policy keeps it and no stream is open: dropped, nothing queues (session.proto).
  if (!claimed) metrics_.notificationsUnclaimed.add();
  if (--ns.dispatching == 0) std::erase(ns.subscribers, nullptr);
}

void SubscriptionHub::shutdown(const absl::Status& status) {
  std::vector<Key> keys;
  for (const auto& [key, ns] : notify_) keys.push_back(key);
  for (const auto& key : keys) endAll(key, status, false);
}

}  // namespace gattway
