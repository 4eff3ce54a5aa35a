// Who may call what: bearer tokens with roles, checked for every call before it reaches a service.
//
// Roles: `viewer` may list, scan, read, subscribe, watch and read metrics; `operator` may also
// connect, write, run batches, manage policies, change adapters and drive the peripheral. Tokens
// live in a file as SHA-256 hashes (never in clear), reloaded on SIGHUP. The health and reflection
// services stay open (they expose no device data) so that probes and grpcurl `list` work.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace gattway::server {

enum class Role { kViewer = 1, kOperator = 2 };

absl::string_view roleName(Role role);

// The role a method needs ("/gattway.v1.GattService/Write" → operator); nullopt for methods open
// to everyone (health, reflection). Unknown gattway methods need operator (fail closed).
std::optional<Role> requiredRole(absl::string_view method);

// The methods the role table names explicitly (for the test that it covers the API exactly).
std::vector<std::string> methodsWithRoles();

// Lowercase hex SHA-256 of `token`.
std::string sha256Hex(absl::string_view token);

// The tokens file (YAML or JSON):
//   tokens:
//     - name: grafana          # who it is, for logs
//       role: viewer           # viewer | operator
//       sha256: 5e88489...     # printf %s "$TOKEN" | sha256sum
class TokenStore {
 public:
  // Loads `path`; errors name the entry at fault.
  static absl::StatusOr<std::unique_ptr<TokenStore>> load(const std::string& path);
  // Reloads the same file; on error keeps the tokens it had.
  absl::Status reload();

  struct Holder {
    std::string name;
    Role role;
  };
  // Any thread.
  std::optional<Holder> lookup(absl::string_view token) const;
  std::size_t size() const;

 private:
  explicit TokenStore(std::string path) : path_(std::move(path)) {}
  std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, Holder> byHash_;  // guarded by mu_
};

// Checks "authorization: Bearer <token>" against the store and the method's role. Runs on gRPC's
// threads before the call reaches a service: UNAUTHENTICATED without a valid token,
// PERMISSION_DENIED when the role is too low.
class TokenAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthProcessor(std::shared_ptr<const TokenStore> tokens)
      : tokens_(std::move(tokens)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override;

 private:
  std::shared_ptr<const TokenStore> tokens_;
};

}  // namespace gattway::server
