// The production gateway in-process — the real BluezCentralBackend on its own D-Bus connection and a
// real gRPC server on an ephemeral port — against the in-process simulated BlueZ on a private bus.
// Tests parameterised over the simulator's signal ordering (tidy, real) derive from it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "server/gateway.h"
#include "gmock/gmock.h"
#include "tests/support/grpc_clients.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {

// The demo fleet's heart-rate strap: Heart Rate 180D with Measurement 2A37 (notify, handle 0x000b)
// and Body Sensor Location 2A38 (read, "01").
inline constexpr char kHeartRateService[] = "180D";
inline constexpr char kHeartRateMeasurement[] = "2A37";
inline constexpr char kBodySensorLocation[] = "2A38";
// The camera's custom characteristics.
inline constexpr char kCamControl[] = "67617474-7761-7900-0000-0063616d0001";
inline constexpr char kCamStatus[] = "67617474-7761-7900-0000-0063616d0002";
inline constexpr char kCamSnapshot[] = "67617474-7761-7900-0000-0063616d0003";
inline constexpr char kCamSink[] = "67617474-7761-7900-0000-0063616d0004";

inline std::string orderingName(const ::testing::TestParamInfo<sim::Ordering>& info) {
  return info.param == sim::Ordering::kTidy ? "Tidy" : "Real";
}

inline v1::AttributeRef attribute(const std::string& characteristic,
                                  const std::string& service = "") {
  v1::AttributeRef ref;
  ref.set_characteristic_uuid(characteristic);
  ref.set_service_uuid(service);
  return ref;
}

class SimGatewayTest : public SimFixture,
                       public ::testing::WithParamInterface<sim::Ordering>,
                       public CentralClients {
 protected:
  // Starts the simulator (in the test's ordering) and the gateway on its bus.
  void SetUp() override { startAll(fastOptions()); }
  void TearDown() override {
    gateway.reset();
    stopSim();
  }

  void startAll(sim::SimOptions options) {
    options.ordering = GetParam();
    startSim(std::move(options));
    if (HasFatalFailure()) return;
    server::GatewayOptions g;
    g.grpcAddress = "127.0.0.1:0";
    g.dbusAddress = bus_.address();
    g.watchdog = watchdog;
    gateway = std::make_unique<server::Gateway>(g);
    ASSERT_TRUE(gateway->start().ok());
    dial(gateway->grpcPort());
    ASSERT_TRUE(eventuallyServing()) << "the gateway never listed hci0 powered";
  }

  // Waits until ListAdapters shows hci0 powered: the backend has mirrored org.bluez.
  bool eventuallyServing(std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      grpc::ClientContext ctx;
      ctx.set_deadline(in(std::chrono::milliseconds(2000)));
      v1::ListAdaptersResponse r;
      if (adapters->ListAdapters(&ctx, v1::ListAdaptersRequest(), &r).ok() &&
          r.adapters_size() > 0 && r.adapters(0).powered()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  grpc::Status connect(const std::string& address, v1::Session* out = nullptr,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(timeout + std::chrono::milliseconds(5000)));
    v1::ConnectRequest request;
    request.set_address(address);
    request.mutable_timeout()->set_seconds(timeout.count() / 1000);
    request.mutable_timeout()->set_nanos(static_cast<int>((timeout.count() % 1000) * 1000000));
    v1::ConnectResponse response;
    auto s = sessions->Connect(&ctx, request, &response);
    if (out != nullptr) *out = response.session();
    return s;
  }

  grpc::Status disconnect(const std::string& address) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(std::chrono::milliseconds(5000)));
    v1::DisconnectRequest request;
    request.set_address(address);
    v1::DisconnectResponse response;
    return sessions->Disconnect(&ctx, request, &response);
  }

  grpc::Status read(const std::string& address, const v1::AttributeRef& ref,
                    v1::ReadResponse* out = nullptr, std::uint32_t offset = 0) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(std::chrono::milliseconds(10000)));
    v1::ReadRequest request;
    request.set_address(address);
    *request.mutable_attribute() = ref;
    request.set_offset(offset);
    v1::ReadResponse response;
    auto s = gatt->Read(&ctx, request, &response);
    if (out != nullptr) *out = response;
    return s;
  }

  grpc::Status write(const std::string& address, const v1::AttributeRef& ref,
                     const std::string& value, v1::WriteMode mode = v1::WRITE_MODE_AUTO,
                     v1::WriteResponse* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(std::chrono::milliseconds(10000)));
    v1::WriteRequest request;
    request.set_address(address);
    *request.mutable_attribute() = ref;
    request.set_value(value);
    request.set_mode(mode);
    v1::WriteResponse response;
    auto s = gatt->Write(&ctx, request, &response);
    if (out != nullptr) *out = response;
    return s;
  }

  // Opens a Subscribe stream (its deadline set on `ctx`).
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> subscribe(
      grpc::ClientContext& ctx, const std::string& address, const v1::AttributeRef& ref) {
    ctx.set_deadline(in(std::chrono::milliseconds(15000)));
    v1::SubscribeRequest request;
    request.set_address(address);
    *request.mutable_characteristic() = ref;
    return gatt->Subscribe(&ctx, request);
  }

  // Runs a batch to its end: every step's message, and the final status.
  grpc::Status execute(const v1::ExecuteRequest& request, std::vector<v1::ExecuteResponse>* steps) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(std::chrono::milliseconds(15000)));
    auto reader = gatt->Execute(&ctx, request);
    v1::ExecuteResponse step;
    while (reader->Read(&step)) steps->push_back(step);
    return reader->Finish();
  }

  // Waits until the simulator has taken every queued fault (the operation is in flight there).
  bool faultTaken() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (onLoop([&] { return sim_->faults().pending(); }) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  // Waits until the simulated device holds no link (bluetoothd's disconnect grace included).
  bool eventuallyUnlinked(const std::string& address) {
    const Address a = *Address::parse(address);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      if (onLoop([&] { return sim_->air().find(a)->connectedTo().empty(); })) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<server::Gateway> gateway;
  WatchdogOptions watchdog;  // set before startAll
};

}  // namespace gattway::testing
