// The simulated BlueZ: org.bluez on a bus it is given, backed by a simulated radio with a fleet of
// peripherals, plus the control API (this class, for in-process tests; io.gattway.Sim1 on D-Bus,
// control.h) that injects faults and drives remote centrals.
//
// Threads: one EventLoop thread owns the simulator. Construct, start, call and destroy it on that
// thread (in tests: LoopThread::runSync); callbacks run there too.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ble/event_loop.h"
#include "ble/sim/air.h"
#include "ble/sim/daemon.h"
#include "ble/sim/faults.h"
#include "ble/sim/options.h"
#include "ble/sim/ticker.h"

namespace gattway::sim {

class ControlService;

// A change to what a device advertises (unset fields stay).
struct AdvertisingUpdate {
  std::optional<std::string> name;
  std::optional<std::map<std::uint16_t, Bytes>> manufacturerData;
  std::optional<std::map<Uuid, Bytes>> serviceData;
  std::optional<std::vector<Uuid>> serviceUuids;
  std::optional<std::optional<std::int8_t>> txPower;
  std::optional<bool> connectable;
  std::optional<std::uint8_t> flags;
  std::optional<absl::Duration> interval;
  std::optional<std::map<std::uint8_t, Bytes>> data;
};

class Simulator {
 public:
  Simulator(EventLoop& loop, SimOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Connects to the bus, takes org.bluez (and io.gattway.Sim with `control`), builds the
  // adapters. `ready` runs once: OK when clients can use it, or the error.
  absl::Status start(absl::AnyInvocable<void(absl::Status)> ready = nullptr, bool control = true);
  // Runs when a bus connection is lost without being asked (dbus-daemon went away).
  void setOnBusLost(std::function<void()> handler) { onBusLost_ = std::move(handler); }
  bool ready() const { return daemon_ != nullptr && daemon_->ready(); }

  SimOptions& options() { return options_; }
  const SimStats& stats() const { return stats_; }
  std::uint64_t signalsSent() const;
  Air& air() { return air_; }
  Faults& faults() { return faults_; }
  // Null while "bluetoothd" is restarting.
  Daemon* daemon() const { return daemon_.get(); }
  Adapter* adapter(const std::string& name) const;

  // --- devices in the air ---
  absl::Status addDevices(const std::vector<DeviceSpec>& specs);
  absl::Status removeDevice(const Address& address);
  absl::Status setRssi(const Address& address, int rssi);
  absl::Status updateAdvertising(const Address& address, const AdvertisingUpdate& update);
  // The link to `address` (on whichever adapter holds it) goes down for `reason`.
  absl::Status dropLink(const Address& address, DropReason reason);

  // --- faults ---
  void failNextConnect(std::optional<Address> address, ConnectFaultSpec spec, int count = 1);
  void failNextGattOperation(std::optional<Address> address, GattFaultSpec spec, int count = 1);

  // --- the controller and the daemon ---
  absl::Status setPowered(const std::string& adapter, bool on);
  // Wedged controllers (faults.h), until a power cycle or a bluetoothd restart: discovery that
  // starts but never scans (a running scan stops), or connects that all answer InProgress.
  absl::Status wedgeDiscovery(const std::string& adapter, DiscoveryWedge wedge);
  absl::Status wedgeConnects(const std::string& adapter);
  // Releases org.bluez and every object, and comes back after `pause` on a new connection.
  void restartBluetoothd(absl::Duration pause, absl::AnyInvocable<void(absl::Status)> back = nullptr);
  void setOrdering(Ordering ordering) { options_.ordering = ordering; }
  void setAdvertisingInterval(std::optional<absl::Duration> interval);
  void setNotificationInterval(std::optional<absl::Duration> interval) {
    options_.notificationInterval = interval;
  }

  // --- remote centrals on a hosted application ---
  absl::StatusOr<std::string> connectCentral(const std::string& adapter, const Address& address);
  RemoteCentral* central(const std::string& id) const;
  absl::Status disconnectCentral(const std::string& id);

 private:
  absl::Status openDaemon(const std::vector<StoredDevice>& stored,
                          absl::AnyInvocable<void(absl::Status)> ready);

  EventLoop& loop_;
  SimOptions options_;
  Ticker ticker_;
  Air air_;
  Faults faults_;
  SimStats stats_;
  std::mt19937_64 rng_;
  std::uint64_t signalsBefore_ = 0;  // signals of earlier daemon runs
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<ControlService> control_;
  std::function<void()> onBusLost_;
  Timer restartTimer_;
};

}  // namespace gattway::sim
