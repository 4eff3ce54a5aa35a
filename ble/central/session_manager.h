// SessionManager: sessions and their state machine
//   QUEUED → CONNECTING → RESOLVING_SERVICES → CONNECTED → DISCONNECTED (→ REMOVED),
// leases (idle timeout, held by open streams), link-loss handling, and the events WatchSessions
// streams. The ConnectScheduler decides when a queued session may connect; the backend opens the
// link. Persistent sessions go DISCONNECTED → BACKING_OFF → QUEUED … instead of REMOVED, by their
// policy (PolicyStore); that half of the machine is in session_reconnect.cc.
//
// Loop thread only. Callbacks may run before the call that takes them returns (for answers known
// at once) or on a later turn.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "ble/central/connect_scheduler.h"
#include "ble/central/handle.h"
#include "ble/central/policy_store.h"
#include "ble/central/reconnect_policy.h"
#include "ble/central/session.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

class ScanHub;

// Told about every session state change, and about changes of a session's kept subscriptions
// (an event whose previous state is its state). Loop thread; return quickly.
class SessionWatcher {
 public:
  virtual ~SessionWatcher() = default;
  virtual void onSessionEvent(const SessionEvent& event) = 0;
};

class SessionManager {
  struct LinkKey {
    std::weak_ptr<Session> session;
    std::uint64_t id = 0;
  };
  void dropLease(const std::weak_ptr<Session>& session);
  void unwatchLink(const LinkKey& key);
  void unwatch(const std::uint64_t& id);

 public:
  // Sessions the gateway holds at most (session.proto, Connect: RESOURCE_EXHAUSTED beyond): a
  // bound on its memory with room for 64 adapters' worth of links (the README's fleet benchmark
  // measures 1,000).
  static constexpr std::size_t kMaxSessions = 4096;

  // Keeps an ephemeral session's lease while held (an open Subscribe stream, a running batch).
  // Releasing the last hold after the idle timeout has passed ends the session (session.proto).
  using LeaseHold = OwnedHandle<SessionManager, std::weak_ptr<Session>, &SessionManager::dropLease>;
  // Runs its callback once when the session's current link ends (dropped, disconnected, lease
  // expired, BlueZ gone), with the status pending work should fail with. Destroying it first
  // cancels that.
  using LinkWatch = OwnedHandle<SessionManager, LinkKey, &SessionManager::unwatchLink>;
  // A registered watcher; destroying it unregisters.
  using WatcherHandle = OwnedHandle<SessionManager, std::uint64_t, &SessionManager::unwatch>;

  SessionManager(Executor& executor, CentralBackend& backend, ConnectScheduler& scheduler,
                 const ScanHub& scanHub, const PolicyStore& policies, Metrics& metrics);
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  // Opens a session or returns the existing one (session.proto, Connect). `done` gets the session
  // once CONNECTED (at once with noWait), or the first attempt's error.
  void connect(ConnectOptions options, SessionCallback done);
  // Ends a session; `done` gets it as it ended (state REMOVED) once the link is closed.
  void disconnect(const Address& address, SessionCallback done);
  absl::StatusOr<SessionInfo> get(const Address& address) const;
  std::vector<SessionInfo> list() const;  // ordered by address
  WatcherHandle watch(SessionWatcher* watcher);
  std::size_t sessionCount() const { return sessions_.size(); }

  // What the gateway knows of a device for choosing its policy: its latest advertisement on any
  // adapter and its session's labels.
  DeviceFacts deviceFacts(const Address& address) const;
  // The reconnect settings a session's next attempt uses (its policy's, else the defaults).
  ReconnectSettings settingsFor(const Address& address) const;
  // Policies changed: sessions pick up their policy's name and priority again.
  void onPoliciesChanged();
  // Told when the set of persistent sessions, or what is saved of one, changes (the state file).
  void onPersistentChange(std::function<void()> listener) {
    persistentListeners_.push_back(std::move(listener));
  }
  // Told the outcome of every connect (the adapter watchdog). It returns the error callers see
  // instead when it takes a failure for a wedged adapter's; such a failure is not counted against
  // the session's max_attempts and its reason is WATCHDOG. (An InProgress never counts either.)
  using ConnectObserver = std::function<std::optional<absl::Status>(
      const std::string& adapter, const Address& address, const absl::Status& status)>;
  void observeConnects(ConnectObserver observer) { connectObserver_ = std::move(observer); }
  // Persistent sessions waiting for an adapter (WAITING_FOR_ADAPTER) queue again: `adapter` was
  // powered, or (empty) BlueZ came back.
  void resumeWaiting(const std::string& adapter);

