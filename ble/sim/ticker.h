// Many periodic jobs on one loop timer: the advertising events of thousands of devices and every
// notification stream. A timer per job would cost a map insertion and removal per event; here an
// event is a heap operation, and jobs due within the same half millisecond run together.
// Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "ble/executor.h"

namespace gattway::sim {

class Ticker {
 public:
  // Runs, then returns the delay until it runs again, or nullopt to stop.
  using Job = absl::AnyInvocable<std::optional<absl::Duration>()>;
  using Clock = std::chrono::steady_clock;

  explicit Ticker(Executor& executor) : executor_(executor) {}
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Runs `job` after `delay`. Returns its id.
  std::uint64_t add(absl::Duration delay, Job job);
  // Stops a job (also from inside any job). Unknown ids are ignored.
  void remove(std::uint64_t id);
  std::size_t size() const { return jobs_.size(); }

 private:
  struct Entry {
    Clock::time_point at;
    std::uint64_t id;
    bool operator>(const Entry& o) const { return at > o.at || (at == o.at && id > o.id); }
  };
  void arm();
  void run();

  Executor& executor_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  absl::flat_hash_map<std::uint64_t, std::shared_ptr<Job>> jobs_;
  std::uint64_t nextId_ = 1;
  Timer timer_;
  std::optional<Clock::time_point> armedFor_;
};

}  // namespace gattway::sim
