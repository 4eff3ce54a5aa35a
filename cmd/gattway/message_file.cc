#include "cmd/gattway/message_file.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/yaml.h"

namespace gattway::cli {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrCat("\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

bool looksNumeric(const std::string& s) {
  double d;
  return !s.empty() && s != "." && absl::SimpleAtod(s, &d) && s.find_first_of("xXnN") ==
         std::string::npos;  // hex, nan, inf stay strings
}

void emit(const YAML::Node& node, std::string* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      *out += "null";
      return;
    case YAML::NodeType::Scalar: {
      const std::string& v = node.Scalar();
      // Tag "?" marks a plain (unquoted) scalar; "!" a quoted one.
      if (node.Tag() == "?") {
        if (v == "true" || v == "false" || v == "null") {
          *out += v;
          return;
        }
        if (looksNumeric(v)) {
          *out += v;
          return;
        }
      }
      *out += jsonString(v);
      return;
    }
    case YAML::NodeType::Sequence: {
      *out += '[';
      bool first = true;
      for (const auto& item : node) {
        if (!first) *out += ',';
        first = false;
        emit(item, out);
      }
      *out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      *out += '{';
      bool first = true;
      for (const auto& kv : node) {
        if (!first) *out += ',';
        first = false;
        *out += jsonString(kv.first.as<std::string>());
        *out += ':';
        emit(kv.second, out);
      }
      *out += '}';
      return;
    }
  }
}

}  // namespace

absl::StatusOr<std::string> yamlToJson(const std::string& yaml) {
  try {
    YAML::Node root = YAML::Load(yaml);
    std::string out;
    emit(root, &out);
    return out;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

absl::Status parseMessageText(const std::string& text, const std::string& source,
                              google::protobuf::Message* message) {
  auto json = yamlToJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", json.status().message()));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(*json, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a ",
                                                   message->GetDescriptor()->full_name(), ": ",
                                                   // protobuf's messages may start ": "
                                                   absl::StripPrefix(status.message().as_string(), ": ")));
  }
  return absl::OkStatus();
}

absl::Status readMessageFile(const std::string& path, google::protobuf::Message* message) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
    text << in.rdbuf();
  }
  return parseMessageText(text.str(), path == "-" ? "standard input" : path, message);
}

}  // namespace gattway::cli
