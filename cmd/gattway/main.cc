// gattway: the command line for people. Talks to a gateway over gRPC: readable tables by default,
// protobuf JSON with --json, errors with their gRPC code, reason and ATT error, non-zero exit.
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cmd/gattway/client.h"
#include "cmd/gattway/commands.h"

namespace {

constexpr const char* kUsage = R"(a command line for a gattway gateway.

Usage: gattway COMMAND [ARGS] [--flags]

Central:
  adapters                         the Bluetooth adapters
  scan                             scan (--duration=10s, --service=UUID, --name_prefix=P, --all,
                                   --include_known, --count=N devices)
  devices                          devices the gateway knows, without scanning
  connect ADDRESS                  open a session (--persistent, --policy=NAME, --no_wait)
  disconnect ADDRESS               end a session
  read ADDRESS CHAR                read a characteristic (--service=UUID, --descriptor=UUID)
  write ADDRESS CHAR HEX           write bytes given in hex (--mode=auto|with_response|
                                   without_response|reliable)
  subscribe ADDRESS CHAR           stream notifications (--count=N, --duration=D, --mode=...)
  sessions                         live table of sessions (--once: print and exit; --count=N
                                   changes; --duration=D)
Policies:
  policy list | get NAME | create FILE | update FILE [--allow_missing] | delete NAME |
         resolve ADDRESS           FILE: a Policy in YAML or JSON (protobuf JSON field names)
Peripheral (the gateway's own GATT server):
  peripheral register FILE         host services (a RegisterServicesRequest in YAML or JSON)
  peripheral unregister | show
  peripheral advertise             (--name=N, --service=UUID, --id=ID)
  peripheral stop-advertising      (--id=ID; default every advertisement)
  peripheral set-value CHAR HEX    (--notify: also notify subscribed centrals)
  peripheral get-value CHAR        (--clear)
  peripheral notify CHAR [HEX]     notify every subscriber (--central=ADDRESS: only one)
  peripheral writes | watch        stream captured writes / peripheral events (--count, --duration)
Gateway:
  metrics                          the gateway's counters, gauges and histograms

CHAR is a characteristic UUID ("2A37", "0x2a37" or 128-bit); HEX is bytes such as 0102 or "01 02".
Values are shown in hex and decoded where the SIG format is known (2A6E temperature, 2A6F
humidity, 2A37 heart rate, 2A19 battery, 2A38 sensor location, name strings).

Connection: --address (default $GATTWAY_ADDRESS, else 127.0.0.1:50051); TLS: --tls_ca to verify
the gateway, plus --tls_cert/--tls_key for mTLS; --token (default $GATTWAY_TOKEN) for gateways
started with --tokens_file. Output: --json prints protobuf JSON, one object per line.
Exit status: 0 success, 1 the gateway answered with an error (printed with its gRPC code, reason,
ATT and BlueZ error), 2 a usage error.
Ctrl-C ends a stream cleanly. Every flag: gattway --helpfull.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace gattway::cli;  // NOLINT
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = [](absl::string_view file) {
    return absl::StrContains(file, "cmd/gattway/flags.cc");
  };
  config.contains_help_flags = config.contains_helpshort_flags;
  absl::SetFlagsUsageConfig(config);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  installInterruptHandler();

  const std::map<std::string, std::function<int(Client&, const Args&)>> commands = {
      {"adapters", cmdAdapters},     {"scan", cmdScan},
      {"devices", cmdDevices},       {"connect", cmdConnect},
      {"disconnect", cmdDisconnect}, {"read", cmdRead},
      {"write", cmdWrite},           {"subscribe", cmdSubscribe},
      {"sessions", cmdSessions},     {"metrics", cmdMetrics},
      {"policy", cmdPolicy},         {"peripheral", cmdPeripheral},
  };
  if (positional.size() < 2) {
    std::fprintf(stderr, "gattway: %s\n", kUsage);
    return kExitUsage;
  }
  const std::string name = positional[1];
  if (name == "help") {
    std::printf("gattway: %s\n", kUsage);
    return kExitOk;
  }
  auto it = commands.find(name);
  if (it == commands.end()) return usageError(absl::StrCat("unknown command \"", name, "\""));
  auto client = Client::open(optionsFromFlags());
  if (!client.ok()) return usageError(std::string(client.status().message()));
  const Args args(positional.begin() + 2, positional.end());
  return it->second(**client, args);
}
