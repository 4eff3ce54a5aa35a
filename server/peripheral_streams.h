// The streaming reactors of gattway.v1.PeripheralService: StreamWrites, WatchPeripheral and the
// bidirectional HandleReads, on the same QueuedStream as the central's streams (bounded queue,
// counted drops, gap reports, StreamRegistry membership). Each subscribes on the loop thread and
// unsubscribes there once cancelled or done; the loop runs tasks in order, so an unsubscribe never
// overtakes its subscribe.
#pragma once

#include "ble/executor.h"
#include "ble/metrics.h"
#include "ble/peripheral/peripheral.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "grpcpp/server_context.h"

namespace gattway::server {

class StreamRegistry;

// What a peripheral stream needs of the gateway.
struct StreamHost {
  Executor& loop;
  StreamRegistry& streams;
  Metrics& metrics;
};

grpc::ServerWriteReactor<v1::StreamWritesResponse>* newStreamWritesReactor(
    StreamHost host, peripheral::Peripheral& peripheral, const grpc::CallbackServerContext& call,
    const v1::StreamWritesRequest& request);

grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* newWatchReactor(
    StreamHost host, peripheral::Peripheral& peripheral, const grpc::CallbackServerContext& call);

grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>* newHandleReadsReactor(
    StreamHost host, peripheral::Peripheral& peripheral, const grpc::CallbackServerContext& call);

}  // namespace gattway::server
