// A session: the gateway's link to one device, its state machine's vocabulary, and the snapshot
// callers see. SessionManager drives the state; ConnectScheduler decides when a connect may start.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/central/connect_scheduler.h"
#include "ble/central/reconnect_policy.h"
#include "ble/central_backend.h"
#include "ble/executor.h"

namespace gattway {

// Mirrors gattway.v1.SessionState (session.proto), where each state is described.
enum class SessionState : std::uint8_t {
  kQueued,
  kConnecting,
  kResolvingServices,
  kConnected,
  kDisconnected,
  kBackingOff,         // persistent sessions
  kGaveUp,             // persistent sessions
  kWaitingForAdapter,  // persistent sessions
  kRemoved,            // only in events
};
const char* sessionStateName(SessionState state);  // "CONNECTED"

// Mirrors gattway.v1.SessionReason.
enum class SessionReason : std::uint8_t {
  kUnspecified,
  kRequested,
  kRestored,
  kAutoConnect,
  kProgress,
  kLinkLost,
  kConnectFailed,
  kConnectTimeout,
  kAdapterOff,
  kBluezDown,
  kLeaseExpired,
  kMaxAttempts,
  kPolicyChanged,
  kShutdown,
  kWatchdog,
};

// A subscription the session's policy keeps (session.proto, KeptSubscription). Kept by
// KeptSubscriptions; SessionManager shows it inactive, "not connected", whenever the session has
// no link, and "enabling notifications" while it is neither active nor failed.
struct KeptSubscriptionInfo {
  PolicySubscription subscription;
  bool active = false;
  std::string detail;  // why it failed on this link; empty while active or pending

  bool operator==(const KeptSubscriptionInfo&) const = default;
};

// What callers see of a session, as of one moment.
struct SessionInfo {
  Address address;
  AddressType addressType = AddressType::kPublic;
  std::string adapter;
  SessionState state = SessionState::kQueued;
  bool persistent = false;
  std::map<std::string, std::string> labels;
  int priority = 0;
  std::uint16_t mtu = 0;  // 0 when not connected
  absl::Time createTime;
  std::optional<absl::Time> connectTime;
  absl::Time stateTime;
  SessionReason reason = SessionReason::kUnspecified;
  std::string detail;
  std::uint32_t failedAttempts = 0;
  std::uint64_t connects = 0;
  std::optional<absl::Time> leaseExpireTime;
  absl::Duration idleTimeout = absl::Seconds(60);
  std::string name;
  // The policy in effect (empty: the built-in defaults) and the one named at Connect, if any.
  std::string policy;
  std::string explicitPolicy;
  // Connect's `adapter`: empty when the gateway chooses at each attempt.
  std::string requestedAdapter;
  // The priority asked for at Connect; unset: the policy's.
  std::optional<int> requestedPriority;
  // BACKING_OFF (and GAVE_UP with a cool-down): when the next attempt starts.
  std::optional<absl::Time> nextAttemptTime;
  // Persistent: what its policy keeps subscribed, in the policy's order.
  std::vector<KeptSubscriptionInfo> subscriptions;
};

struct SessionEvent {
  SessionInfo session;
  std::optional<SessionState> previous;  // unset for a new session
};

struct ConnectOptions {
  Address address;
  std::optional<AddressType> addressType;  // unset: as last seen by a scan, else public
  std::string adapter;                     // empty: the gateway chooses
  absl::Duration timeout = absl::Seconds(10);
  std::map<std::string, std::string> labels;  // non-empty: replace an existing session's
  bool waitForSlot = false;
  std::optional<int> priority;  // unset: the policy's (default 0)
  absl::Duration idleTimeout = absl::Seconds(60);
  bool noWait = false;
  // Keep the link up by the session's policy (session.proto, persistent sessions).
  bool persistent = false;
  std::string policy;  // empty: the one ResolvePolicy picks
  // Why the session is created: a caller, the config file or state directory, or auto-connect.
  SessionReason origin = SessionReason::kRequested;
};

using SessionCallback = absl::AnyInvocable<void(absl::StatusOr<SessionInfo>)>;

// SessionManager's record of one session. Only SessionManager changes it; the GATT client,
// subscriptions and batches read `info` and `services` of a connected session.
class Session : public std::enable_shared_from_this<Session> {
 public:
  const SessionInfo& info() const { return info_; }
  const Address& address() const { return info_.address; }
  const std::string& adapter() const { return info_.adapter; }
  bool connected() const { return info_.state == SessionState::kConnected; }
  // The GATT tree resolved when the link came up, ordered by handle.
  const std::vector<GattServiceInfo>& services() const { return services_; }

 private:
  friend class SessionManager;
  struct Waiter {
    SessionCallback done;
    Timer timeout;
  };

  SessionInfo info_;
  std::vector<GattServiceInfo> services_;
  // Lease (ephemeral): idle since lastUse_, unless held by open streams or batches.
  absl::Time lastUse_;
  int leaseHolds_ = 0;
  Timer leaseTimer_;
  // The current connect attempt.
  ConnectScheduler::Ticket ticket_;
  ConnectScheduler::Slot slot_;
  ConnectScheduler::Turn turn_;
  Operation pending_;
  Timer attemptTimer_;
  absl::Time attemptDeadline_;
  absl::Time connectingSince_;
  bool linkRequested_ = false;  // backend connect was called: the link must be closed on the way out
  bool ending_ = false;
  // Persistent: the wait before the next attempt (or the give-up cool-down), and whether the next
  // attempt waits for the previous link to be closed.
  Timer backoffTimer_;
  bool requeueAfterClose_ = false;
  // Attempts in a row the adapter refused as busy (InProgress): not failed attempts (they do not
  // count against max_attempts) but they grow the backoff like them, so that sessions on a busy
  // or wedged adapter do not retry at the initial backoff for ever.
  std::uint32_t busyAttempts_ = 0;
  std::map<std::uint64_t, Waiter> waiters_;
  std::map<std::uint64_t, absl::AnyInvocable<void(const absl::Status&)>> linkWatchers_;
};

}  // namespace gattway
