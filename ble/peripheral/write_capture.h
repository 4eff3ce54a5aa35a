// Captured writes (aioble's `capture=True`): every write to a capturing characteristic is
// numbered and handed to each open stream that selects it, in arrival order. While no stream
// selects a characteristic its writes are held in a bounded queue per characteristic, oldest
// dropped first and counted, and the next stream that selects it receives them with the gap.
// Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "ble/bounded_queue.h"
#include "ble/metrics.h"
#include "ble/peripheral/definitions.h"

namespace gattway::peripheral {

class WriteCapture {
 public:
  // Runs on the loop thread for each write a stream receives; `droppedBefore` is how many writes
  // the held queue dropped just before this one.
  using Sink = absl::AnyInvocable<void(const CapturedWrite& write, std::uint64_t droppedBefore)>;
  // nullopt: every capturing characteristic.
  using Filter = std::optional<std::set<AttributeId>>;

  explicit WriteCapture(Metrics& metrics) : metrics_(metrics) {}

  // A new database: held writes and sequence numbers start afresh.
  void reset(std::size_t heldCapacity);

  std::uint64_t subscribe(Filter filter, Sink sink);
  // The database changed under a stream: its selection, resolved again.
  void setFilter(std::uint64_t subscription, Filter filter);
  void unsubscribe(std::uint64_t subscription);

  // A write arrived (`write.sequence` and `write.time` are set here).
  void capture(AttributeId characteristic, CapturedWrite write);

  std::size_t held(AttributeId characteristic) const;

 private:
  struct Held {
    std::uint64_t arrival = 0;
    CapturedWrite write;
  };
  struct Subscriber {
    Filter filter;
    Sink sink;
  };
  bool selects(const Filter& f, AttributeId id) const { return !f || f->contains(id); }
  void deliverHeld(Subscriber& s);

  Metrics& metrics_;
  std::size_t heldCapacity_ = kDefaultCaptureQueue;
  std::map<AttributeId, BoundedQueue<Held>> held_;
  std::map<AttributeId, std::uint64_t> sequence_;
  std::map<std::uint64_t, Subscriber> subscribers_;
  std::uint64_t nextSubscriber_ = 1;
  std::uint64_t arrivals_ = 0;
};

}  // namespace gattway::peripheral
