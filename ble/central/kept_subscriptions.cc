#include "ble/central/kept_subscriptions.h"

#include <algorithm>

#include "ble/log.h"

namespace gattway {
namespace {

// A failure's detail, never empty (an empty detail means "pending").
std::string why(const absl::Status& status) {
  return status.message().empty() ? absl::StatusCodeToString(status.code())
                                  : std::string(status.message());
}

}  // namespace

KeptSubscriptions::KeptSubscriptions(Executor& executor, SessionManager& sessions,
                                     SubscriptionHub& hub, const PolicyStore& policies)
    : executor_(executor), sessions_(sessions), hub_(hub), policies_(policies) {
  watch_ = sessions_.watch(this);
  // A session's policy can change without a state change: Connect naming another policy, new
  // labels, an ephemeral session made persistent.
  sessions_.onPersistentChange([this] { refresh(); });
}

KeptSubscriptions::~KeptSubscriptions() {
  watch_.reset();
  kept_.clear();
}

std::size_t KeptSubscriptions::size() const {
  std::size_t n = 0;
  for (const auto& [address, list] : kept_) n += list.size();
  return n;
}

void KeptSubscriptions::refresh() {
  if (stopped_ || refreshTimer_.held()) return;
  refreshTimer_ = executor_.runAfter(absl::ZeroDuration(), [this] {
    refreshTimer_ = Timer();
    for (const SessionInfo& s : sessions_.list()) sync(s, false);
  });
}

void KeptSubscriptions::shutdown() {
  // Before the hub ends every subscription (Central::shutdown): what ends now is not reported,
  // and nothing is stopped in BlueZ one by one.
  stopped_ = true;
  refreshTimer_.cancel();
  reportTimer_.cancel();
  dirty_.clear();
  watch_.reset();
}

std::vector<PolicySubscription> KeptSubscriptions::wanted(const SessionInfo& s) const {
  // Persistent sessions only: an ephemeral one lives no longer than its callers' interest.
  if (!s.persistent || s.policy.empty()) return {};
  const ReconnectPolicy* p = policies_.find(s.policy);
  return p != nullptr ? p->subscriptions : std::vector<PolicySubscription>{};
}

void KeptSubscriptions::onSessionEvent(const SessionEvent& event) {
  if (stopped_) return;
  const SessionInfo& s = event.session;
  // Same state: a report of kept subscriptions (ours), nothing to act on.
  if (event.previous && *event.previous == s.state) return;
  if (s.state == SessionState::kRemoved) {
    kept_.erase(s.address);  // the hub ended them with the session
    dirty_.erase(s.address);
    return;
  }
  // On a new link every kept subscription starts (the previous link's ended with it).
  sync(s, s.state == SessionState::kConnected);
}

void KeptSubscriptions::sync(const SessionInfo& s, bool all) {
  std::vector<PolicySubscription> want = wanted(s);
  auto it = kept_.find(s.address);
  if (want.empty()) {
    if (it == kept_.end()) return;
    KeptList gone = std::move(it->second);
    kept_.erase(it);
    gone.clear();  // stops them; the last subscriber of a notify session stops BlueZ's
    changed(s.address);
    return;
  }
  KeptList before;
  if (it != kept_.end()) before = std::move(it->second);
  KeptList next;
  std::vector<Kept*> added;
  for (const PolicySubscription& spec : want) {
    auto found = std::find_if(before.begin(), before.end(),
                              [&](const auto& k) { return k != nullptr && k->spec == spec; });
    if (found != before.end()) {
      next.push_back(std::move(*found));
      continue;
    }
    auto k = std::make_unique<Kept>();
    k->owner = this;
    k->address = s.address;
    k->spec = spec;
    added.push_back(k.get());
    next.push_back(std::move(k));
  }
  before.clear();  // what the policy no longer keeps stops
  KeptList& list = kept_[s.address];
  list = std::move(next);
  if (s.state != SessionState::kConnected) {
    // A failure belonged to the last link; the next one tries again.
    for (const auto& k : list) {
      if (!k->handle) k->detail.clear();
    }
  } else {
    std::vector<Kept*> toStart;
    for (const auto& k : list) {
      if (k->handle) continue;
      if (all || std::find(added.begin(), added.end(), k.get()) != added.end()) {
        toStart.push_back(k.get());
      }
    }
    for (Kept* k : toStart) start(*k);
  }
  changed(s.address);
}

void KeptSubscriptions::start(Kept& k) {
  SubscribeOptions o;
  o.address = k.address;
  o.characteristic = k.spec.characteristic;
  o.mode = k.spec.mode;
  o.kept = true;
  k.active = false;
  k.detail.clear();  // pending: shown as "enabling notifications"
  // Joining a notify session that is already on reports it active from inside subscribe().
  auto sub = hub_.subscribe(o, &k);
  if (!sub.ok()) {
    k.active = false;
    k.detail = why(sub.status());
    log::warn("kept_subscription.failed", {{"address", k.address.toString()},
                                           {"characteristic", k.spec.characteristic.describe()},
                                           {"error", sub.status()}});
  } else {
    k.handle = std::move(*sub);
  }
  changed(k.address);
}

void KeptSubscriptions::Kept::onSubscribed(const SubscriptionStarted&) {
  active = true;
  detail.clear();
  log::debug("kept_subscription.active", {{"address", address.toString()},
                                          {"characteristic", spec.characteristic.describe()}});
  owner->changed(address);
}

void KeptSubscriptions::Kept::onResumed(const SubscriptionStarted& started, absl::Duration) {
  // Joined a stream's notify session while it was being enabled again after a drop.
  onSubscribed(started);
}

void KeptSubscriptions::Kept::onNotification(absl::Span<const std::uint8_t>, absl::Time) {
  // Not called: the hub counts values nobody else takes and drops them.
}

void KeptSubscriptions::Kept::onSubscriptionEnded(const absl::Status& status) {
  handle.reset();  // the hub has let it go already; this only forgets it
  active = false;
  if (owner->stopped_) return;
  auto session = owner->sessions_.get(address);
  const bool linked = session.ok() && session->state == SessionState::kConnected;
  if (linked) {
    // Enabling failed (BlueZ or ATT error): tried again on the next link.
    detail = why(status);
    log::warn("kept_subscription.failed", {{"address", address.toString()},
                                           {"characteristic", spec.characteristic.describe()},
                                           {"error", status}});
  } else {
    detail.clear();  // ended with the link ("not connected"); started again on the next one
  }
  owner->changed(address);
}

void KeptSubscriptions::changed(const Address& address) {
  if (stopped_) return;
  dirty_.insert(address);
  if (reportTimer_.held()) return;
  reportTimer_ = executor_.runAfter(absl::ZeroDuration(), [this] {
    reportTimer_ = Timer();
    flush();
  });
}

void KeptSubscriptions::flush() {
  auto dirty = std::move(dirty_);
  dirty_.clear();
  for (const Address& a : dirty) {
    std::vector<KeptSubscriptionInfo> out;
    if (auto it = kept_.find(a); it != kept_.end()) {
      for (const auto& k : it->second) out.push_back({k->spec, k->active, k->detail});
    }
    sessions_.setKeptSubscriptions(a, std::move(out));
  }
}

}  // namespace gattway
