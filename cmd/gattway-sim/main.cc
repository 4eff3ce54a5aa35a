// gattway-sim: the simulated BlueZ as a process. It owns org.bluez on the bus it is given (the
// system bus by default, honouring DBUS_SYSTEM_BUS_ADDRESS) and serves a fleet of simulated
// devices; io.gattway.Sim1 on the same bus controls it (docs/simulator.md).
#include <signal.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "ble/sim/embedded.h"
#include "ble/sim/fd_watch.h"
#include "ble/sim/fleet.h"
#include "ble/sim/simulator.h"

ABSL_FLAG(std::string, bus_address, "",
          "D-Bus address to serve org.bluez on. Empty: the system bus ($DBUS_SYSTEM_BUS_ADDRESS, "
          "else /run/dbus/system_bus_socket).");
ABSL_FLAG(std::string, fleet, "",
          "Fleet file (YAML, see docs/simulator.md). Empty: the built-in demo fleet "
          "(ble/sim/fleets/demo.yaml).");
ABSL_FLAG(bool, no_fleet, false, "Start with no devices at all (add them over io.gattway.Sim1).");
ABSL_FLAG(std::string, ordering, "tidy",
          "Signal ordering: tidy (Connected before the Connect reply, GATT objects before "
          "ServicesResolved; what bleak needs) or real (what BlueZ 5.66 does now and then).");
ABSL_FLAG(double, real_quirk_rate, 1.0,
          "With --ordering=real, the share of connects (0..1) that show each quirk.");
ABSL_FLAG(int, adapters, 1, "Number of adapters (hci0, hci1, ...).");
ABSL_FLAG(int, connection_slots, 8, "Links each adapter can hold at once.");
ABSL_FLAG(int, advertising_instances, 5, "Advertising instances each adapter offers.");
ABSL_FLAG(std::string, advertising_interval, "",
          "Make every device advertise at this interval (e.g. 10ms) instead of its own: load "
          "generation. Empty: each device's own.");
ABSL_FLAG(std::string, notification_interval, "",
          "Make every subscribed characteristic notify at this interval (e.g. 1ms). Empty: each "
          "characteristic's own.");
ABSL_FLAG(int, load_devices, 0,
          "Add this many load devices (Load-1, ...): a counter characteristic that notifies and "
          "manufacturer data that changes with every advertising event.");
ABSL_FLAG(int, load_value_size, 20,
          "Bytes in each load device's notifications and manufacturer data (4..244).");
ABSL_FLAG(bool, load_timestamps, false,
          "Load devices' counter values carry the wall clock when each was made (Unix ns, "
          "little-endian, bytes 4..11; needs --load_value_size of 12 or more): latency benchmarks.");
ABSL_FLAG(std::string, temporary_timeout, "30s",
          "How long a discovered device stays after its last advertisement (main.conf "
          "TemporaryTimeout); 0 keeps them.");
ABSL_FLAG(std::string, disconnect_grace, "2s",
          "How long bluetoothd waits after Disconnect() before dropping the link.");
ABSL_FLAG(std::string, att_latency, "2ms", "Time of one ATT request/response on a link.");
ABSL_FLAG(std::string, le_connect_timeout, "20s",
          "How long an LE connection attempt to a silent device lasts before it fails.");
ABSL_FLAG(bool, experimental, true,
          "Serve BlueZ's experimental items (bluetoothd -E): AdvertisingFlags, AdvertisingData, "
          "PowerState, ConnectDevice.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of every random choice (RSSI jitter, values, timing).");
ABSL_FLAG(std::string, log_format, "text", "Log line format: text (key=value) or json.");
ABSL_FLAG(std::string, log_level, "info", "Lowest level logged: debug, info, warn or error.");

