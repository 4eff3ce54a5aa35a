#include "server/config_file.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/yaml.h"

namespace gattway::server {
namespace {

void appendJsonString(std::string& out, const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

bool looksNumeric(const std::string& s) {
  if (s.empty()) return false;
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') digits = true;
    else if (s[i] == '.' && !dot) dot = true;
    else return false;
  }
  return digits;
}

// YAML → JSON. Plain (unquoted) scalars true/false/null and numbers become JSON literals; all other
// scalars become strings (protobuf's JSON parser accepts quoted numbers and durations like "0.2s").
void toJson(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      out += "null";
      return;
    case YAML::NodeType::Scalar: {
      const std::string& v = node.Scalar();
      const bool plain = node.Tag() == "?";
      if (plain && (v == "true" || v == "false" || v == "null")) out += v;
      else if (plain && looksNumeric(v) && v[0] != '+') out += v;
      else appendJsonString(out, v);
      return;
    }
    case YAML::NodeType::Sequence: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out.push_back(',');
        first = false;
        toJson(item, out);
      }
      out.push_back(']');
      return;
    }
    case YAML::NodeType::Map: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!first) out.push_back(',');
        first = false;
        appendJsonString(out, kv.first.as<std::string>());
        out.push_back(':');
        toJson(kv.second, out);
      }
      out.push_back('}');
      return;
    }
    case YAML::NodeType::Undefined:
      out += "null";
      return;
  }
}

absl::Status invalid(const std::string& origin, absl::string_view what) {
  return err::invalidField("config", absl::StrCat(origin, ": ", what));
}

}  // namespace

absl::StatusOr<v1::GatewayConfig> parseConfig(const std::string& text, const std::string& origin) {
  std::string json;
  try {
    const YAML::Node root = YAML::Load(text);  // JSON is YAML too
    if (root.IsNull()) return v1::GatewayConfig();
    if (!root.IsMap()) return invalid(origin, "expected a mapping (adapters, policies, sessions)");
    toJson(root, json);
  } catch (const YAML::Exception& e) {
    return invalid(origin, e.what());
  }
  v1::GatewayConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &config, options);
  if (!status.ok()) return invalid(origin, std::string(status.message()));
  return config;
}

absl::StatusOr<v1::GatewayConfig> loadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return invalid(path, "cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace gattway::server
