// Small reactors shared by the services.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/status.h"

namespace gattway::server {

// A server-streaming reactor that ends at once with `status`.
template <typename Response>
class FinishedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedWriteReactor(const absl::Status& status) {
    this->Finish(toGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

// A bidirectional reactor that ends at once with `status`.
template <typename Request, typename Response>
class FinishedBidiReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit FinishedBidiReactor(const absl::Status& status) { this->Finish(toGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// Finishes a unary call with `status`.
inline grpc::ServerUnaryReactor* finishUnary(grpc::CallbackServerContext* context,
                                             const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(toGrpcStatus(status));
  return reactor;
}

}  // namespace gattway::server
