#include "server/transport_security.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gattway::server {
namespace {

absl::StatusOr<std::string> readFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is empty"));
  return text.str();
}

}  // namespace

bool isLoopbackAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  const auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status checkExposure(const std::string& address, const TransportSecurityOptions& options) {
  const bool tls = !options.tlsCertFile.empty();
  const bool tokens = !options.tokensFile.empty();
  if (isLoopbackAddress(address) || tls) return absl::OkStatus();
  if (tokens) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bearer tokens on ", address,
        " would cross the network in clear: add --tls_cert/--tls_key (tokens without TLS are "
        "accepted on loopback and unix: addresses only)"));
  }
  if (options.insecure) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to serve ", address,
      " in plaintext without tokens: anyone on the network could drive the radio. Use "
      "--tls_cert/--tls_key (with --tokens_file for roles), or say --insecure if that is what "
      "you want"));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> makeServerCredentials(
    const std::string& address, const TransportSecurityOptions& options,
    std::shared_ptr<const TokenStore> tokens) {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.tlsCertFile.empty() != options.tlsKeyFile.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!options.tlsClientCaFile.empty() && options.tlsCertFile.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca (mTLS) needs --tls_cert and --tls_key");
  }
  if (!options.tlsCertFile.empty()) {
    auto cert = readFile(options.tlsCertFile, "TLS certificate");
    if (!cert.ok()) return cert.status();
    auto key = readFile(options.tlsKeyFile, "TLS key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!options.tlsClientCaFile.empty()) {
      auto ca = readFile(options.tlsClientCaFile, "client CA bundle");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    creds = grpc::SslServerCredentials(ssl);
  } else if (tokens) {
    // gRPC attaches a token processor only to credentials with a security connector; plaintext
    // has none. Local credentials are plaintext on the wire but accept only local peers, so tokens
    // work without TLS exactly where sending them in clear is safe (checkExposure refuses the
    // rest).
    if (auto s = checkExposure(address, options); !s.ok()) return s;
    creds = grpc::experimental::LocalServerCredentials(
        absl::StartsWith(address, "unix") ? UDS : LOCAL_TCP);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  if (tokens) creds->SetAuthMetadataProcessor(std::make_shared<TokenAuthProcessor>(tokens));
  return creds;
}

}  // namespace gattway::server
