// The gateway's notification sessions, one per characteristic (the domain shares each between its
// streams; bluez-5.66-api.md §8.6: one StartNotify per characteristic per process).
//   - StartNotify (the default): values arrive as PropertiesChanged(Value) on the characteristic,
//     once per notification even when the bytes repeat. The session exists before the call, so
//     values that arrive before its reply are delivered (bleak does the same). BlueZ keeps the
//     session across disconnects and subscribes again on the next connection.
//   - AcquireNotify (on request): BlueZ hands over a SOCK_SEQPACKET socket, one notification per
//     packet, read through the EventLoop. It drops notifications that come before the CCC write's
//     response, and the socket closes with the link (or anyone's StopNotify): the session ends.
// Like DiscoverySessions, what is wanted is kept apart from what BlueZ has, one call at a time per
// characteristic. Loop thread only; callbacks never run inside the call that registered them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ble/address.h"
#include "ble/bluez/backend_context.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/fd_watch.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

class NotifySessions {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;

  explicit NotifySessions(BackendContext& context);
  NotifySessions(const NotifySessions&) = delete;
  NotifySessions& operator=(const NotifySessions&) = delete;

  // Starts the session on the characteristic at `path` (or joins the one there: its method stays).
  void start(const std::string& path, const std::string& adapter, const Address& address,
             std::uint16_t handle, NotifyMethod method, absl::Duration timeout, Done done);
  // Ends it; OK when there is none.
  void stop(const std::string& path, Done done);

  // The hot path: a Value change on `path`. Returns whether one of our sessions took it.
  bool deliver(absl::string_view path, absl::Span<const std::uint8_t> value);

  // What BlueZ reports: the sessions go with their objects.
  void characteristicRemoved(absl::string_view adapter, const Address& address,
                             std::uint16_t handle);
  void deviceRemoved(absl::string_view adapter, const Address& address);
  void bluezDown();  // every session is gone; waiters are dropped (their operations fail anyway)
  // stop(): StopNotify for every session, without waiting, and forget them.
  void releaseAll();

  std::size_t size() const { return sessions_.size(); }

 private:
  struct Acquired {
    UniqueFd fd;
    std::unique_ptr<FdWatch> watch;
  };
  struct Session {
    std::string adapter;
    Address address;
    std::uint16_t handle = 0;
    NotifyMethod method = NotifyMethod::kStartNotify;
    absl::Duration timeout;
    bool wanted = true;
    bool applied = false;
    PendingCall call;
    Timer turn;
    std::vector<Done> waiters;
    std::unique_ptr<Acquired> acquired;
  };

  void schedule(const std::string& path);
  void reconcile(const std::string& path);
  void subscribe(const std::string& path, Session& s);
  void unsubscribe(const std::string& path, Session& s);
  void watch(const std::string& path, Session& s, UniqueFd fd);
  bool readPackets(const std::string& path, short revents);
  // Ends a session whose socket closed.
  void hungUp(const std::string& path);
  void end(const std::string& path, const absl::Status& status);
  // Drops a socket and its watch on the next turn (never inside the watch's own dispatch).
  void retire(std::unique_ptr<Acquired> acquired);
  Session* find(absl::string_view path);

  BackendContext& context_;
  absl::flat_hash_map<std::string, std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<Acquired>> retired_;
  Timer reaper_;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace gattway::bluez
