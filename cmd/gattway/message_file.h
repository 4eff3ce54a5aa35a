// Reads a request message from a YAML or JSON file in protobuf's JSON mapping (field names in
// either snake_case or lowerCamelCase, enums by name, bytes in base64), as `gattway policy create`
// and `gattway peripheral register` take them.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace gattway::cli {

// YAML text to JSON text. YAML is a superset of JSON, so JSON passes through. Plain scalars that
// read as numbers, true/false or null become JSON numbers, booleans, null; quoted scalars stay
// strings.
absl::StatusOr<std::string> yamlToJson(const std::string& yaml);

// Parses `text` (YAML or JSON) into `message`. Errors name `source` and what is wrong (unknown
// field, wrong type, YAML syntax with its line).
absl::Status parseMessageText(const std::string& text, const std::string& source,
                              google::protobuf::Message* message);

// Reads the file at `path` ("-": standard input) into `message`.
absl::Status readMessageFile(const std::string& path, google::protobuf::Message* message);

}  // namespace gattway::cli
