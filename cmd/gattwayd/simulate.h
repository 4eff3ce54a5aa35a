// `gattwayd --simulate`: a private dbus-daemon (ble/sim/private-bus.conf, carried in the binary)
// and the simulated BlueZ (the gattway-sim binary beside gattwayd) for the gateway to use. The
// simulator runs as its own process, as bluetoothd does: the gateway's D-Bus traffic crosses a real
// bus, a simulated bluetoothd restart or crash does not take the gateway down, and the gateway
// binary carries no simulator code. Both children die with gattwayd (PR_SET_PDEATHSIG), even if it
// is killed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gattway::cmd {

struct SimulateOptions {
  std::string fleetFile;              // empty: the demo fleet
  std::vector<std::string> simArgs;   // passed to gattway-sim as well (log settings)
};

class SimulatedBluez {
 public:
  // Starts dbus-daemon and gattway-sim and waits until org.bluez is on the bus.
  static absl::StatusOr<std::unique_ptr<SimulatedBluez>> start(const SimulateOptions& options);
  // Stops both (SIGTERM, then SIGKILL after a grace period) and removes the temporary directory.
  ~SimulatedBluez();
  SimulatedBluez(const SimulatedBluez&) = delete;
  SimulatedBluez& operator=(const SimulatedBluez&) = delete;

  const std::string& busAddress() const { return busAddress_; }
  pid_t busPid() const { return busPid_; }
  pid_t simPid() const { return simPid_; }
  // Reaps children that exited; names the first one that did ("dbus-daemon", "gattway-sim").
  std::optional<std::string> exitedChild();

 private:
  SimulatedBluez() = default;
  void stopChild(pid_t& pid);

  std::string dir_;
  std::string busAddress_;
  pid_t busPid_ = -1;
  pid_t simPid_ = -1;
};

// Where gattway-sim is: beside the running gattwayd, else on PATH.
std::string simulatorBinary();

}  // namespace gattway::cmd
