// ConnectScheduler: who may open an LE link next, per adapter. An adapter has a limit of
// connection slots (links the gateway holds, connected or connecting; default 7) and one LE
// connect in flight at a time (BlueZ and most controllers run one LE create-connection at once;
// a second gets InProgress). Requests queue by priority, then age.
//
// No starvation: a request's effective priority is its priority plus one per kAgingStep it has
// waited, so a request at -100 overtakes fresh ones at 100 after 200 steps.
//
// Storm control: hold() keeps an adapter's queue from being granted for a while (after a
// bluetoothd restart or an adapter power-on, Central holds it for a jittered settling time), so
// the sessions coming back gather in the queue and go one at a time, highest priority first,
// instead of in whatever order their events arrived.
//
// It knows nothing of sessions: a session holds a Slot for the life of its link and the Turn while
// its connect runs.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/central/handle.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

class ConnectScheduler {
  struct QueueKey {
    std::string adapter;
    std::pair<int, std::uint64_t> order;  // (-priority, arrival)
  };
  void releaseSlot(const std::string& adapter);
  void releaseTurn(const std::string& adapter);
  void cancel(const QueueKey& key);

 public:
  static constexpr std::uint32_t kDefaultSlotLimit = 7;
  // Waiting this long raises a request's effective priority by one.
  static constexpr absl::Duration kAgingStep = absl::Seconds(1);

  // A held connection slot; destroying it frees the slot.
  using Slot = OwnedHandle<ConnectScheduler, std::string, &ConnectScheduler::releaseSlot>;
  // The adapter's one connect turn; destroying it lets the next queued connect start.
  using Turn = OwnedHandle<ConnectScheduler, std::string, &ConnectScheduler::releaseTurn>;
  // A queued request; destroying it before the grant leaves the queue.
  using Ticket = OwnedHandle<ConnectScheduler, QueueKey, &ConnectScheduler::cancel>;

  struct Grant {
    Slot slot;
    Turn turn;
  };
  using GrantCallback = absl::AnyInvocable<void(Grant)>;

  ConnectScheduler(Executor& executor, Metrics& metrics);
  ~ConnectScheduler();
  ConnectScheduler(const ConnectScheduler&) = delete;
  ConnectScheduler& operator=(const ConnectScheduler&) = delete;

  // Queues a request for a slot and the connect turn on `adapter`. `granted` runs on a later loop
  // turn, once both are held, unless the Ticket is destroyed first. Errors: RESOURCE_EXHAUSTED
  // (NO_FREE_SLOT) when no slot is free (every one held or promised to a queued request) and
  // `waitForSlot` is false.
  absl::StatusOr<Ticket> request(const std::string& adapter, int priority, bool waitForSlot,
                                 GrantCallback granted);

  // Slots: the limit (1..64), those held, and those neither held nor promised to the queue.
  void setLimit(const std::string& adapter, std::uint32_t limit);
  std::uint32_t limit(const std::string& adapter) const;
  std::uint32_t inUse(const std::string& adapter) const;
  std::uint32_t available(const std::string& adapter) const;
  std::size_t queued(const std::string& adapter) const;
  bool connecting(const std::string& adapter) const;
  // No grants on `adapter` for `duration` (storm control); requests keep queueing.
  void hold(const std::string& adapter, absl::Duration duration);
  bool powered(const std::string& adapter) const;
  // The most connects ever in flight at once on one adapter (1 unless something is wrong).
  std::uint32_t maxInFlight() const { return maxInFlight_; }

  // For the slot metric.
  void setPowered(const std::string& adapter, bool powered);
  void removeAdapter(const std::string& adapter);

 private:
  struct Waiting {
    GrantCallback granted;
    int priority = 0;
    absl::Time since;
  };
  struct AdapterState {
    std::uint32_t limit = kDefaultSlotLimit;
    std::uint32_t inUse = 0;
    bool connecting = false;
    bool powered = false;
    bool present = false;  // reported in the slot metric
    // Ordered by (-priority, arrival): the first entry goes next.
    std::map<std::pair<int, std::uint64_t>, Waiting> queue;
    Timer pumpSoon;
    absl::Time holdUntil = absl::InfinitePast();
    std::uint32_t inFlight = 0;
  };

  AdapterState& state(const std::string& adapter);
  void pumpLater(const std::string& adapter);
  void pump(const std::string& adapter);
  void publish(const std::string& adapter);

  Executor& executor_;
  Metrics& metrics_;
  std::map<std::string, AdapterState> adapters_;
  std::uint64_t nextSeq_ = 1;
  std::uint32_t maxInFlight_ = 0;
};

}  // namespace gattway
