#include "ble/sim/ticker.h"

namespace gattway::sim {
namespace {
// Jobs due this close together run in one turn.
constexpr auto kBatch = std::chrono::microseconds(500);
}  // namespace

std::uint64_t Ticker::add(absl::Duration delay, Job job) {
  const std::uint64_t id = nextId_++;
  jobs_.emplace(id, std::make_shared<Job>(std::move(job)));
  heap_.push(Entry{Clock::now() + absl::ToChronoNanoseconds(std::max(delay, absl::ZeroDuration())), id});
  arm();
  return id;
}

void Ticker::remove(std::uint64_t id) {
  // The heap entry stays and is skipped when it comes up.
  jobs_.erase(id);
}

void Ticker::arm() {
  while (!heap_.empty() && !jobs_.contains(heap_.top().id)) heap_.pop();
  if (heap_.empty()) {
    timer_.cancel();
    armedFor_.reset();
    return;
  }
  const auto at = heap_.top().at;
  if (armedFor_ && *armedFor_ <= at && timer_.held()) return;
  armedFor_ = at;
  const auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(at - Clock::now());
  timer_ = executor_.runAfter(absl::FromChrono(delay), [this] {
    armedFor_.reset();
    timer_ = Timer();
    run();
  });
}

void Ticker::run() {
  const auto until = Clock::now() + kBatch;
  // Jobs re-added during this run land after `until` unless their delay is tiny; bound the work.
  std::size_t budget = jobs_.size() + 1;
  while (!heap_.empty() && heap_.top().at <= until && budget-- > 0) {
    const Entry e = heap_.top();
    heap_.pop();
    auto it = jobs_.find(e.id);
    if (it == jobs_.end()) continue;
    std::shared_ptr<Job> job = it->second;  // the job may remove itself
    const std::optional<absl::Duration> next = (*job)();
    if (!jobs_.contains(e.id)) continue;
    if (!next) {
      jobs_.erase(e.id);
      continue;
    }
    // From the due time, not from now, so a late turn does not slow the average rate.
    auto at = e.at + absl::ToChronoNanoseconds(std::max(*next, absl::Nanoseconds(1)));
    const auto now = Clock::now();
    if (at < now - std::chrono::milliseconds(100)) at = now;  // never build up a backlog
    heap_.push(Entry{at, e.id});
  }
  arm();
}

}  // namespace gattway::sim
