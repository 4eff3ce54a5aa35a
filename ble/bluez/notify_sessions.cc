#include "ble/bluez/notify_sessions.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "ble/bluez/paths.h"
#include "ble/bluez/proxies/gatt_characteristic1.h"
#include "ble/error.h"

namespace gattway::bluez {
namespace {

// An ATT MTU is at most 517 bytes; a notification carries at most MTU−3.
constexpr std::size_t kPacketBuffer = 1024;
// Packets read per turn before the loop gets back to other work.
constexpr int kPacketsPerTurn = 64;
constexpr absl::Duration kStopTimeout = absl::Seconds(10);

bool noSession(const absl::Status& status) {
  return err::metadata(status, err::kMetaBluezError) == "org.bluez.Error.Failed" &&
         err::metadata(status, err::kMetaBluezMessage) == "No notify session started";
}

}  // namespace

NotifySessions::NotifySessions(BackendContext& context)
    : context_(context), buffer_(kPacketBuffer) {}

NotifySessions::Session* NotifySessions::find(absl::string_view path) {
  auto it = sessions_.find(path);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void NotifySessions::start(const std::string& path, const std::string& adapter,
                           const Address& address, std::uint16_t handle, NotifyMethod method,
                           absl::Duration timeout, Done done) {
  auto& slot = sessions_[path];
  if (!slot) slot = std::make_unique<Session>();
  if (!slot->applied && !slot->call.pending()) {
    slot->adapter = adapter;
    slot->address = address;
    slot->handle = handle;
    slot->method = method;
  }
  slot->timeout = timeout;
  slot->wanted = true;
  slot->waiters.push_back(std::move(done));
  schedule(path);
}

void NotifySessions::stop(const std::string& path, Done done) {
  Session* s = find(path);
  if (s == nullptr) {
    // Nothing to stop; answer on the next turn like everything else.
    auto& slot = sessions_[path];
    slot = std::make_unique<Session>();
    slot->wanted = false;
    s = slot.get();
  }
  s->wanted = false;
  s->waiters.push_back(std::move(done));
  schedule(path);
}

void NotifySessions::schedule(const std::string& path) {
  Session* s = find(path);
  if (s == nullptr || s->turn.held()) return;
  s->turn = context_.loop().runAfter(absl::ZeroDuration(), [this, path] {
    if (Session* t = find(path)) t->turn = Timer();
    reconcile(path);
  });
}

void NotifySessions::reconcile(const std::string& path) {
  Session* s = find(path);
  if (s == nullptr || s->call.pending()) return;
  if (s->wanted == s->applied) {
    auto waiters = std::move(s->waiters);
    s->waiters.clear();
    if (!s->wanted) sessions_.erase(path);
    for (auto& done : waiters) done(absl::OkStatus());
    return;
  }
  if (s->wanted) return subscribe(path, *s);
  unsubscribe(path, *s);
}

void NotifySessions::subscribe(const std::string& path, Session& s) {
  GattCharacteristic1Proxy proxy(context_.calls(), path);
  if (s.method == NotifyMethod::kAcquireNotify) {
    s.call = proxy.acquireNotify(s.timeout, [this, path](absl::StatusOr<AcquiredNotify> acquired) {
      if (!acquired.ok()) return end(path, acquired.status());
      Session* t = find(path);
      if (t == nullptr) return;
      watch(path, *t, std::move(acquired->fd));
      t->applied = true;
      reconcile(path);
    });
    return;
  }
  s.call = proxy.startNotify(s.timeout, [this, path](absl::Status status) {
    if (!status.ok()) return end(path, status);
    if (Session* t = find(path)) t->applied = true;
    reconcile(path);
  });
}

void NotifySessions::unsubscribe(const std::string& path, Session& s) {
  if (s.acquired) {
    // Closing the socket releases the acquired notifications (gatt-api.txt, AcquireNotify).
    retire(std::move(s.acquired));
    s.applied = false;
    return reconcile(path);
  }
  s.call = GattCharacteristic1Proxy(context_.calls(), path)
               .stopNotify(kStopTimeout, [this, path](absl::Status status) {
                 if (!status.ok() && !noSession(status)) return end(path, status);
                 if (Session* t = find(path)) t->applied = false;
                 reconcile(path);
               });
}

void NotifySessions::watch(const std::string& path, Session& s, UniqueFd fd) {
  auto acquired = std::make_unique<Acquired>();
  acquired->fd = std::move(fd);
  acquired->watch = std::make_unique<FdWatch>(
      context_.loop(), acquired->fd.get(), POLLIN,
      [this, path](short revents) { return readPackets(path, revents); });
  s.acquired = std::move(acquired);
}

bool NotifySessions::readPackets(const std::string& path, short revents) {
  Session* s = find(path);
  if (s == nullptr || !s->acquired) return false;
  const int fd = s->acquired->fd.get();
  for (int i = 0; i < kPacketsPerTurn; ++i) {
    const ssize_t n = ::recv(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n > 0) {
      if (s->wanted) {
        if (CentralBackendListener* l = context_.listener()) {
          l->onNotification(s->adapter, s->address, s->handle,
                            absl::MakeConstSpan(buffer_.data(), static_cast<std::size_t>(n)));
        }
      }
      // The listener may have ended the session (or everything).
      s = find(path);
      if (s == nullptr || !s->acquired) return false;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if ((revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) hungUp(path);
      return false;
    }
    if (n < 0 && errno == EINTR) continue;
    hungUp(path);  // 0: BlueZ shut the socket (link gone, or someone's StopNotify)
    return false;
  }
  return true;
}

void NotifySessions::hungUp(const std::string& path) {
  Session* s = find(path);
  if (s == nullptr || !s->acquired) return;
  retire(std::move(s->acquired));
  s->applied = false;
  s->wanted = false;
  schedule(path);
}

void NotifySessions::end(const std::string& path, const absl::Status& status) {
  auto it = sessions_.find(path);
  if (it == sessions_.end()) return;
  auto session = std::move(it->second);
  sessions_.erase(it);
  if (session->acquired) retire(std::move(session->acquired));
  for (auto& done : session->waiters) done(status);
}

void NotifySessions::retire(std::unique_ptr<Acquired> acquired) {
  if (!acquired) return;
  // Kept (fd open, watch registered) until the next turn: this may run inside the watch's own
  // dispatch. The next turn runs timers before it dispatches sources.
  retired_.push_back(std::move(acquired));
  if (!reaper_.held()) {
    reaper_ = context_.loop().runAfter(absl::ZeroDuration(), [this] {
      reaper_ = Timer();
      retired_.clear();
    });
  }
}

bool NotifySessions::deliver(absl::string_view path, absl::Span<const std::uint8_t> value) {
  Session* s = find(path);
  if (s == nullptr || !s->wanted || s->method != NotifyMethod::kStartNotify) return false;
  if (CentralBackendListener* l = context_.listener()) {
    l->onNotification(s->adapter, s->address, s->handle, value);
  }
  return true;
}

void NotifySessions::characteristicRemoved(absl::string_view adapter, const Address& address,
                                           std::uint16_t handle) {
  std::vector<std::string> gone;
  for (const auto& [path, s] : sessions_) {
    if (s->adapter == adapter && s->address == address && s->handle == handle) gone.push_back(path);
  }
  for (const auto& path : gone) {
    end(path, err::make(err::Reason::kAttributeNotFound, "the characteristic went away"));
  }
}

void NotifySessions::deviceRemoved(absl::string_view adapter, const Address& address) {
  std::vector<std::string> gone;
  for (const auto& [path, s] : sessions_) {
    if (s->adapter == adapter && s->address == address) gone.push_back(path);
  }
  for (const auto& path : gone) {
    end(path, err::make(err::Reason::kDeviceNotFound, "the device went away"));
  }
}

void NotifySessions::bluezDown() {
  for (auto& [path, s] : sessions_) {
    if (s->acquired) retire(std::move(s->acquired));
  }
  sessions_.clear();
}

void NotifySessions::releaseAll() {
  for (auto& [path, s] : sessions_) {
    if (s->acquired) {
      retire(std::move(s->acquired));
    } else if (s->applied || s->call.pending()) {
      GattCharacteristic1Proxy(context_.calls(), path)
          .stopNotify(kStopTimeout, [](absl::Status) {})
          .release();
    }
  }
  sessions_.clear();
}

}  // namespace gattway::bluez
