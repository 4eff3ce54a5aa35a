// The gateway's fleet on disk: policies and persistent sessions saved to --state_dir (StateFile)
// whenever they change and restored at start, and the config file applied at start and on
// SIGHUP (config.proto). A restarted gateway resumes its fleet.
//
// Loop thread only.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "ble/central/central.h"
#include "ble/executor.h"
#include "gattway/v1/config.pb.h"
#include "server/state_file.h"
#include "server/state_writer.h"

namespace gattway::server {

class FleetState {
 public:
  // Changes are saved this long after the first of a burst (one write for a fleet coming back).
  static constexpr absl::Duration kSaveDelay = absl::Milliseconds(100);

  // Empty `stateDir`: nothing is saved or restored. Empty `configFile`: none.
  FleetState(Executor& loop, Central& central, std::string stateDir, std::string configFile);
  FleetState(const FleetState&) = delete;
  FleetState& operator=(const FleetState&) = delete;

  // Restores the saved state, then applies the config file; saving on change starts. A corrupt
  // state file or a bad config file is an error naming the file and the field.
  absl::Status start();
  // Re-reads the config file (SIGHUP): its policies are created or replaced, its sessions opened
  // or updated. Nothing is applied when the file has an error.
  absl::Status reloadConfig();
  // Writes the state now and waits until it is on disk (at shutdown, before the sessions end).
  absl::Status saveNow();
  // Stops saving (the gateway is shutting down: its sessions ending are not a change of fleet).
  void stop();

  // What would be saved.
  v1::GatewayConfig snapshot() const;

 private:
  absl::Status apply(const v1::GatewayConfig& config, const std::string& origin);
  void scheduleSave();

  Executor& loop_;
  Central& central_;
  std::string configFile_;
  std::optional<StateFile> state_;
  // Saves run on the writer's thread: the loop only takes the snapshot.
  std::unique_ptr<StateWriter> writer_;
  Timer saveTimer_;
  bool saving_ = false;
};

}  // namespace gattway::server
