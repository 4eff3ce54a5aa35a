// The configuration file: a gattway.v1.GatewayConfig written as YAML or JSON (proto3 JSON names,
// snake_case or lowerCamelCase). YAML is turned into JSON and parsed by protobuf's JSON parser, so
// both formats accept exactly the API's schema.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "gattway/v1/config.pb.h"

namespace gattway::server {

// Reads and parses `path`. Errors (INVALID_ARGUMENT) name the file and what is wrong in it.
absl::StatusOr<v1::GatewayConfig> loadConfigFile(const std::string& path);

// The same from text (for tests and the state file).
absl::StatusOr<v1::GatewayConfig> parseConfig(const std::string& text, const std::string& origin);

}  // namespace gattway::server
