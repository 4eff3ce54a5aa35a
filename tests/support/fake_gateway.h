// The gateway in-process over the fake backend, on an ephemeral port, for gRPC tests: real
// channels and stubs, the fake driven on the gateway's loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "server/gateway.h"
#include "tests/support/fake_central_backend.h"
#include "tests/support/grpc_clients.h"

namespace gattway::testing {

class FakeGatewayTest : public ::testing::Test, public CentralClients {
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
    dial(gateway->grpcPort());
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
};

}  // namespace gattway::testing
