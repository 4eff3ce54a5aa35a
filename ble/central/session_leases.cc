// The ephemeral half of SessionManager (session.proto, idle_timeout): a session made by Connect
// without `persistent` lives while something holds it (a stream, a batch: leases) or until it has
// been idle past its timeout; and the handles (LeaseHold, LinkWatch, watcher ids) that release
// themselves.
#include "absl/strings/str_cat.h"
#include "ble/central/session_manager.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

void SessionManager::dropLease(const std::weak_ptr<Session>& session) {
  if (auto s = session.lock()) releaseLease(s);
}

void SessionManager::unwatchLink(const LinkKey& key) {
  if (auto s = key.session.lock()) s->linkWatchers_.erase(key.id);
}

void SessionManager::unwatch(const std::uint64_t& id) { watchers_.erase(id); }

void SessionManager::touch(Session& s) {
  s.lastUse_ = executor_.now();
  if (s.leaseHolds_ == 0 && !s.leaseTimer_.held()) armLease(s.shared_from_this());
}

SessionManager::LeaseHold SessionManager::holdLease(const std::shared_ptr<Session>& s) {
  ++s->leaseHolds_;
  s->leaseTimer_.cancel();
  return LeaseHold(this, s);
}

void SessionManager::releaseLease(const std::shared_ptr<Session>& s) {
  if (s->leaseHolds_ > 0) --s->leaseHolds_;
  // Checked on the next turn: a session whose idle time ran out while held ends as its last
  // stream ends (session.proto), but not from inside the code releasing the hold.
  if (s->leaseHolds_ == 0) armLease(s);
}

SessionManager::LinkWatch SessionManager::watchLink(
    const std::shared_ptr<Session>& s, absl::AnyInvocable<void(const absl::Status&)> ended) {
  const std::uint64_t id = nextId_++;
  s->linkWatchers_.emplace(id, std::move(ended));
  return LinkWatch(this, LinkKey{s, id});
}

void SessionManager::armLease(const std::shared_ptr<Session>& s) {
  // Persistent sessions have no lease: they end only on Disconnect (session.proto).
  if (!s->connected() || s->leaseHolds_ > 0 || s->ending_ || s->info_.persistent) return;
  const absl::Duration delay = s->lastUse_ + s->info_.idleTimeout - executor_.now();
  std::weak_ptr<Session> weak = s;
  s->leaseTimer_ = executor_.runAfter(delay, [this, weak] { leaseCheck(weak); });
}

void SessionManager::leaseCheck(const std::weak_ptr<Session>& weak) {
  auto s = weak.lock();
  if (!s) return;
  s->leaseTimer_ = Timer();
  if (s->leaseHolds_ > 0 || !s->connected() || s->info_.persistent) return;
  if (executor_.now() < s->lastUse_ + s->info_.idleTimeout) {
    armLease(s);
    return;
  }
  const std::string a = s->address().toString();
  const std::string idle = absl::FormatDuration(s->info_.idleTimeout);
  const absl::Status expired =
      err::make(err::Reason::kSessionEnded,
                absl::StrCat("the session to ", a, " ended: its lease expired (idle for ", idle, ")"),
                {{err::kMetaAddress, a}});
  end(s, Ending{SessionReason::kLeaseExpired, absl::StrCat("idle for ", idle), expired, expired,
                true});
}

}  // namespace gattway
