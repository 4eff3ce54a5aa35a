// The persistent half of SessionManager's state machine (session.proto, SessionState):
//   DISCONNECTED → BACKING_OFF → QUEUED → … after a drop or a failed attempt,
//   → GAVE_UP when the policy's max_attempts are used up,
//   → WAITING_FOR_ADAPTER while the adapter is off or BlueZ is gone.
// Which policy applies is asked again at every attempt, so a changed policy applies from the next
// attempt on.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/central/scan_hub.h"
#include "ble/central/session_manager.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {
namespace {

void addFacts(DeviceFacts& f, const AdvertisementData& ad) {
  if (f.name.empty()) f.name = ad.name;
  for (const Uuid& u : ad.serviceUuids) {
    if (std::find(f.serviceUuids.begin(), f.serviceUuids.end(), u) == f.serviceUuids.end()) {
      f.serviceUuids.push_back(u);
    }
  }
  for (const auto& [id, bytes] : ad.manufacturerData) {
    if (std::find(f.manufacturerIds.begin(), f.manufacturerIds.end(), id) ==
        f.manufacturerIds.end()) {
      f.manufacturerIds.push_back(id);
    }
  }
}

}  // namespace

DeviceFacts SessionManager::deviceFacts(const Address& address) const {
  DeviceFacts f;
  f.address = address;
  auto sit = sessions_.find(address);
  if (sit != sessions_.end()) {
    f.labels = sit->second->info_.labels;
    // Services the device offers count like advertised ones (DeviceSelector.service_uuids).
    for (const auto& service : sit->second->services_) f.serviceUuids.push_back(service.uuid);
  }
  for (const auto& a : backend_.adapters()) {
    if (const DeviceInfo* d = backend_.device(a.name, address); d != nullptr) {
      addFacts(f, d->advertisement);
    } else if (const ScanRecord* r = scanHub_.record(a.name, address); r != nullptr) {
      addFacts(f, r->data());
    }
  }
  return f;
}

ReconnectSettings SessionManager::settingsFor(const Address& address) const {
  auto sit = sessions_.find(address);
  const std::string explicitPolicy =
      sit == sessions_.end() ? std::string() : sit->second->info_.explicitPolicy;
  const PolicyResolution r = policies_.resolve(deviceFacts(address), explicitPolicy);
  return r.policy != nullptr ? r.policy->reconnect : ReconnectSettings{};
}

void SessionManager::refreshPolicy(Session& s) {
  DeviceFacts f = deviceFacts(s.address());
  f.labels = s.info_.labels;  // also before the session is in the map
  const PolicyResolution r = policies_.resolve(f, s.info_.explicitPolicy);
  s.info_.policy = r.policy != nullptr ? r.policy->name : std::string();
  s.info_.priority = s.info_.requestedPriority.value_or(r.policy != nullptr ? r.policy->priority : 0);
}

void SessionManager::onPoliciesChanged() {
  std::vector<std::shared_ptr<Session>> all;
  for (const auto& [address, s] : sessions_) all.push_back(s);
  for (auto& s : all) {
    refreshPolicy(*s);
    // A session that gave up starts afresh on a policy change (session.proto, GiveUpAction KEEP).
    if (s->info_.state == SessionState::kGaveUp && sessions_.count(s->address()) != 0) {
      s->info_.failedAttempts = 0;
      requeue(s, SessionReason::kPolicyChanged);
    }
  }
}

void SessionManager::persistentChanged() {
  // Sessions ending because the gateway stops are not a change of fleet.
  if (shuttingDown_) return;
  for (auto& l : persistentListeners_) l();
}

