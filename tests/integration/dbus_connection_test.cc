// The loop-driven D-Bus connection and the bulk byte-array path, on a private bus.
#include "ble/dbus/connection.h"

#include <future>
#include <memory>
#include <vector>

#include "ble/dbus/message_bytes.h"
#include "gtest/gtest.h"
#include "sdbus-c++/sdbus-c++.h"
#include "tests/support/private_bus.h"

namespace gattway {
namespace {

constexpr const char* kName = "io.gattway.Test";
constexpr const char* kPath = "/io/gattway/test";
constexpr const char* kIface = "io.gattway.Test1";

class TwoLoopConnections : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<LoopThread>("test-server");
    client_ = std::make_unique<LoopThread>("test-client");
    auto a = dbus::openBus(bus_.address());
    auto b = dbus::openBus(bus_.address());
    ASSERT_TRUE(a.ok() && b.ok());
    (*a)->requestName(kName);
    serverConn_ = std::make_unique<dbus::LoopConnection>(server_->loop(), std::move(*a));
    clientConn_ = std::make_unique<dbus::LoopConnection>(client_->loop(), std::move(*b));
    server_->runSync([&] {
      object_ = sdbus::createObject(serverConn_->get(), kPath);
      object_->registerMethod(kIface, "Echo", "ay", "ay", [](sdbus::MethodCall call) {
        std::vector<std::uint8_t> in;
        ASSERT_TRUE(dbus::readBytes(call, in));
        auto reply = call.createReply();
        dbus::appendBytes(reply, in);
        reply.send();
      });
      object_->registerSignal(kIface, "Pushed", "ay");
      object_->finishRegistration();
    });
  }
  void TearDown() override {
    client_->runSync([&] {
      match_.reset();
      proxy_.reset();
      clientConn_.reset();
    });
    server_->runSync([&] {
      object_.reset();
      serverConn_.reset();
    });
  }

  testing::PrivateBus bus_;
  std::unique_ptr<LoopThread> server_, client_;
  std::unique_ptr<dbus::LoopConnection> serverConn_, clientConn_;
  std::unique_ptr<sdbus::IObject> object_;
  std::unique_ptr<sdbus::IProxy> proxy_;
  std::optional<sdbus::Slot> match_;
};

TEST_F(TwoLoopConnections, CarryAnAsyncCallWithAByteArrayBothWays) {
  std::vector<std::uint8_t> payload(244);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
  std::promise<std::vector<std::uint8_t>> got;
  client_->runSync([&] {
    proxy_ = sdbus::createProxy(clientConn_->get(), kName, kPath);
    auto call = proxy_->createMethodCall(kIface, "Echo");
    dbus::appendBytes(call, payload);
    proxy_->callMethod(call, [&](sdbus::MethodReply& reply, const sdbus::Error* error) {
      std::vector<std::uint8_t> out;
      if (error == nullptr) dbus::readBytes(reply, out);
      got.set_value(out);
    });
  });
  auto future = got.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(future.get(), payload);
}

TEST_F(TwoLoopConnections, DeliverEverySignalEmittedOnTheLoopThread) {
  constexpr int kSignals = 5000;
  std::promise<void> all;
  int received = 0;
  bool bytesOk = true;
  client_->runSync([&] {
    match_ = clientConn_->get().addMatch(
        std::string("type='signal',interface='") + kIface + "',member='Pushed'",
        [&](sdbus::Message& m) {
          std::vector<std::uint8_t> v;
          bytesOk = bytesOk && dbus::readBytes(m, v) && v.size() == 20 &&
                    v[0] == static_cast<std::uint8_t>(received);
          if (++received == kSignals) all.set_value();
        });
  });
  server_->runSync([&] {
    std::vector<std::uint8_t> v(20);
    for (int i = 0; i < kSignals; ++i) {
      v[0] = static_cast<std::uint8_t>(i);
      auto signal = object_->createSignal(kIface, "Pushed");
      dbus::appendBytes(signal, v);
      object_->emitSignal(signal);
    }
  });
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "received " << received;
  EXPECT_TRUE(bytesOk);
}

TEST(OpeningABus, ReportsAnUnreachableAddressAsUnavailable) {
  auto c = dbus::openBus("unix:path=/nonexistent/gattway-test-socket");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gattway
