// The simulator's settings: cmd/gattway-sim's flags and the in-process tests' knobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "ble/sim/fleet.h"

namespace gattway::sim {

// Which orderings of Device1 signals the simulator produces (BLUEZ-VM.md).
enum class Ordering {
  // Connected=true before the Connect reply; the GATT objects' InterfacesAdded before
  // ServicesResolved=true. What bleak 0.20 needs.
  kTidy,
  // What real BlueZ 5.66 does now and then: Connected=true is never signalled (read the property
  // back), and ServicesResolved=true arrives before the GATT objects' InterfacesAdded.
  kReal,
};

struct SimOptions {
  // The bus to serve org.bluez on; empty: the system bus ($DBUS_SYSTEM_BUS_ADDRESS).
  std::string busAddress;
  Fleet fleet;
  int adapters = 1;
  // Links an adapter can hold at once (controllers typically allow a handful).
  int connectionSlots = 8;
  Ordering ordering = Ordering::kTidy;
  // In real ordering, the share of connects that show each quirk (1: every connect).
  double realQuirkRate = 1.0;
  // Serve the experimental items (bluetoothd -E): AdvertisingFlags, AdvertisingData, PowerState,
  // ConnectDevice.
  bool experimental = true;
  // main.conf [General] TemporaryTimeout.
  absl::Duration temporaryTimeout = absl::Seconds(30);
  // bluetoothd waits this long after Disconnect() before dropping the link (DISCONNECT_TIMER).
  absl::Duration disconnectGrace = absl::Seconds(2);
  // One ATT request/response on a link (a connection event or two).
  absl::Duration attLatency = absl::Milliseconds(2);
  // The kernel gives up an LE connection attempt to a silent device after this long.
  absl::Duration leConnectTimeout = absl::Seconds(20);
  // The kernel's start/stop of a scan.
  absl::Duration scanLatency = absl::Milliseconds(5);
  // Load generation: every device advertises / every subscribed characteristic notifies at this
  // interval instead of its own.
  std::optional<absl::Duration> advertisingInterval;
  std::optional<absl::Duration> notificationInterval;
  // The adapter's ATT MTU (the kernel's maximum).
  std::uint16_t adapterMtu = 517;
  // Advertising instances the controller offers (LEAdvertisingManager1).
  int advertisingInstances = 5;
  // Reports and notifications are shed (and counted) while this many messages wait for the bus:
  // a controller drops reports when the host is slow; unbounded queues are not an option. Kept
  // small: sd-bus moves its whole write queue for every message it sends, so a long queue costs
  // time per message.
  std::uint64_t maxQueuedMessages = 1024;
  std::uint64_t seed = 1;
  // Time "bluetoothd" stays away when restarted through the control interface, by default.
  absl::Duration restartPause = absl::Seconds(1);
};

// Counters for the control interface (GetStats) and the benchmarks.
struct SimStats {
  std::uint64_t advertisingReports = 0;   // reports that reached a scanning adapter
  std::uint64_t reportsShed = 0;          // reports dropped because the bus was backed up
  std::uint64_t notifications = 0;        // Value signals (or fd packets) sent for notifications
  std::uint64_t notificationsShed = 0;
  std::uint64_t connects = 0;             // links established
  std::uint64_t connectFailures = 0;
  std::uint64_t linkDrops = 0;            // links lost without a Disconnect()
  std::uint64_t gattOperations = 0;       // ReadValue/WriteValue answered
};

}  // namespace gattway::sim
