// Faults queued for the next operations: connects that fail or hang, GATT operations that are
// late or fail with a chosen BlueZ error or ATT code; and wedged controllers (discovery or
// connects), which last until cured. Set through the control interface or the C++ API; consumed
// by the Adapter, Device and GATT objects. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/address.h"

namespace gattway::sim {

enum class ConnectFault {
  // The link comes up and fails to be established (HCI 0x3e): Connected blips true then false,
  // and Connect() fails with org.bluez.Error.Failed "le-connection-abort-by-local".
  kAbortByLocal,
  // The device never answers: after the kernel's LE connect timeout (or `delay`), Connect() fails
  // with "le-connection-abort-by-local" (5.66 maps every connect error to it) and nothing changes.
  kTimeout,
  // Connect() fails at once with org.bluez.Error.Failed and `message` ("Input/output error").
  kFailed,
  // Connect() fails with org.bluez.Error.InProgress (a controller busy with another connect).
  kInProgress,
  // Connect() never answers until Disconnect() cancels it (then "br-connection-canceled").
  kHang,
};

absl::StatusOr<ConnectFault> parseConnectFault(const std::string& name);
const char* connectFaultName(ConnectFault fault);

struct ConnectFaultSpec {
  ConnectFault kind = ConnectFault::kAbortByLocal;
  std::string message;                           // kFailed: the error message
  absl::Duration delay = absl::ZeroDuration();   // before the failure (kTimeout: the timeout)
};

struct GattFaultSpec {
  absl::Duration delay = absl::ZeroDuration();  // added before the answer
  std::string errorName;                         // a D-Bus error to answer with ...
  std::string errorMessage;
  std::optional<std::uint8_t> att;               // ... or a peer ATT error, mapped as BlueZ does
  std::uint16_t handle = 0;                      // only this attribute (path handle); 0: any
};

// What cures a wedged discovery.
enum class WedgeCure {
  kPowerCycle,        // only Powered false → true (or a bluetoothd restart)
  kRestartDiscovery,  // also `restarts` StopDiscovery calls (each followed by a StartDiscovery)
};

absl::StatusOr<WedgeCure> parseWedgeCure(const std::string& name);

// A controller whose scan is wedged: StartDiscovery answers success, but Discovering never turns
// true and no advertising report comes, until cured.
struct DiscoveryWedge {
  WedgeCure cure = WedgeCure::kPowerCycle;
  int restarts = 1;  // kRestartDiscovery: stops left before it is cured
};

class Faults {
 public:
  // `address` null: any device. `count` faults are queued.
  void addConnect(std::optional<Address> address, ConnectFaultSpec spec, int count = 1);
  std::optional<ConnectFaultSpec> takeConnect(const Address& address);
  void addGatt(std::optional<Address> address, GattFaultSpec spec, int count = 1);
  // `handle` is the characteristic's declaration handle or the descriptor's handle.
  std::optional<GattFaultSpec> takeGatt(const Address& address, std::uint16_t handle);
  // --- wedged controllers, by adapter name ---
  void wedgeDiscovery(const std::string& adapter, DiscoveryWedge wedge);
  bool discoveryWedged(const std::string& adapter) const;
  // A StopDiscovery on the wedged adapter: counts towards a kRestartDiscovery cure. True when
  // that cured it.
  bool discoveryStopped(const std::string& adapter);
  // Every Device1.Connect (and ConnectDevice) on the adapter answers InProgress until cured.
  void wedgeConnects(const std::string& adapter);
  bool connectsWedged(const std::string& adapter) const;
  // Powered went false (or bluetoothd went away): every wedge of the adapter is cured.
  void powerCycled(const std::string& adapter);

  void clear();
  std::size_t pending() const { return connect_.size() + gatt_.size(); }

 private:
  std::map<std::string, DiscoveryWedge> discoveryWedges_;
  std::set<std::string> connectWedges_;
  std::vector<std::pair<std::optional<Address>, ConnectFaultSpec>> connect_;
  std::vector<std::pair<std::optional<Address>, GattFaultSpec>> gatt_;
};

}  // namespace gattway::sim
