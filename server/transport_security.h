// How the gRPC port is protected: TLS (server certificate), mTLS (client certificates signed by a
// CA), bearer tokens with roles, and the rule that keeps a gateway from being exposed by accident.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "server/auth.h"

namespace gattway::server {

struct TransportSecurityOptions {
  std::string tlsCertFile;      // PEM certificate chain; with tlsKeyFile enables TLS
  std::string tlsKeyFile;       // PEM private key
  std::string tlsClientCaFile;  // PEM CA bundle; requires and verifies client certificates (mTLS)
  std::string tokensFile;       // bearer tokens with roles (see auth.h); empty: no tokens
  bool insecure = false;        // allow a non-loopback address without TLS or tokens
};

// Whether `address` is reachable only from this machine (127.0.0.0/8, ::1, localhost, unix:).
bool isLoopbackAddress(const std::string& address);

// The exposure rule: listening beyond loopback needs TLS, or an explicit `insecure` (and then no
// tokens: they would cross the network in clear). Returns FAILED_PRECONDITION saying what to do.
absl::Status checkExposure(const std::string& address, const TransportSecurityOptions& options);

// Server credentials for `address` and the options: TLS or plaintext, with the token processor
// attached when a store is given. Tokens without TLS are refused beyond loopback (they would cross
// the network in clear). Errors name the file that could not be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> makeServerCredentials(
    const std::string& address, const TransportSecurityOptions& options,
    std::shared_ptr<const TokenStore> tokens);

}  // namespace gattway::server