void SessionManager::retreat(const std::shared_ptr<Session>& s, Ending ending) {
  const SessionState state = s->info_.state;
  const bool offline = ending.reason == SessionReason::kAdapterOff ||
                       ending.reason == SessionReason::kBluezDown;
  if (state == SessionState::kBackingOff || state == SessionState::kGaveUp ||
      state == SessionState::kWaitingForAdapter) {
    // No link and no attempt: only the adapter going away changes anything.
    if (offline && state == SessionState::kBackingOff) {
      s->backoffTimer_.cancel();
      s->info_.nextAttemptTime.reset();
      setState(*s, SessionState::kWaitingForAdapter, ending.reason, ending.detail);
    }
    return;
  }
  Detached d = detach(*s);
  setState(*s, SessionState::kDisconnected, ending.reason, ending.detail);
  log::info("session.disconnected", {{"address", s->address().toString()},
                                     {"adapter", s->adapter()},
                                     {"detail", ending.detail},
                                     {"failed_attempts", s->info_.failedAttempts}});
  // Work on the link learns why; callers waiting for this attempt get its error (the session
  // stays and keeps trying: session.proto, Connect).
  tell(d, ending);
  if (s->linkRequested_ && ending.closeLink) {
    closeLink(s, std::move(d.turn), ending.linkDown, nullptr, snapshot(*s));
  } else {
    s->slot_.reset();
  }
  s->linkRequested_ = false;
  auto it = sessions_.find(s->address());
  if (it == sessions_.end() || it->second != s || s->ending_) return;  // ended meanwhile
  if (offline) {
    setState(*s, SessionState::kWaitingForAdapter, ending.reason, ending.detail);
    return;
  }
  planNext(s);
}

void SessionManager::planNext(const std::shared_ptr<Session>& s) {
  const ReconnectSettings settings = settingsFor(s->address());
  if (shouldGiveUp(settings, s->info_.failedAttempts)) {
    giveUp(s, settings);
    return;
  }
  // A link that was up starts again at n = 1 (session.proto, ReconnectSettings); attempts the
  // adapter refused as busy grow the delay too.
  const absl::Duration delay = backoffDelay(
      settings, std::max<std::uint32_t>(1, s->info_.failedAttempts + s->busyAttempts_), random_);
  s->info_.nextAttemptTime = executor_.now() + delay;
  setState(*s, SessionState::kBackingOff, s->info_.reason, s->info_.detail);
  std::weak_ptr<Session> weak = s;
  s->backoffTimer_ = executor_.runAfter(delay, [this, weak] {
    auto live = weak.lock();
    if (!live) return;
    live->backoffTimer_ = Timer();
    requeue(live, SessionReason::kProgress);
  });
}

void SessionManager::requeue(const std::shared_ptr<Session>& s, SessionReason reason) {
  s->backoffTimer_.cancel();
  s->info_.nextAttemptTime.reset();
  if (shuttingDown_ || s->ending_) return;
  if (closing(s->address())) {
    // The last link is still being closed: a connect now would meet it (closeLink resumes us).
    s->requeueAfterClose_ = true;
    return;
  }
  s->requeueAfterClose_ = false;
  if (!backend_.bluezUp()) {
    setState(*s, SessionState::kWaitingForAdapter, SessionReason::kBluezDown,
             "BlueZ is not on the D-Bus");
    return;
  }
  auto adapter = chooseAdapter(s->info_.requestedAdapter, s->address());
  if (!adapter.ok()) {
    setState(*s, SessionState::kWaitingForAdapter, SessionReason::kAdapterOff,
             std::string(adapter.status().message()));
    return;
  }
  refreshPolicy(*s);
  s->info_.adapter = *adapter;
  std::weak_ptr<Session> weak = s;
  auto ticket = scheduler_.request(*adapter, s->info_.priority, true,
                                   [this, weak](ConnectScheduler::Grant grant) {
                                     if (auto live = weak.lock()) granted(live, std::move(grant));
                                   });
  if (!ticket.ok()) {  // not expected: waiting requests are always queued
    setState(*s, SessionState::kWaitingForAdapter, SessionReason::kAdapterOff,
             std::string(ticket.status().message()));
    return;
  }
  s->ticket_ = std::move(*ticket);
  setState(*s, SessionState::kQueued, reason);
}

