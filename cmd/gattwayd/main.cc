// gattwayd: the gattway gateway process.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

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
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for the gRPC port. With --tls_key, the port speaks TLS only.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle. Requires every client to present a certificate it signed (mTLS).");
ABSL_FLAG(std::string, tokens_file, "",
          "Bearer tokens with roles (viewer, operator), stored as SHA-256 hashes; see the "
          "README's Security section. Reloaded on SIGHUP.");
ABSL_FLAG(bool, insecure, false,
          "Allow a non-loopback --grpc_address without TLS or tokens (logs a warning).");
ABSL_FLAG(int, max_message_bytes, 1 << 20,
          "Largest request accepted, in bytes; larger ones get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_streams_per_client, 64,
          "Most streams (Scan, Subscribe, WatchSessions, Execute, peripheral streams) one client "
          "holds open at once, 1..10000; more get RESOURCE_EXHAUSTED. A client is a token, else "
          "a client certificate, else a peer host.");
ABSL_FLAG(bool, simulate, false,
          "Run against a simulated BlueZ instead of the system's: start a private dbus-daemon and "
          "gattway-sim (from beside gattwayd, else PATH) with the demo fleet or --fleet, use them, "
          "and stop both on exit. No Bluetooth hardware needed.");
ABSL_FLAG(std::string, fleet, "",
          "With --simulate: the simulator's fleet file (YAML, see docs/simulator.md). Empty: the "
          "demo fleet (sensors, a heart-rate strap, cameras, beacons).");
ABSL_FLAG(bool, adapter_watchdog, true,
          "Notice wedged adapters (discovery that never turns Discovering on, connects that keep "
          "failing with InProgress) and recover them: restart discovery, then power-cycle the "
          "adapter. See the README's \"Adapter watchdog\".");
ABSL_FLAG(absl::Duration, watchdog_discovery_timeout, absl::Seconds(10),
          "A gateway discovery that has not turned Discovering on for this long is wedged.");
ABSL_FLAG(int, watchdog_in_progress_failures, 3,
          "Connects in a row failing with InProgress on an adapter that make it wedged (1..100), "
          "once they span --watchdog_in_progress_span.");
ABSL_FLAG(absl::Duration, watchdog_in_progress_span, absl::Seconds(30),
          "How long connects must keep failing with InProgress before the adapter is taken for "
          "wedged: longer than another BlueZ client's connect can hold it (the kernel's LE "
          "connect timeout is 20 s). At least 1s.");
ABSL_FLAG(int, watchdog_timeout_failures, 0,
          "Connects to this many different devices in a row timing out make an adapter wedged "
          "(0: timeouts are no sign; absent devices time out too).");
ABSL_FLAG(absl::Duration, watchdog_power_cycle_interval, absl::Minutes(10),
          "At most one watchdog power cycle per adapter per this long.");
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

// Signals are turned into bytes on a pipe that main() reads. A handler (rather than sigwait with a
// blocked mask) works whichever thread the kernel picks, including threads that libraries start
// with their own signal masks (civetweb's, under the Prometheus exposer).
int gSignalPipe[2] = {-1, -1};

void onSignal(int sig) {
  const char byte = static_cast<char>(sig);
  [[maybe_unused]] ssize_t n = ::write(gSignalPipe[1], &byte, 1);
}

void installSignalHandlers() {
  if (::pipe2(gSignalPipe, O_CLOEXEC) != 0) std::abort();
  struct sigaction action = {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaction(s, &action, nullptr);
}

int waitForSignal() {
  char byte = 0;
  while (::read(gSignalPipe[0], &byte, 1) != 1) {
  }
  return byte;
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
  options.security.tlsCertFile = absl::GetFlag(FLAGS_tls_cert);
  options.security.tlsKeyFile = absl::GetFlag(FLAGS_tls_key);
  options.security.tlsClientCaFile = absl::GetFlag(FLAGS_tls_client_ca);
  options.security.tokensFile = absl::GetFlag(FLAGS_tokens_file);
  options.security.insecure = absl::GetFlag(FLAGS_insecure);
  options.maxMessageBytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (options.maxMessageBytes < 4096) {
    return fail(absl::StrCat("--max_message_bytes must be at least 4096, not ",
                             options.maxMessageBytes));
  }
  const int maxStreams = absl::GetFlag(FLAGS_max_streams_per_client);
  if (maxStreams < 1 || maxStreams > 10000) {
    return fail(absl::StrCat("--max_streams_per_client must be 1..10000, not ", maxStreams));
  }
  options.maxStreamsPerClient = static_cast<std::size_t>(maxStreams);
  options.watchdog.enabled = absl::GetFlag(FLAGS_adapter_watchdog);
  options.watchdog.discoveryTimeout = absl::GetFlag(FLAGS_watchdog_discovery_timeout);
  if (options.watchdog.discoveryTimeout < absl::Seconds(1)) {
    return fail(absl::StrCat("--watchdog_discovery_timeout must be at least 1s, not ",
                             absl::FormatDuration(options.watchdog.discoveryTimeout)));
  }
  const int inProgress = absl::GetFlag(FLAGS_watchdog_in_progress_failures);
  if (inProgress < 1 || inProgress > 100) {
    return fail(absl::StrCat("--watchdog_in_progress_failures must be 1..100, not ", inProgress));
  }
  options.watchdog.inProgressFailures = static_cast<std::uint32_t>(inProgress);
  options.watchdog.inProgressSpan = absl::GetFlag(FLAGS_watchdog_in_progress_span);
  if (options.watchdog.inProgressSpan < absl::Seconds(1)) {
    return fail(absl::StrCat("--watchdog_in_progress_span must be at least 1s, not ",
                             absl::FormatDuration(options.watchdog.inProgressSpan)));
  }
  const int timeouts = absl::GetFlag(FLAGS_watchdog_timeout_failures);
  if (timeouts < 0 || timeouts > 1000) {
    return fail(absl::StrCat("--watchdog_timeout_failures must be 0..1000, not ", timeouts));
  }
  options.watchdog.timeoutFailures = static_cast<std::uint32_t>(timeouts);
  options.watchdog.minPowerCycleInterval = absl::GetFlag(FLAGS_watchdog_power_cycle_interval);
  if (options.watchdog.minPowerCycleInterval < absl::ZeroDuration()) {
    return fail("--watchdog_power_cycle_interval must not be negative");
  }
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

  // With --simulate, SIGCHLD says a child died.
  installSignalHandlers();

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
    std::fprintf(stderr, "gattwayd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  int exitCode = 0;
  for (;;) {
    const int sig = waitForSignal();
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
