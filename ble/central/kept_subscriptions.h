// KeptSubscriptions: the subscriptions a policy keeps on its persistent sessions (session.proto,
// Policy.subscriptions and Session.subscriptions).
//
// For every persistent session whose policy in effect (SessionInfo.policy: the one named at
// Connect, else ResolvePolicy's choice) keeps subscriptions, each is started on every CONNECTED,
// through the SubscriptionHub, so it shares one BlueZ notify session per characteristic with any
// Subscribe streams. The characteristic is resolved afresh on each link. A kept subscription ends
// with its link and is started again on the next one; one that failed (characteristic not found,
// BlueZ or ATT error) waits for the next link too. A policy change applies at once: subscriptions
// it adds start on connected sessions, those it removes (or those of a session whose policy
// changed away) stop. What each subscription is doing is reported to SessionManager, which shows
// it in Session.subscriptions and tells watchers when it changes.
//
// Loop thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ble/central/policy_store.h"
#include "ble/central/session_manager.h"
#include "ble/central/subscription_hub.h"
#include "ble/executor.h"

namespace gattway {

class KeptSubscriptions final : public SessionWatcher {
 public:
  KeptSubscriptions(Executor& executor, SessionManager& sessions, SubscriptionHub& hub,
                    const PolicyStore& policies);
  ~KeptSubscriptions() override;
  KeptSubscriptions(const KeptSubscriptions&) = delete;
  KeptSubscriptions& operator=(const KeptSubscriptions&) = delete;

  // Policies changed, or a session's policy, labels or persistence did: every session's kept
  // subscriptions are brought in line with its policy on the next loop turn.
  void refresh();
  // The gateway is shutting down: nothing more is started or reported. Call before the hub ends
  // every subscription.
  void shutdown();

  // SessionWatcher: starts a session's kept subscriptions when it is CONNECTED, forgets them when
  // it is removed.
  void onSessionEvent(const SessionEvent& event) override;

  // How many subscriptions are kept, over all sessions (tests, diagnostics).
  std::size_t size() const;

 private:
  // One kept subscription of one session; the hub's sink for it.
  struct Kept final : NotificationSink {
    KeptSubscriptions* owner = nullptr;
    Address address;
    PolicySubscription spec;
    bool active = false;
    std::string detail;
    // Held while it runs (enabling or on) on the current link.
    std::optional<Subscription> handle;

    void onSubscribed(const SubscriptionStarted& started) override;
    void onNotification(absl::Span<const std::uint8_t> value, absl::Time time) override;
    void onSubscriptionEnded(const absl::Status& status) override;
    void onResumed(const SubscriptionStarted& started, absl::Duration interruption) override;
  };
  using KeptList = std::vector<std::unique_ptr<Kept>>;

  // Brings the session's list in line with its policy; with `connected`, starts those not running
  // (`all`) or only those just added.
  void sync(const SessionInfo& session, bool all);
  std::vector<PolicySubscription> wanted(const SessionInfo& session) const;
  void start(Kept& kept);
  // Reports the session's list to SessionManager on the next loop turn (never from inside the
  // event being dispatched, so watchers see events in order).
  void changed(const Address& address);
  void flush();

  Executor& executor_;
  SessionManager& sessions_;
  SubscriptionHub& hub_;
  const PolicyStore& policies_;
  absl::flat_hash_map<Address, KeptList> kept_;
  absl::flat_hash_set<Address> dirty_;
  Timer reportTimer_;
  Timer refreshTimer_;
  bool stopped_ = false;
  SessionManager::WatcherHandle watch_;
};

}  // namespace gattway
