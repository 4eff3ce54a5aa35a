// The gRPC edge of error handling: absl::Status (from ble/) → grpc::Status carrying a
// google.rpc.ErrorInfo detail. Codes are decided in ble/error.cc; this only translates.
#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace gattway::server {

inline constexpr absl::string_view kErrorDomain = "gattway.dev";

// Same code and message; reason and metadata become an ErrorInfo in the status details. A status
// without a reason gets none in its ErrorInfo metadata but still carries the domain.
grpc::Status toGrpcStatus(const absl::Status& status);

}  // namespace gattway::server
