// The gRPC server: gattway.v1 services on the callback API, the standard health service and
// server reflection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/support/server_interceptor.h"

namespace gattway::server {

class GrpcServer {
 public:
  using InterceptorFactories =
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>;
  // `services` must outlive the server.
  GrpcServer(std::vector<grpc::Service*> services, InterceptorFactories interceptors = {});
  ~GrpcServer();

  // Binds and starts serving. An address with port 0 binds an ephemeral port (see port()).
  absl::Status start(const std::string& address,
                     std::shared_ptr<grpc::ServerCredentials> credentials,
                     int maxMessageBytes);
  int port() const { return port_; }

  // Health: SERVING / NOT_SERVING for the whole server and every gattway.v1 service.
  void setServing(bool serving);

  // Stops accepting calls, gives running ones `grace` to finish, then cancels the rest.
  void shutdown(absl::Duration grace);

 private:
  std::vector<grpc::Service*> services_;
  InterceptorFactories interceptors_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Fully qualified names of the gattway.v1 services, as health and reflection report them.
const std::vector<std::string>& apiServiceNames();

}  // namespace gattway::server
