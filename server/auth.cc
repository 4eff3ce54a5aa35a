#include "server/auth.h"

#include <openssl/evp.h>

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "yaml-cpp/yaml.h"

namespace gattway::server {
namespace {

// Every gattway.v1 method and the role it needs (a unit test checks that the table covers the
// API exactly).
const std::map<std::string, Role, std::less<>>& roleTable() {
  static const auto* kTable = new std::map<std::string, Role, std::less<>>{
      {"/gattway.v1.AdapterService/ListAdapters", Role::kViewer},
      {"/gattway.v1.AdapterService/GetAdapter", Role::kViewer},
      {"/gattway.v1.AdapterService/UpdateAdapter", Role::kOperator},
      {"/gattway.v1.ScanService/Scan", Role::kViewer},
      {"/gattway.v1.ScanService/ListDevices", Role::kViewer},
      {"/gattway.v1.SessionService/Connect", Role::kOperator},
      {"/gattway.v1.SessionService/Disconnect", Role::kOperator},
      {"/gattway.v1.SessionService/GetSession", Role::kViewer},
      {"/gattway.v1.SessionService/ListSessions", Role::kViewer},
      {"/gattway.v1.SessionService/WatchSessions", Role::kViewer},
      {"/gattway.v1.SessionService/CreatePolicy", Role::kOperator},
      {"/gattway.v1.SessionService/UpdatePolicy", Role::kOperator},
      {"/gattway.v1.SessionService/GetPolicy", Role::kViewer},
      {"/gattway.v1.SessionService/ListPolicies", Role::kViewer},
      {"/gattway.v1.SessionService/DeletePolicy", Role::kOperator},
      {"/gattway.v1.SessionService/ResolvePolicy", Role::kViewer},
      {"/gattway.v1.GattService/Discover", Role::kViewer},
      {"/gattway.v1.GattService/Read", Role::kViewer},
      {"/gattway.v1.GattService/Write", Role::kOperator},
      {"/gattway.v1.GattService/Subscribe", Role::kViewer},
      {"/gattway.v1.GattService/GetMtu", Role::kViewer},
      {"/gattway.v1.GattService/Execute", Role::kOperator},
      {"/gattway.v1.PeripheralService/RegisterServices", Role::kOperator},
      {"/gattway.v1.PeripheralService/UnregisterServices", Role::kOperator},
      {"/gattway.v1.PeripheralService/StartAdvertising", Role::kOperator},
      {"/gattway.v1.PeripheralService/StopAdvertising", Role::kOperator},
      {"/gattway.v1.PeripheralService/SetValue", Role::kOperator},
      {"/gattway.v1.PeripheralService/GetValue", Role::kViewer},
      {"/gattway.v1.PeripheralService/Notify", Role::kOperator},
      {"/gattway.v1.PeripheralService/StreamWrites", Role::kOperator},
      {"/gattway.v1.PeripheralService/HandleReads", Role::kOperator},
      {"/gattway.v1.PeripheralService/WatchPeripheral", Role::kViewer},
      {"/gattway.v1.PeripheralService/GetPeripheral", Role::kViewer},
      {"/gattway.v1.MetricsService/GetMetrics", Role::kViewer},
  };
  return *kTable;
}

std::optional<Role> parseRole(absl::string_view s) {
  if (s == "viewer") return Role::kViewer;
  if (s == "operator") return Role::kOperator;
  return std::nullopt;
}

}  // namespace

std::vector<std::string> methodsWithRoles() {
  std::vector<std::string> out;
  for (const auto& [method, role] : roleTable()) out.push_back(method);
  return out;
}

absl::string_view roleName(Role role) { return role == Role::kOperator ? "operator" : "viewer"; }

std::optional<Role> requiredRole(absl::string_view method) {
  const auto& table = roleTable();
  if (auto it = table.find(method); it != table.end()) return it->second;
  if (absl::StartsWith(method, "/grpc.health.v1.Health/") ||
      absl::StartsWith(method, "/grpc.reflection.")) {
    return std::nullopt;
  }
  return Role::kOperator;
}

std::string sha256Hex(absl::string_view token) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::load(const std::string& path) {
  std::unique_ptr<TokenStore> store(new TokenStore(path));
  if (auto s = store->reload(); !s.ok()) return s;
  return store;
}

absl::Status TokenStore::reload() {
  std::map<std::string, Holder> loaded;
  try {
    const YAML::Node root = YAML::LoadFile(path_);
    const YAML::Node tokens = root["tokens"];
    if (!tokens || !tokens.IsSequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": expected a `tokens:` list of {name, role, sha256}"));
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const YAML::Node t = tokens[i];
      const std::string where = absl::StrCat(path_, ": tokens[", i, "]");
      const std::string name = t["name"] ? t["name"].as<std::string>() : "";
      const std::string roleText = t["role"] ? t["role"].as<std::string>() : "";
      std::string hash = t["sha256"] ? t["sha256"].as<std::string>() : "";
      absl::AsciiStrToLower(&hash);
      const auto role = parseRole(roleText);
      if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": name is missing"));
      if (!role) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".role: \"", roleText, "\" is not viewer or operator"));
      }
      if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".sha256: expected 64 hex digits (printf %s \"$TOKEN\" | sha256sum)"));
      }
      loaded[hash] = Holder{name, *role};
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", e.what()));
  }
  std::lock_guard lock(mu_);
  byHash_ = std::move(loaded);
  return absl::OkStatus();
}

std::optional<TokenStore::Holder> TokenStore::lookup(absl::string_view token) const {
  const std::string hash = sha256Hex(token);
  std::lock_guard lock(mu_);
  auto it = byHash_.find(hash);
  if (it == byHash_.end()) return std::nullopt;
  return it->second;
}

std::size_t TokenStore::size() const {
  std::lock_guard lock(mu_);
  return byHash_.size();
}

grpc::Status TokenAuthProcessor::Process(const InputMetadata& metadata, grpc::AuthContext* context,
                                         OutputMetadata* consumed, OutputMetadata*) {
  std::string method;
  if (auto it = metadata.find(":path"); it != metadata.end()) {
    method.assign(it->second.data(), it->second.size());
  }
  const std::optional<Role> needed = requiredRole(method);
  if (!needed) return grpc::Status::OK;

  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat(method, " needs a token: send the metadata "
                                             "\"authorization: Bearer <token>\""));
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the authorization metadata must read \"Bearer <token>\"");
  }
  const auto holder = tokens_->lookup(value);
  if (!holder) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
  consumed->insert({"authorization", std::string(it->second.data(), it->second.size())});
  context->AddProperty("gattway-token", holder->name);
  context->AddProperty("gattway-role", std::string(roleName(holder->role)));
  if (static_cast<int>(holder->role) < static_cast<int>(*needed)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(method, " needs the ", roleName(*needed), " role; token \"",
                                     holder->name, "\" has ", roleName(holder->role)));
  }
  return grpc::Status::OK;
}

}  // namespace gattway::server
