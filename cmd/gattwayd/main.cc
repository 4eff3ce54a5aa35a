// gattwayd: the gattway gateway process.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ble/log.h"
#include "cmd/gattwayd/simulate.h"
#include "server/gateway.h"

ABSL_FLAG(std::string, grpc_address, "127.0.0.1:50051",
          "Address the gRPC API listens on: host:port (\"[::]:50051\" for every interface) or "
          "unix:/path. Port 0 picks a free port.");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9469",
          "Address of the Prometheus /metrics endpoint (host:port). Empty disables it.");
ABSL_FLAG(std::string, dbus_address, "",
          "D-Bus address of the bus BlueZ is on. Empty: the system bus "
          "($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket).");
ABSL_FLAG(std::string, state_dir, "/var/lib/gattway",
          "Directory for durable state: policies and persistent sessions.");
ABSL_FLAG(std::string, config, "",
          "Configuration file (GatewayConfig as YAML or JSON), read at start and on SIGHUP.");
ABSL_FLAG(bool, simulate, false,
          "Run against a simulated BlueZ instead of the system's: start a private dbus-daemon and "
          "gattway-sim (from beside gattwayd, else PATH) with the demo fleet or --fleet, use them, "
          "and stop both on exit. No Bluetooth hardware needed.");
ABSL_FLAG(std::string, fleet, "",
          "With --simulate: the simulator's fleet file (YAML, see docs/simulator.md). Empty: the "
          "demo fleet (sensors, a heart-rate strap, cameras, beacons).");
ABSL_FLAG(std::string, log_format, "text", "Log line format: text (key=value) or json.");
ABSL_FLAG(std::string, log_level, "info", "Lowest level logged: debug, info, warn or error.");

namespace {

constexpr char kUsage[] =
    "gattway gateway: Bluetooth LE over gRPC, through BlueZ.\n"
    "\n"
    "Usage: gattwayd [flags]\n"
    "\n"
    "Serves the gattway.v1 API (scan, sessions, GATT, hosted peripheral, metrics) on\n"
    "--grpc_address, driving the adapters BlueZ offers on the D-Bus system bus.\n"
    "--simulate runs it against a simulated BlueZ with a demo fleet instead.\n"
    "SIGTERM/SIGINT stop it cleanly; SIGHUP reloads --config.";

// Returns an error message, or "" when `address` is usable as a listen address.
std::string checkListenAddress(const std::string& flag, const std::string& address,
                               bool allowEmpty) {
  if (address.empty()) return allowEmpty ? "" : absl::StrCat("--", flag, " must not be empty");
  if (absl::StartsWith(address, "unix:")) {
    return address.size() > 5 ? "" : absl::StrCat("--", flag, "=unix: needs a socket path");
  }
  const auto colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::StrCat("--", flag, "=\"", address,
                        "\" is not a listen address; expected host:port such as "
                        "127.0.0.1:50051 or [::]:50051");
  }
  return "";
}

int fail(const std::string& message) {
  std::fprintf(stderr, "gattwayd: %s\n", message.c_str());
  return 2;
}

bool onlyOurFlags(absl::string_view file) {
  return absl::StrContains(file, "cmd/gattwayd/");
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = onlyOurFlags;
  usage.contains_helpshort_flags = onlyOurFlags;
  absl::SetFlagsUsageConfig(usage);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return fail(absl::StrCat("unexpected argument \"", positional[1],
                             "\" (flags are written --name=value; see --help)"));
  }

  gattway::log::Format format;
  if (!gattway::log::parseFormat(absl::GetFlag(FLAGS_log_format), &format)) {
    return fail(absl::StrCat("--log_format must be text or json, not \"",
                             absl::GetFlag(FLAGS_log_format), "\""));
  }
  gattway::log::Level level;
  if (!gattway::log::parseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return fail(absl::StrCat("--log_level must be debug, info, warn or error, not \"",
                             absl::GetFlag(FLAGS_log_level), "\""));
  }
  gattway::log::configure(format, level);

  gattway::server::GatewayOptions options;
  options.grpcAddress = absl::GetFlag(FLAGS_grpc_address);
  options.metricsAddress = absl::GetFlag(FLAGS_metrics_address);
  options.dbusAddress = absl::GetFlag(FLAGS_dbus_address);
  options.stateDir = absl::GetFlag(FLAGS_state_dir);
  options.configFile = absl::GetFlag(FLAGS_config);
  if (auto e = checkListenAddress("grpc_address", options.grpcAddress, false); !e.empty()) {
    return fail(e);
  }
  if (auto e = checkListenAddress("metrics_address", options.metricsAddress, true); !e.empty()) {
    return fail(e);
  }

  const bool simulate = absl::GetFlag(FLAGS_simulate);
  if (simulate && !options.dbusAddress.empty()) {
    return fail("--simulate starts its own bus: do not give --dbus_address with it");
  }
  if (!simulate && !absl::GetFlag(FLAGS_fleet).empty()) return fail("--fleet needs --simulate");

  // Signals are taken synchronously by this thread; block them before any thread starts so that
  // every thread inherits the mask. With --simulate, SIGCHLD says a child died.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<gattway::cmd::SimulatedBluez> simulated;
  if (simulate) {
    gattway::cmd::SimulateOptions so;
    so.fleetFile = absl::GetFlag(FLAGS_fleet);
    so.simArgs = {absl::StrCat("--log_format=", absl::GetFlag(FLAGS_log_format)),
                  absl::StrCat("--log_level=", absl::GetFlag(FLAGS_log_level))};
    auto started = gattway::cmd::SimulatedBluez::start(so);
    if (!started.ok()) {
      gattway::log::error("simulate.start_failed", {{"error", started.status()}});
      return 1;
    }
    simulated = std::move(*started);
    options.dbusAddress = simulated->busAddress();
  }

  gattway::server::Gateway gateway(options);
  if (auto s = gateway.start(); !s.ok()) {
    gattway::log::error("gateway.start_failed", {{"error", s}});
    return 1;
  }
  int exitCode = 0;
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGCHLD) {
      auto gone = simulated != nullptr ? simulated->exitedChild() : std::nullopt;
      if (!gone) continue;
      gattway::log::error("simulate.child_exited", {{"child", *gone}});
      exitCode = 1;
      break;
    }
    if (sig == SIGHUP) {
      const auto s = gateway.reload();
      if (s.ok()) gattway::log::info("config.reloaded", {{"file", options.configFile}});
      else gattway::log::error("config.reload_failed", {{"error", s}});
      continue;
    }
    gattway::log::info("gateway.stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  gateway.shutdown(absl::Seconds(3));
  simulated.reset();  // the simulator and its bus go after the gateway let go of them
  gattway::log::info("gateway.stopped");
  return exitCode;
}
