// gattway.v1.PeripheralService: translates to the peripheral domain (ble/peripheral) on the
// loop thread. Unary calls are checked here, posted to the loop and finished from the domain's
// callback; streams are QueuedStreams (server/stream_reactor.h) registered with the gateway's
// StreamRegistry.
#pragma once

#include "ble/executor.h"
#include "ble/metrics.h"
#include "ble/peripheral/peripheral.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "server/peripheral_streams.h"
#include "server/stream_registry.h"

namespace gattway::server {

class PeripheralServiceImpl final : public v1::PeripheralService::CallbackService {
 public:
  // Without a peripheral (no D-Bus connection), every call answers UNAVAILABLE.
  PeripheralServiceImpl() = default;
  PeripheralServiceImpl(Executor* loop, peripheral::Peripheral* peripheral, Metrics* metrics,
                        StreamRegistry* streams)
      : loop_(loop), peripheral_(peripheral), metrics_(metrics), streams_(streams) {}
  void attach(Executor* loop, peripheral::Peripheral* peripheral, Metrics* metrics,
              StreamRegistry* streams) {
    loop_ = loop;
    peripheral_ = peripheral;
    metrics_ = metrics;
    streams_ = streams;
  }

  grpc::ServerUnaryReactor* RegisterServices(grpc::CallbackServerContext* context, const v1::RegisterServicesRequest* request, v1::RegisterServicesResponse* response) override;
  grpc::ServerUnaryReactor* UnregisterServices(grpc::CallbackServerContext* context, const v1::UnregisterServicesRequest* request, v1::UnregisterServicesResponse* response) override;
  grpc::ServerUnaryReactor* StartAdvertising(grpc::CallbackServerContext* context, const v1::StartAdvertisingRequest* request, v1::StartAdvertisingResponse* response) override;
  grpc::ServerUnaryReactor* StopAdvertising(grpc::CallbackServerContext* context, const v1::StopAdvertisingRequest* request, v1::StopAdvertisingResponse* response) override;
  grpc::ServerUnaryReactor* SetValue(grpc::CallbackServerContext* context, const v1::SetValueRequest* request, v1::SetValueResponse* response) override;
  grpc::ServerUnaryReactor* GetValue(grpc::CallbackServerContext* context, const v1::GetValueRequest* request, v1::GetValueResponse* response) override;
  grpc::ServerUnaryReactor* Notify(grpc::CallbackServerContext* context, const v1::NotifyRequest* request, v1::NotifyResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamWritesResponse>* StreamWrites(grpc::CallbackServerContext* context, const v1::StreamWritesRequest* request) override;
  grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>* HandleReads(grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* WatchPeripheral(grpc::CallbackServerContext* context, const v1::WatchPeripheralRequest* request) override;
  grpc::ServerUnaryReactor* GetPeripheral(grpc::CallbackServerContext* context, const v1::GetPeripheralRequest* request, v1::GetPeripheralResponse* response) override;

 private:
  StreamHost host() const { return StreamHost{*loop_, *streams_, *metrics_}; }

  Executor* loop_ = nullptr;
  peripheral::Peripheral* peripheral_ = nullptr;
  Metrics* metrics_ = nullptr;
  StreamRegistry* streams_ = nullptr;
};

}  // namespace gattway::server
