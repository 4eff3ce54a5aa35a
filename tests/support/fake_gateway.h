// The gateway in-process over the fake backend, on an ephemeral port, for gRPC tests: real
// channels and stubs, the fake driven on the gateway's loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "gattway/v1/adapter.grpc.pb.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/gateway.h"
#include "tests/support/fake_central_backend.h"

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

inline std::chrono::system_clock::time_point in(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

class FakeGatewayTest : public ::testing::Test {
 protected:
  static constexpr const char* kDevice = "AA:BB:CC:DD:EE:01";

  void SetUp() override {
    server::GatewayOptions options;
    options.grpcAddress = "127.0.0.1:0";
    configure(options);
    gateway = std::make_unique<server::Gateway>(options, [this](Executor& loop) {
      auto backend = std::make_unique<FakeCentralBackend>(loop);
      backend->addAdapter("hci0");
      backend->addDevice(sampleDevice(kDevice));
      fake = backend.get();
      return backend;
    });
    ASSERT_TRUE(gateway->start().ok());
    onLoop([] {});  // the fake reports BlueZ up on the loop's next turn
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(gateway->grpcPort()),
                                  grpc::InsecureChannelCredentials());
    adapters = v1::AdapterService::NewStub(channel);
    scan = v1::ScanService::NewStub(channel);
    sessions = v1::SessionService::NewStub(channel);
    gatt = v1::GattService::NewStub(channel);
  }

  void TearDown() override {
    gateway.reset();
    fake = nullptr;
  }

  // A fixture's own options (a state directory, a config file).
  virtual void configure(server::GatewayOptions& options) { (void)options; }

  // Runs `fn` on the gateway's loop thread (where the fake lives) and waits.
  void onLoop(std::function<void()> fn) { gateway->runOnLoop(std::move(fn)); }

  // Polls `pred` on the loop until it holds, up to `limit`.
  bool eventually(std::function<bool()> pred,
                  std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      bool ok = false;
      onLoop([&] { ok = pred(); });
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  grpc::Status connect(const std::string& address = kDevice, v1::Session* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(std::chrono::milliseconds(5000)));
    v1::ConnectRequest request;
    request.set_address(address);
    v1::ConnectResponse response;
    auto s = sessions->Connect(&ctx, request, &response);
    if (out != nullptr) *out = response.session();
    return s;
  }

  std::unique_ptr<server::Gateway> gateway;
  FakeCentralBackend* fake = nullptr;  // loop thread only
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AdapterService::Stub> adapters;
  std::unique_ptr<v1::ScanService::Stub> scan;
  std::unique_ptr<v1::SessionService::Stub> sessions;
  std::unique_ptr<v1::GattService::Stub> gatt;
};

}  // namespace gattway::testing
