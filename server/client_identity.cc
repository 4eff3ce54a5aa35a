#include "server/client_identity.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"

namespace gattway::server {
namespace {

std::string firstProperty(const grpc::AuthContext& auth, const char* name) {
  auto values = auth.FindPropertyValues(name);
  if (values.empty()) return {};
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

std::string peerHost(absl::string_view peer) {
  if (!absl::StartsWith(peer, "ipv4:") && !absl::StartsWith(peer, "ipv6:")) {
    return std::string(peer);
  }
  const auto colon = peer.rfind(':');
  // "ipv6:[::1]:5000": the port follows the closing bracket.
  if (colon == absl::string_view::npos || colon < 5 ||
      (absl::StartsWith(peer, "ipv6:[") && peer[colon - 1] != ']')) {
    return std::string(peer);
  }
  return std::string(peer.substr(0, colon));
}

std::string clientKey(const grpc::CallbackServerContext& call) {
  if (auto auth = call.auth_context(); auth != nullptr) {
    if (auto token = firstProperty(*auth, "gattway-token"); !token.empty()) {
      return absl::StrCat("token:", token);
    }
    if (auto cn = firstProperty(*auth, GRPC_X509_CN_PROPERTY_NAME); !cn.empty()) {
      return absl::StrCat("cert:", cn);
    }
  }
  return absl::StrCat("peer:", peerHost(call.peer()));
}

}  // namespace gattway::server