namespace {

constexpr char kUsage[] =
    "gattway-sim: a simulated BlueZ (bluetoothd 5.66 on D-Bus) with a fleet of devices.\n"
    "\n"
    "Usage: gattway-sim [flags]\n"
    "\n"
    "Owns org.bluez on the bus (the system bus by default) with simulated adapters and\n"
    "devices: sensors, a heart-rate strap, cameras and beacons unless --fleet says otherwise.\n"
    "io.gattway.Sim1 at /io/gattway/sim (name io.gattway.Sim) injects faults and drives\n"
    "remote centrals; see docs/simulator.md. SIGTERM/SIGINT stop it.";

int fail(const std::string& message) {
  std::fprintf(stderr, "gattway-sim: %s\n", message.c_str());
  return 2;
}

bool durationFlag(const char* name, const std::string& text, absl::Duration* out, std::string* error) {
  if (!absl::ParseDuration(text, out) || *out < absl::ZeroDuration()) {
    *error = absl::StrCat("--", name, "=\"", text, "\" is not a duration such as 10ms or 2s");
    return false;
  }
  return true;
}

bool onlyOurFlags(absl::string_view file) { return absl::StrContains(file, "cmd/gattway-sim/"); }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = onlyOurFlags;
  usage.contains_helpshort_flags = onlyOurFlags;
  absl::SetFlagsUsageConfig(usage);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return fail(absl::StrCat("unexpected argument \"", positional[1], "\" (see --help)"));
  }
  gattway::log::Format format;
  gattway::log::Level level;
  if (!gattway::log::parseFormat(absl::GetFlag(FLAGS_log_format), &format)) {
    return fail("--log_format must be text or json");
  }
  if (!gattway::log::parseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return fail("--log_level must be debug, info, warn or error");
  }
  gattway::log::configure(format, level);

  gattway::sim::SimOptions o;
  o.busAddress = absl::GetFlag(FLAGS_bus_address);
  const std::string ordering = absl::GetFlag(FLAGS_ordering);
  if (ordering != "tidy" && ordering != "real") return fail("--ordering must be tidy or real");
  o.ordering = ordering == "real" ? gattway::sim::Ordering::kReal : gattway::sim::Ordering::kTidy;
  o.realQuirkRate = absl::GetFlag(FLAGS_real_quirk_rate);
  if (o.realQuirkRate < 0 || o.realQuirkRate > 1) return fail("--real_quirk_rate must be 0..1");
  o.adapters = absl::GetFlag(FLAGS_adapters);
  if (o.adapters < 1 || o.adapters > 16) return fail("--adapters must be 1..16");
  o.connectionSlots = absl::GetFlag(FLAGS_connection_slots);
  if (o.connectionSlots < 1) return fail("--connection_slots must be at least 1");
  o.advertisingInstances = absl::GetFlag(FLAGS_advertising_instances);
  if (o.advertisingInstances < 0 || o.advertisingInstances > 255) {
    return fail("--advertising_instances must be 0..255");
  }
  o.experimental = absl::GetFlag(FLAGS_experimental);
  o.seed = absl::GetFlag(FLAGS_seed);
  std::string error;
  absl::Duration d;
  if (!absl::GetFlag(FLAGS_advertising_interval).empty()) {
    if (!durationFlag("advertising_interval", absl::GetFlag(FLAGS_advertising_interval), &d, &error)) return fail(error);
    if (d < absl::Microseconds(100)) return fail("--advertising_interval must be at least 100us");
    o.advertisingInterval = d;
  }
  if (!absl::GetFlag(FLAGS_notification_interval).empty()) {
    if (!durationFlag("notification_interval", absl::GetFlag(FLAGS_notification_interval), &d, &error)) return fail(error);
    if (d < absl::Microseconds(10)) return fail("--notification_interval must be at least 10us");
    o.notificationInterval = d;
  }
  if (!durationFlag("temporary_timeout", absl::GetFlag(FLAGS_temporary_timeout), &o.temporaryTimeout, &error) ||
      !durationFlag("disconnect_grace", absl::GetFlag(FLAGS_disconnect_grace), &o.disconnectGrace, &error) ||
      !durationFlag("att_latency", absl::GetFlag(FLAGS_att_latency), &o.attLatency, &error) ||
      !durationFlag("le_connect_timeout", absl::GetFlag(FLAGS_le_connect_timeout), &o.leConnectTimeout, &error)) {
    return fail(error);
  }

  if (!absl::GetFlag(FLAGS_no_fleet)) {
    auto fleet = absl::GetFlag(FLAGS_fleet).empty()
                     ? gattway::sim::parseFleet(gattway::sim::embedded::kDemoFleet)
                     : gattway::sim::loadFleet(absl::GetFlag(FLAGS_fleet));
    if (!fleet.ok()) return fail(std::string(fleet.status().message()));
    o.fleet = std::move(*fleet);
  }
  const int loadCount = absl::GetFlag(FLAGS_load_devices);
  const int loadSize = absl::GetFlag(FLAGS_load_value_size);
  if (loadCount < 0 || loadCount > 100000) return fail("--load_devices must be 0..100000");
  if (loadSize < 4 || loadSize > 244) return fail("--load_value_size must be 4..244");
  for (auto& spec : gattway::sim::loadDevices(loadCount, loadSize, absl::GetFlag(FLAGS_load_timestamps))) {
    o.fleet.devices.push_back(std::move(spec));
  }

  // SIGTERM/SIGINT through a signalfd the loop polls: stop cleanly on the loop thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int sfd = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return fail("signalfd failed");

  gattway::EventLoop loop;
  int exitCode = 0;
  gattway::sim::FdWatch signalWatch(loop, sfd, POLLIN, [&](short) {
    signalfd_siginfo info{};
    [[maybe_unused]] ssize_t n = ::read(sfd, &info, sizeof info);
    gattway::log::info("sim.stopping", {{"signal", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
    loop.stop();
  });
  auto sim = std::make_unique<gattway::sim::Simulator>(loop, std::move(o));
  sim->setOnBusLost([&] {
    exitCode = 1;
    loop.stop();
  });
  absl::Status started = sim->start([&](absl::Status s) {
    if (!s.ok()) {
      gattway::log::error("sim.start_failed", {{"error", s}});
      exitCode = 1;
      loop.stop();
      return;
    }
    gattway::log::info("sim.ready", {{"devices", sim->air().size()},
                                     {"adapters", sim->options().adapters},
                                     {"bus", sim->options().busAddress.empty() ? "system" : sim->options().busAddress}});
  });
  if (!started.ok()) {
    gattway::log::error("sim.start_failed", {{"error", started}});
    return 1;
  }
  loop.run();
  sim.reset();
  gattway::log::info("sim.stopped");
  return exitCode;
}
