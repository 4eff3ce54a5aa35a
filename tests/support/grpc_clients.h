// Helpers for tests that call an in-process gateway over real gRPC: the central stubs, error
// details and deadlines.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "gattway/v1/adapter.grpc.pb.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"

namespace gattway::testing {

// The ErrorInfo of a failed call (empty when it has none).
inline google::rpc::ErrorInfo errorInfo(const grpc::Status& status) {
  google::rpc::Status rich;
  google::rpc::ErrorInfo info;
  if (rich.ParseFromString(status.error_details()) && rich.details_size() > 0) {
    rich.details(0).UnpackTo(&info);
  }
  return info;
}

// A deadline `d` from now.
inline std::chrono::system_clock::time_point in(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// A channel to 127.0.0.1:`port` and a stub for each central service.
struct CentralClients {
  void dial(int port) {
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                  grpc::InsecureChannelCredentials());
    adapters = v1::AdapterService::NewStub(channel);
    scan = v1::ScanService::NewStub(channel);
    sessions = v1::SessionService::NewStub(channel);
    gatt = v1::GattService::NewStub(channel);
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AdapterService::Stub> adapters;
  std::unique_ptr<v1::ScanService::Stub> scan;
  std::unique_ptr<v1::SessionService::Stub> sessions;
  std::unique_ptr<v1::GattService::Stub> gatt;
};

}  // namespace gattway::testing
