// The simulated BlueZ in-process for tests: a private dbus-daemon, the Simulator on its own loop
// thread, and the demo fleet with fast timings. Talk to it over D-Bus with BusClient, or through
// its C++ control API with onLoop().
#pragma once

#include <future>
#include <memory>
#include <type_traits>

#include "ble/event_loop.h"
#include "ble/sim/simulator.h"
#include "gtest/gtest.h"
#include "tests/support/bus_client.h"
#include "tests/support/private_bus.h"

namespace gattway::testing {

// The demo fleet's addresses and paths.
inline constexpr char kHrmAddress[] = "C0:FF:EE:00:01:01";
inline constexpr char kHrmPath[] = "/org/bluez/hci0/dev_C0_FF_EE_00_01_01";
inline constexpr char kCamAddress[] = "00:1B:DC:0C:A0:01";
inline constexpr char kCamPath[] = "/org/bluez/hci0/dev_00_1B_DC_0C_A0_01";
inline constexpr char kBeaconAddress[] = "D0:BE:AC:00:00:01";
inline constexpr char kAdapterPath[] = "/org/bluez/hci0";

// Options with the demo fleet and timings short enough for tests.
sim::SimOptions fastOptions();

class SimFixture : public ::testing::Test {
 protected:
  ~SimFixture() override;
  // Starts the simulator and waits until org.bluez serves its adapters.
  void startSim(sim::SimOptions options = fastOptions());
  void stopSim();

  // Runs `fn` on the simulator's loop thread and returns its result.
  template <typename F>
  auto onLoop(F&& fn) -> std::invoke_result_t<F> {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      loop_->runSync([&] { fn(); });
    } else {
      std::optional<R> out;
      loop_->runSync([&] { out.emplace(fn()); });
      return std::move(*out);
    }
  }

  // A client that watches org.bluez's signals.
  std::unique_ptr<BusClient> client();

  // Filtered discovery on hci0 for `uuids` until `path` exists (the client keeps discovering).
  bool discover(BusClient& c, const std::string& path, const std::vector<std::string>& uuids = {});
  // Connect() and wait for ServicesResolved=true.
  bool connect(BusClient& c, const std::string& devicePath);

  PrivateBus bus_;
  std::unique_ptr<LoopThread> loop_;
  std::unique_ptr<sim::Simulator> sim_;
};

}  // namespace gattway::testing
