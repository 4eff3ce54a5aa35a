// gRPC-level figures: finished calls by method and code, open streaming calls. Counted by a server
// interceptor, so no service has to remember to.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ble/metrics.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"

namespace gattway::server {

class RpcMetrics {
 public:
  struct CallCount {
    std::string method;  // "/gattway.v1.GattService/Read"
    grpc::StatusCode code;
    std::uint64_t count;
  };

  void countCall(const std::string& method, grpc::StatusCode code);
  std::vector<CallCount> calls() const;  // ordered by method, then code

  Gauge openStreams;

  // The interceptor factory to register with the ServerBuilder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> interceptorFactory();

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> calls_;  // guarded by mu_
};

// "OK", "INVALID_ARGUMENT", ... (the canonical names).
const char* statusCodeName(int code);

}  // namespace gattway::server
