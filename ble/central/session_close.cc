// Closing links (device-api.txt, Disconnect): a session that ends asks BlueZ to disconnect, and
// its connection slot stays taken until BlueZ reports the link gone (or a bound passes); a
// Disconnect call is answered then. A connect to a device whose link is still closing waits.
#include "absl/strings/str_cat.h"
#include "ble/central/session_manager.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {
namespace {

// How long a closing link may take before its slot is freed anyway (BlueZ waits 2 s before it
// tears the ACL down, device-api.txt Disconnect).
constexpr absl::Duration kCloseTimeout = absl::Seconds(10);

}  // namespace

void SessionManager::closeLink(const std::shared_ptr<Session>& s, ConnectScheduler::Turn turn,
                               bool linkDown, SessionCallback done, SessionInfo removed) {
  // No orphaned links: ask BlueZ to close it (also cancels a pending connect and BlueZ's
  // auto-connect, device-api.txt Disconnect). The slot stays taken until the link is down.
  const std::uint64_t id = nextId_++;
  Closing& c = closing_[id];
  c.address = s->address();
  if (linkDown) {
    s->slot_.reset();
  } else {
    c.slot = std::move(s->slot_);
  }
  c.turn = std::move(turn);
  c.removed = std::move(removed);
  if (done) c.done.push_back(std::move(done));
  auto finish = [this, id](bool replied) {
    auto it = closing_.find(id);
    if (it == closing_.end()) return;
    if (replied) it->second.op.release();
    auto callbacks = std::move(it->second.done);
    SessionInfo info = std::move(it->second.removed);
    const Address address = it->second.address;
    closing_.erase(it);
    for (auto& cb : callbacks) cb(info);
    // A persistent session whose backoff ended while its old link was closing goes now.
    auto sit = sessions_.find(address);
    if (sit != sessions_.end() && sit->second->requeueAfterClose_ && !closing(address)) {
      sit->second->requeueAfterClose_ = false;
      requeue(sit->second, SessionReason::kProgress);
    }
  };
  c.op = backend_.disconnect(s->adapter(), s->address(), [finish](absl::Status status) mutable {
    if (!status.ok()) log::warn("session.disconnect_failed", {{"error", status}});
    finish(true);
  });
  c.timeout = executor_.runAfter(kCloseTimeout, [finish]() mutable { finish(false); });
}

bool SessionManager::closing(const Address& address) const {
  for (const auto& [id, c] : closing_) {
    if (c.address == address) return true;
  }
  return false;
}

void SessionManager::disconnect(const Address& address, SessionCallback done) {
  auto it = sessions_.find(address);
  if (it == sessions_.end()) {
    done(err::make(err::Reason::kDeviceNotFound,
                   absl::StrCat("no session for ", address.toString()),
                   {{err::kMetaAddress, address.toString()}}));
    return;
  }
  auto s = it->second;
  const std::string a = address.toString();
  end(s,
      Ending{SessionReason::kRequested, "disconnected by a caller",
             err::make(err::Reason::kSessionEnded,
                       absl::StrCat("the session to ", a, " was ended by Disconnect before it connected"),
                       {{err::kMetaAddress, a}}),
             err::make(err::Reason::kSessionEnded,
                       absl::StrCat("the session to ", a, " was ended by Disconnect"),
                       {{err::kMetaAddress, a}}),
             true},
      std::move(done));
}

}  // namespace gattway
