// Writes the durable state off the BLE loop. The loop hands over a snapshot (a copy of the
// policies and persistent sessions, cheap) and goes on; one thread encodes and writes it, where
// fsync may take milliseconds without delaying a notification or a connect.
//
// Only the newest snapshot matters: one posted while another waits replaces it (the older one is
// superseded, not lost: the newer one contains the fleet as it is now). So at most one snapshot
// waits and at most one is being written — the queue is bounded by construction.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "gattway/v1/config.pb.h"
#include "server/state_file.h"

namespace gattway::server {

class StateWriter {
 public:
  explicit StateWriter(StateFile file);
  // Writes what is pending, then stops the thread.
  ~StateWriter();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  // Any thread; never blocks on the disk. A failed write is logged (state.save_failed).
  void post(v1::GatewayConfig state);
  // Waits until everything posted so far is on disk; the status of the last write.
  absl::Status flush();
  // Snapshots written, and snapshots replaced before they were written.
  std::uint64_t written() const;
  std::uint64_t superseded() const;

 private:
  void run();

  const StateFile file_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // the thread: something to write, or stop
  std::condition_variable idle_;  // flush(): nothing pending and nothing being written
  std::optional<v1::GatewayConfig> pending_;
  bool writing_ = false;
  bool stop_ = false;
  absl::Status last_;
  std::uint64_t written_ = 0;
  std::uint64_t superseded_ = 0;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace gattway::server