void SessionManager::giveUp(const std::shared_ptr<Session>& s, const ReconnectSettings& settings) {
  metrics_.giveUps.add();
  const std::string a = s->address().toString();
  const std::string why =
      absl::StrCat("gave up after ", s->info_.failedAttempts, " failed attempts (max_attempts ",
                   settings.maxAttempts, "); last error: ", s->info_.detail);
  log::warn("session.gave_up", {{"address", a}, {"detail", why}});
  switch (settings.onGiveUp) {
    case GiveUpAction::kRemove: {
      const absl::Status gone = err::make(err::Reason::kSessionEnded,
                                          absl::StrCat("the session to ", a, " ", why),
                                          {{err::kMetaAddress, a}});
      end(s, Ending{SessionReason::kMaxAttempts, why, gone, gone, false, true, true});
      return;
    }
    case GiveUpAction::kCoolDown: {
      s->info_.nextAttemptTime = executor_.now() + settings.giveUpCooldown;
      setState(*s, SessionState::kGaveUp, SessionReason::kMaxAttempts, why);
      std::weak_ptr<Session> weak = s;
      s->backoffTimer_ = executor_.runAfter(settings.giveUpCooldown, [this, weak] {
        auto live = weak.lock();
        if (!live) return;
        live->backoffTimer_ = Timer();
        live->info_.failedAttempts = 0;
        requeue(live, SessionReason::kProgress);
      });
      return;
    }
    case GiveUpAction::kKeep:
      setState(*s, SessionState::kGaveUp, SessionReason::kMaxAttempts, why);
      return;
  }
}

void SessionManager::resumeWaiting(const std::string& adapter) {
  if (shuttingDown_ || !backend_.bluezUp()) return;
  std::vector<std::shared_ptr<Session>> waiting;
  for (const auto& [address, s] : sessions_) {
    if (s->info_.state != SessionState::kWaitingForAdapter) continue;
    if (!adapter.empty() && !s->info_.requestedAdapter.empty() &&
        s->info_.requestedAdapter != adapter) {
      continue;
    }
    waiting.push_back(s);
  }
  // The scheduler orders them by priority; storm control (Central) spreads the grants.
  for (auto& s : waiting) requeue(s, SessionReason::kProgress);
  if (!adapter.empty()) rebalance(adapter);
}

void SessionManager::rebalance(const std::string& adapter) {
  // Adapters appear one by one (bluetoothd exports them after taking its name, and a dongle can
  // be plugged in later), so the sessions coming back all queue on the first. Persistent sessions
  // queued on a busier adapter move to the one that just came while that evens the queues out
  // (each adapter connects one at a time: the fleet is back soonest when the queues are equal),
  // and while it has room.
  const auto load = [this](const std::string& a) {
    return std::size_t{scheduler_.inUse(a)} + scheduler_.queued(a);
  };
  std::vector<std::shared_ptr<Session>> movable;
  for (const auto& [address, s] : sessions_) {
    if (s->info_.state != SessionState::kQueued || !s->info_.persistent ||
        !s->info_.requestedAdapter.empty() || s->adapter() == adapter) {
      continue;
    }
    if (load(s->adapter()) <= load(adapter) + 1) continue;
    movable.push_back(s);
  }
  // Lowest priority first: those would have waited longest where they were.
  std::stable_sort(movable.begin(), movable.end(), [](const auto& a, const auto& b) {
    return a->info_.priority < b->info_.priority;
  });
  for (auto& s : movable) {
    if (scheduler_.available(adapter) == 0) break;
    if (load(s->adapter()) <= load(adapter) + 1) continue;
    s->ticket_ = ConnectScheduler::Ticket();
    requeue(s, SessionReason::kProgress);
  }
}

}  // namespace gattway
