// The configuration file (GatewayConfig as YAML or JSON): any text loads or is refused with
// INVALID_ARGUMENT, never a crash, an exception or a hang; what loads survives a JSON round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = gattway::server::parseConfig(text, "fuzz.yaml");
  if (!config.ok()) {
    if (config.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*config, &json).ok()) std::abort();
  auto again = gattway::server::parseConfig(json, "fuzz.json");
  if (!again.ok() || !google::protobuf::util::MessageDifferencer::Equals(*again, *config)) {
    std::abort();
  }
  return 0;
}
