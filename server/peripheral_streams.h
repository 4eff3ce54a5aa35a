// The streaming reactors of gattway.v1.PeripheralService: StreamWrites, WatchPeripheral and the
// bidirectional HandleReads. Each subscribes on the loop thread and unsubscribes (posted) from
// OnDone; the loop runs tasks in order, so an unsubscribe never overtakes its subscribe.
#pragma once

#include "ble/executor.h"
#include "ble/metrics.h"
#include "ble/peripheral/peripheral.h"
#include "gattway/v1/peripheral.grpc.pb.h"

namespace gattway::server {

grpc::ServerWriteReactor<v1::StreamWritesResponse>* newStreamWritesReactor(
    Executor& loop, peripheral::Peripheral& peripheral, Metrics& metrics,
    const v1::StreamWritesRequest& request);

grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* newWatchReactor(
    Executor& loop, peripheral::Peripheral& peripheral);

grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>* newHandleReadsReactor(
    Executor& loop, peripheral::Peripheral& peripheral);

}  // namespace gattway::server
