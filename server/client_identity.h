// Who a call comes from, for per-client limits: the bearer token's name when tokens are on, else
// the client certificate's common name under mTLS, else the peer's address without its port
// (every connection from one host is one client; all local Unix-socket callers are one client).
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace gattway::server {

std::string clientKey(const grpc::CallbackServerContext& call);

// "ipv4:10.0.0.7:51234" → "ipv4:10.0.0.7", "ipv6:[::1]:5000" → "ipv6:[::1]"; anything without a
// port (unix:…) is returned whole.
std::string peerHost(absl::string_view peer);

}  // namespace gattway::server
