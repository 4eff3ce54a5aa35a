// SubscriptionHub: one BlueZ notify session per (device, characteristic), shared by every stream
// that subscribes to it. The first subscriber starts it (StartNotify, or AcquireNotify on
// request), later ones join, the last one to leave stops it. Each value BlueZ delivers is handed
// to every subscriber of that characteristic. A dropped link ends them all, unless the session is
// persistent: then the streams are interrupted, and resumed (notifications enabled again) when the
// session is CONNECTED again. Subscriptions a policy keeps (KeptSubscriptions) share the same
// notify sessions as streams; they end with each link and are started afresh on the next.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ble/central/attribute_resolver.h"
#include "ble/central/handle.h"
#include "ble/central/session_manager.h"
#include "ble/central/subscribe_mode.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

struct SubscriptionStarted {
  NotifyMethod method = NotifyMethod::kStartNotify;  // the shared session's, maybe not the one asked
  std::uint16_t handle = 0;                          // the characteristic's
  bool indicate = false;
};

// Receives one subscriber's values. Loop thread; return quickly.
class NotificationSink {
 public:
  virtual ~NotificationSink() = default;
  // Notifications are on; values follow.
  virtual void onSubscribed(const SubscriptionStarted& started) = 0;
  virtual void onNotification(absl::Span<const std::uint8_t> value, absl::Time time) = 0;
  // The subscription ended by itself: enabling failed, the link dropped, the session ended or the
  // gateway is shutting down. No call follows.
  virtual void onSubscriptionEnded(const absl::Status& status) = 0;
  // Persistent sessions: the link dropped (`why`); values stop until onResumed.
  virtual void onInterrupted(const absl::Status& why) { (void)why; }
  // The link is back and notifications are on again, after `interruption`.
  virtual void onResumed(const SubscriptionStarted& started, absl::Duration interruption) {
    (void)started;
    (void)interruption;
  }
};

struct SubscribeOptions {
  Address address;
  AttributeQuery characteristic;
  SubscribeMode mode = SubscribeMode::kAuto;
  bool acquire = false;  // AcquireNotify instead of StartNotify (when this starts the session)
  absl::Duration timeout = absl::Seconds(10);  // bounds enabling notifications
  // Kept by a policy (KeptSubscriptions), not a stream: it holds no lease, it ends with the link
  // (its owner starts it afresh on the next one) instead of being interrupted, and values that
  // reach no other subscriber are counted (Metrics::notificationsUnclaimed) and dropped.
  bool kept = false;
};

class SubscriptionHub final : public SessionWatcher {
  void unsubscribe(const std::uint64_t& id);

 public:
  // A live subscription; destroying it unsubscribes.
  using Handle = OwnedHandle<SubscriptionHub, std::uint64_t, &SubscriptionHub::unsubscribe>;

  // Subscriptions per session (gatt.proto, Subscribe).
  static constexpr std::size_t kMaxPerSession = 256;

  SubscriptionHub(Executor& executor, CentralBackend& backend, SessionManager& sessions,
                  Metrics& metrics);
  ~SubscriptionHub() override;
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // Errors found at once (no session, not connected, no such characteristic, neither notify nor
  // indicate, limits) are returned; later ones arrive through sink->onSubscriptionEnded. The
  // subscription holds the session's lease. `sink` must outlive the subscription.
  absl::StatusOr<Handle> subscribe(const SubscribeOptions& options, NotificationSink* sink);

  // From the backend listener (Central). Hot path.
  void onNotification(const std::string& adapter, const Address& address, std::uint16_t handle,
                      absl::Span<const std::uint8_t> value);

  // Ends every subscription with `status` (gateway shutdown).
  void shutdown(const absl::Status& status);

  std::size_t subscriberCount() const { return subscribers_.size(); }
  std::size_t notifySessionCount() const { return notify_.size(); }

  // SessionWatcher: resumes interrupted subscriptions when their session is CONNECTED again, and
  // ends them when it is removed.
  void onSessionEvent(const SessionEvent& event) override;

 private:
  struct Key {
    Address address;
    std::uint16_t handle = 0;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.address, k.handle);
    }
  };
  struct Subscriber {
    std::uint64_t id = 0;
    Key key;
    NotificationSink* sink = nullptr;
    SessionManager::LeaseHold lease;
    bool kept = false;  // SubscribeOptions::kept
  };
  enum class State : std::uint8_t { kStarting, kActive, kStopping, kInterrupted };
  struct NotifySession {
    std::string adapter;
    Key key;
    NotifyMethod method = NotifyMethod::kStartNotify;
    bool indicate = false;
    State state = State::kStarting;
    absl::Duration timeout;
    absl::Time startedAt;
    absl::Time interruptedAt;
    bool resuming = false;
    std::vector<Subscriber*> subscribers;  // join order; null while dispatching = left
    Operation op;
    SessionManager::LinkWatch linkWatch;
    int dispatching = 0;
  };

  void start(NotifySession& ns);
  void started(const Key& key, const absl::Status& status);
  void stop(NotifySession& ns);
  void stopped(const Key& key);
  void endAll(const Key& key, const absl::Status& status, bool stopNotify);
  void linkEnded(const Key& key, const absl::Status& status);
  void releaseInBluez(NotifySession& ns);
  void resume(NotifySession& ns);
  void end(std::uint64_t id, const absl::Status& status);
  std::size_t countFor(const Address& address) const;

  Executor& executor_;
  CentralBackend& backend_;
  SessionManager& sessions_;
  Metrics& metrics_;
  absl::flat_hash_map<std::uint64_t, std::unique_ptr<Subscriber>> subscribers_;
  absl::flat_hash_map<Key, std::unique_ptr<NotifySession>> notify_;
  // StopNotify calls sent after a link drop, kept until BlueZ answers.
  std::map<std::uint64_t, Operation> cleanup_;
  std::uint64_t nextId_ = 1;
  SessionManager::WatcherHandle watch_;
};

using Subscription = SubscriptionHub::Handle;

}  // namespace gattway