  // For GATT calls: the CONNECTED session for `address`, its lease renewed. Errors: NOT_FOUND
  // (DEVICE_NOT_FOUND), FAILED_PRECONDITION (NOT_CONNECTED).
  absl::StatusOr<std::shared_ptr<Session>> use(const Address& address);
  // Renews the lease (a GATT call finished).
  void touch(Session& session);
  LeaseHold holdLease(const std::shared_ptr<Session>& session);
  LinkWatch watchLink(const std::shared_ptr<Session>& session,
                      absl::AnyInvocable<void(const absl::Status&)> ended);
  // Reads the link's MTU again from the backend (BlueZ signals it after the exchange).
  std::uint16_t refreshMtu(Session& session);
  // KeptSubscriptions reports the subscriptions a session's policy keeps (SessionInfo.
  // subscriptions). Watchers get an event, its state unchanged, when what callers see of them
  // changes. Unknown or ending sessions are ignored.
  void setKeptSubscriptions(const Address& address, std::vector<KeptSubscriptionInfo> kept);

  // Ends every session (reason SHUTDOWN); waiting callers get UNAVAILABLE (SHUTTING_DOWN).
  void shutdown();

  // From the backend listener (Central).
  // BlueZ is up and every adapter reported: persistent sessions waiting for it queue again.
  void onBackendUp();
  void onBackendDown();
  void onAdapterChanged(const AdapterInfo& adapter);
  void onAdapterRemoved(const std::string& adapter);
  void onDeviceChanged(const DeviceInfo& device, std::uint32_t changes);
  void onDeviceRemoved(const std::string& adapter, const Address& address);

 private:
  struct Ending {
    SessionReason reason;
    std::string detail;
    absl::Status waiters;  // for callers still waiting for the connect
    absl::Status link;     // for work running on the link
    bool closeLink = true;  // ask BlueZ to disconnect (not when BlueZ or the adapter is gone)
    bool linkDown = false;  // the link is already gone: its slot is free at once
    bool remove = false;    // a persistent session ends too (give-up action REMOVE)
  };
  // A link being closed after its session ended; keeps the slot until BlueZ says it is down.
  struct Closing {
    Address address;
    Operation op;
    ConnectScheduler::Slot slot;
    ConnectScheduler::Turn turn;  // held while a cancelled connect is being torn down
    std::vector<SessionCallback> done;
    SessionInfo removed;
    Timer timeout;
  };

  // What an ending attempt or link leaves to be told or released.
  struct Detached {
    ConnectScheduler::Turn turn;
    std::map<std::uint64_t, absl::AnyInvocable<void(const absl::Status&)>> watchers;
    std::map<std::uint64_t, Session::Waiter> waiters;
  };
  Detached detach(Session& s);
  void tell(Detached& d, const Ending& ending);
  absl::StatusOr<std::string> chooseAdapter(const std::string& requested,
                                            const Address& address) const;
  void armAttempt(const std::shared_ptr<Session>& s, absl::Duration timeout);
  void closeLink(const std::shared_ptr<Session>& s, ConnectScheduler::Turn turn, bool linkDown,
                 SessionCallback done, SessionInfo removed);
  bool closing(const Address& address) const;
  // Persistent sessions (session_reconnect.cc).
  void retreat(const std::shared_ptr<Session>& s, Ending ending);
  void planNext(const std::shared_ptr<Session>& s);
  void requeue(const std::shared_ptr<Session>& s, SessionReason reason);
  void giveUp(const std::shared_ptr<Session>& s, const ReconnectSettings& settings);
  void rebalance(const std::string& adapter);
  void refreshPolicy(Session& s);
  void persistentChanged();
  void addWaiter(Session& s, SessionCallback done, absl::Duration timeout);
  void granted(const std::shared_ptr<Session>& s, ConnectScheduler::Grant grant);
  void linkUp(const std::shared_ptr<Session>& s);
  void servicesResolved(const std::shared_ptr<Session>& s, std::vector<GattServiceInfo> services);
  void attemptFailed(const std::shared_ptr<Session>& s, const absl::Status& status);
  void end(const std::shared_ptr<Session>& s, Ending ending, SessionCallback done = nullptr);
  void setState(Session& s, SessionState state, SessionReason reason, std::string detail = {});
  void countState(SessionState state, int delta);
  void emit(const Session& s, std::optional<SessionState> previous);
  SessionInfo snapshot(const Session& s) const;
  void armLease(const std::shared_ptr<Session>& s);
  void leaseCheck(const std::weak_ptr<Session>& weak);
  void releaseLease(const std::shared_ptr<Session>& s);
  absl::Duration remaining(const Session& s) const;
  std::vector<std::shared_ptr<Session>> sessionsOn(const std::string& adapter) const;

  Executor& executor_;
  CentralBackend& backend_;
  ConnectScheduler& scheduler_;
  const ScanHub& scanHub_;
  const PolicyStore& policies_;
  Metrics& metrics_;
  absl::BitGen random_;  // backoff jitter
  std::vector<std::function<void()>> persistentListeners_;
  ConnectObserver connectObserver_;
  absl::flat_hash_map<Address, std::shared_ptr<Session>> sessions_;
  std::map<std::uint64_t, SessionWatcher*> watchers_;
  std::map<std::uint64_t, Closing> closing_;
  std::uint64_t nextId_ = 1;
  bool shuttingDown_ = false;
  // Between onBackendDown and onBackendUp adapters are still being reported one by one: sessions
  // wait for all of them, or they would all be placed on the first.
  bool backendSynced_ = false;
};

}  // namespace gattway
