#include "ble/central/connect_scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway {

ConnectScheduler::ConnectScheduler(Executor& executor, Metrics& metrics)
    : executor_(executor), metrics_(metrics) {}

ConnectScheduler::~ConnectScheduler() {
  for (const auto& [name, a] : adapters_) metrics_.removeAdapter(name);
}

ConnectScheduler::AdapterState& ConnectScheduler::state(const std::string& adapter) {
  return adapters_[adapter];
}

absl::StatusOr<ConnectScheduler::Ticket> ConnectScheduler::request(const std::string& adapter,
                                                                   int priority, bool waitForSlot,
                                                                   GrantCallback granted) {
  AdapterState& a = state(adapter);
  if (!waitForSlot && available(adapter) == 0) {
    return err::make(err::Reason::kNoFreeSlot,
                     absl::StrCat("every connection slot on ", adapter, " is in use (", a.inUse,
                                  " of ", a.limit, ", ", a.queue.size(),
                                  " queued); set wait_for_slot to queue"),
                     {{err::kMetaAdapter, adapter}});
  }
  const std::pair<int, std::uint64_t> order{-priority, nextSeq_++};
  a.queue.emplace(order, Waiting{std::move(granted), priority, executor_.now()});
  pumpLater(adapter);
  return Ticket(this, QueueKey{adapter, order});
}

void ConnectScheduler::cancel(const QueueKey& key) {
  auto it = adapters_.find(key.adapter);
  if (it == adapters_.end()) return;
  it->second.queue.erase(key.order);
}

void ConnectScheduler::releaseSlot(const std::string& adapter) {
  AdapterState& a = state(adapter);
  if (a.inUse > 0) --a.inUse;
  publish(adapter);
  pumpLater(adapter);
}

void ConnectScheduler::releaseTurn(const std::string& adapter) {
  AdapterState& a = state(adapter);
  a.connecting = false;
  if (a.inFlight > 0) --a.inFlight;
  pumpLater(adapter);
}

void ConnectScheduler::pumpLater(const std::string& adapter) {
  // Grants run on their own loop turn, never inside the caller's stack (a session being torn
  // down must not start another's connect from its destructor).
  AdapterState& a = state(adapter);
  if (a.pumpSoon.held() || a.queue.empty()) return;
  const absl::Duration wait = std::max(absl::ZeroDuration(), a.holdUntil - executor_.now());
  a.pumpSoon = executor_.runAfter(wait, [this, adapter] {
    state(adapter).pumpSoon = Timer();
    pump(adapter);
  });
}

void ConnectScheduler::pump(const std::string& adapter) {
  AdapterState& a = state(adapter);
  if (a.connecting || a.inUse >= a.limit || a.queue.empty()) return;
  const absl::Time now = executor_.now();
  if (now < a.holdUntil) {
    pumpLater(adapter);
    return;
  }
  // Highest effective priority (priority + aging), then the oldest.
  auto best = a.queue.begin();
  std::int64_t bestScore = 0;
  for (auto it = a.queue.begin(); it != a.queue.end(); ++it) {
    absl::Duration rest;
    const std::int64_t score =
        it->second.priority + absl::IDivDuration(now - it->second.since, kAgingStep, &rest);
    if (it == a.queue.begin() || score > bestScore ||
        (score == bestScore && it->first.second < best->first.second)) {
      best = it;
      bestScore = score;
    }
  }
  auto node = a.queue.extract(best);
  ++a.inUse;
  a.connecting = true;
  maxInFlight_ = std::max(maxInFlight_, ++a.inFlight);
  publish(adapter);
  Grant grant{Slot(this, adapter), Turn(this, adapter)};
  node.mapped().granted(std::move(grant));
}

void ConnectScheduler::setLimit(const std::string& adapter, std::uint32_t limit) {
  // Lowering it disconnects nothing: it takes effect as links end (adapter.proto).
  state(adapter).limit = limit;
  publish(adapter);
  pumpLater(adapter);
}

std::uint32_t ConnectScheduler::limit(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  return it == adapters_.end() ? kDefaultSlotLimit : it->second.limit;
}

std::uint32_t ConnectScheduler::inUse(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  return it == adapters_.end() ? 0 : it->second.inUse;
}

std::size_t ConnectScheduler::queued(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  return it == adapters_.end() ? 0 : it->second.queue.size();
}

bool ConnectScheduler::connecting(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  return it != adapters_.end() && it->second.connecting;
}

std::uint32_t ConnectScheduler::available(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  if (it == adapters_.end()) return kDefaultSlotLimit;
  const AdapterState& a = it->second;
  const std::uint64_t taken = std::uint64_t{a.inUse} + a.queue.size();
  return taken >= a.limit ? 0 : static_cast<std::uint32_t>(a.limit - taken);
}

void ConnectScheduler::hold(const std::string& adapter, absl::Duration duration) {
  AdapterState& a = state(adapter);
  a.holdUntil = std::max(a.holdUntil, executor_.now() + duration);
  a.pumpSoon = Timer();
  pumpLater(adapter);
}

bool ConnectScheduler::powered(const std::string& adapter) const {
  auto it = adapters_.find(adapter);
  return it != adapters_.end() && it->second.powered;
}

void ConnectScheduler::setPowered(const std::string& adapter, bool powered) {
  AdapterState& a = state(adapter);
  a.powered = powered;
  a.present = true;
  publish(adapter);
}

void ConnectScheduler::removeAdapter(const std::string& adapter) {
  auto it = adapters_.find(adapter);
  if (it == adapters_.end()) return;
  // Slots still held by sessions being torn down keep the entry; it only stops being reported.
  it->second.powered = false;
  it->second.present = false;
  metrics_.removeAdapter(adapter);
}

void ConnectScheduler::publish(const std::string& adapter) {
  const AdapterState& a = state(adapter);
  if (!a.present) return;
  metrics_.setAdapter(adapter, AdapterSlotsMetric{a.powered, a.inUse, a.limit});
}

}  // namespace gattway
