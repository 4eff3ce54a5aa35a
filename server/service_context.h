// What every gattway.v1 service reaches: the BLE loop, the central domain (loop thread only), the
// metrics and the registry of open streams.
#pragma once

#include "absl/functional/any_invocable.h"
#include "ble/central/central.h"
#include "ble/error.h"
#include "ble/executor.h"
#include "ble/metrics.h"
#include "grpcpp/support/server_callback.h"
#include "server/status.h"
#include "server/stream_registry.h"

namespace gattway::server {

struct ServiceContext {
  Executor& loop;
  Central& central;  // loop thread only
  Metrics& metrics;
  StreamRegistry& streams;
};

inline absl::Status shuttingDown() {
  return err::make(err::Reason::kShuttingDown, "the gateway is shutting down");
}

// Runs `fn` on the loop thread for a unary call; gRPC threads never wait for the radio. `fn`
// finishes `reactor` (at once or from a domain callback). While the gateway shuts down the call
// is answered UNAVAILABLE instead.
inline void onLoop(ServiceContext& ctx, grpc::ServerUnaryReactor* reactor,
                   absl::AnyInvocable<void()> fn) {
  ctx.loop.post([&ctx, reactor, fn = std::move(fn)]() mutable {
    if (ctx.central.shuttingDown()) {
      reactor->Finish(toGrpcStatus(shuttingDown()));
      return;
    }
    fn();
  });
}

}  // namespace gattway::server
