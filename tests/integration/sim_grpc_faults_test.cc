// Faults of the simulated BlueZ seen over gRPC through the production backend: links that drop
// during a read, a write, a subscription and a batch; every kind of connect failure; InProgress; a
// slow device against a batch budget; bluetoothd restarting under open streams. Each call ends
// with the documented code (never by the test's own deadline), and the gateway serves afterwards.
#include <thread>
#include <future>

#include "tests/support/sim_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

const Address kHrm = *Address::parse(kHrmAddress);
const Address kCam = *Address::parse(kCamAddress);
constexpr std::uint16_t kBodySensorLocationHandle = 0x000e;
constexpr std::uint16_t kCamControlHandle = 0x000b;
constexpr std::uint16_t kCamSnapshotHandle = 0x0011;

class FaultsOverGrpc : public SimGatewayTest {
 protected:
  // Queues a GATT fault that holds the next operation on `handle` for `delay`.
  void slowGatt(const Address& device, std::uint16_t handle, absl::Duration delay) {
    onLoop([&] {
      sim::GattFaultSpec f;
      f.delay = delay;
      f.handle = handle;
      sim_->failNextGattOperation(device, f);
    });
  }
  void dropLink(const Address& device) {
    ASSERT_TRUE(onLoop([&] { return sim_->dropLink(device, sim::DropReason::kRemote); }).ok());
  }
  void failConnect(sim::ConnectFault kind, absl::Duration delay = absl::ZeroDuration()) {
    onLoop([&] {
      sim::ConnectFaultSpec f;
      f.kind = kind;
      f.delay = delay;
      sim_->failNextConnect(kHrm, f);
    });
  }
  // The gateway still serves: a fresh connect and a read succeed.
  void expectServing(const std::string& address = kHrmAddress) {
    auto s = connect(address);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::ReadResponse r;
    s = read(kHrmAddress, attribute(kBodySensorLocation), &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.value(), std::string("\x01", 1));
  }
  grpc::StatusCode sessionLookup(const std::string& address) {
    grpc::ClientContext ctx;
    v1::GetSessionRequest request;
    request.set_address(address);
    v1::GetSessionResponse response;
    return sessions->GetSession(&ctx, request, &response).error_code();
  }
  // The session ends on the loop turn that handles the link's end, which may follow the failed
  // call's answer: wait for it (bounded) rather than race it.
  bool eventuallyGone(const std::string& address) {
    for (int i = 0; i < 250; ++i) {
      if (sessionLookup(address) == grpc::StatusCode::NOT_FOUND) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
};

TEST_P(FaultsOverGrpc, ALinkDropDuringAReadEndsItUnavailable) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  slowGatt(kHrm, kBodySensorLocationHandle, absl::Seconds(3));
  auto pending = std::async(std::launch::async, [&] {
    return read(kHrmAddress, attribute(kBodySensorLocation));
  });
  ASSERT_TRUE(faultTaken());
  dropLink(kHrm);
  auto s = pending.get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(errorInfo(s).reason(), "DISCONNECTED") << s.error_message();
  // The ephemeral session ended with its link.
  EXPECT_TRUE(eventuallyGone(kHrmAddress));
  expectServing();
}

TEST_P(FaultsOverGrpc, ALinkDropDuringAWriteEndsItUnavailable) {
  ASSERT_TRUE(connect(kCamAddress).ok());
  slowGatt(kCam, kCamControlHandle, absl::Seconds(3));
  auto pending = std::async(std::launch::async, [&] {
    return write(kCamAddress, attribute(kCamControl), "\x01");
  });
  ASSERT_TRUE(faultTaken());
  dropLink(kCam);
  auto s = pending.get();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(errorInfo(s).reason(), "DISCONNECTED") << s.error_message();
  expectServing();
}

TEST_P(FaultsOverGrpc, ALinkDropEndsASubscriptionUnavailable) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  grpc::ClientContext ctx;
  auto reader = subscribe(ctx, kHrmAddress, attribute(kHeartRateMeasurement));
  v1::SubscribeResponse m;
  ASSERT_TRUE(reader->Read(&m));
  ASSERT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
  dropLink(kHrm);
  while (reader->Read(&m)) {
  }
  auto s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  expectServing();
}

TEST_P(FaultsOverGrpc, ALinkDropEndsABatchUnavailableWithTheStepsSoFar) {
  ASSERT_TRUE(connect(kCamAddress).ok());
  slowGatt(kCam, kCamSnapshotHandle, absl::Seconds(3));
  grpc::ClientContext ctx;
  ctx.set_deadline(in(15000ms));
  v1::ExecuteRequest request;
  request.set_address(kCamAddress);
  *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamStatus);
  *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamSnapshot);
  *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamStatus);
  auto reader = gatt->Execute(&ctx, request);
  v1::ExecuteResponse step;
  ASSERT_TRUE(reader->Read(&step));
  EXPECT_EQ(step.index(), 0u);
  EXPECT_EQ(step.status().code(), 0);
  ASSERT_TRUE(faultTaken());
  dropLink(kCam);
  std::vector<v1::ExecuteResponse> rest;
  while (reader->Read(&step)) rest.push_back(step);
  auto s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  for (const auto& r : rest) EXPECT_NE(r.index(), 2u) << "a step ran after the link dropped";
  EXPECT_EQ(errorInfo(s).metadata().at("steps_completed"), "1");
  expectServing();
}

TEST_P(FaultsOverGrpc, ReportsEachKindOfConnectFailure) {
  // A short scan first, so that BlueZ has the device and Connect goes through Device1.Connect.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(10000ms));
    v1::ScanRequest r;
    r.mutable_filter()->add_addresses(kHrmAddress);
    r.mutable_duration()->set_nanos(300'000'000);
    auto scanner = scan->Scan(&ctx, r);
    v1::ScanResponse m;
    while (scanner->Read(&m)) {
    }
    ASSERT_TRUE(scanner->Finish().ok());
  }
  struct Case {
    const char* name;
    sim::ConnectFault kind;
    absl::Duration delay;
    grpc::StatusCode code;
    const char* reason;
    const char* message;  // in the status message
  };
  const std::vector<Case> cases = {
      {"abort-by-local", sim::ConnectFault::kAbortByLocal, absl::ZeroDuration(),
       grpc::StatusCode::UNAVAILABLE, "BLUEZ_ERROR", "le-connection-abort-by-local"},
      {"timeout", sim::ConnectFault::kTimeout, absl::Milliseconds(200),
       grpc::StatusCode::UNAVAILABLE, "BLUEZ_ERROR", "le-connection-abort-by-local"},
      {"failed", sim::ConnectFault::kFailed, absl::ZeroDuration(), grpc::StatusCode::UNAVAILABLE,
       "BLUEZ_ERROR", "Input/output error"},
      // Busy with a connect the gateway did not start: one is no wedge for the watchdog.
      {"in-progress", sim::ConnectFault::kInProgress, absl::ZeroDuration(),
       grpc::StatusCode::ABORTED, "IN_PROGRESS", "Operation already in progress"},
      {"hang", sim::ConnectFault::kHang, absl::ZeroDuration(),
       grpc::StatusCode::DEADLINE_EXCEEDED, "TIMEOUT", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    failConnect(c.kind, c.delay);
    auto s = connect(kHrmAddress, nullptr, 1000ms);
    EXPECT_EQ(s.error_code(), c.code) << s.error_message();
    EXPECT_EQ(errorInfo(s).reason(), c.reason) << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr(c.message));
    // No session and no link is left behind.
    EXPECT_TRUE(eventuallyGone(kHrmAddress));
    EXPECT_TRUE(eventuallyUnlinked(kHrmAddress));
  }
  expectServing();
}

TEST_P(FaultsOverGrpc, ExplainsAFailedConnectDeviceThatBluezGivesNoReasonFor) {
  // Never scanned: the gateway uses Adapter1.ConnectDevice, whose failures 5.66 names
  // "org.bluez.Failed" with no message.
  failConnect(sim::ConnectFault::kAbortByLocal);
  auto s = connect(kHrmAddress, nullptr, 1000ms);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(errorInfo(s).reason(), "BLUEZ_ERROR");
  EXPECT_EQ(errorInfo(s).metadata().at("bluez_error"), "org.bluez.Failed");
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("ConnectDevice"));
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("BlueZ gives no reason"));
  expectServing();
}

TEST_P(FaultsOverGrpc, ReportsAGattInProgressAsAborted) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  onLoop([&] {
    sim::GattFaultSpec f;
    f.errorName = "org.bluez.Error.InProgress";
    f.errorMessage = "In Progress";
    sim_->failNextGattOperation(kHrm, f);
  });
  auto s = read(kHrmAddress, attribute(kBodySensorLocation));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_EQ(errorInfo(s).reason(), "IN_PROGRESS");
  expectServing();
}

TEST_P(FaultsOverGrpc, ASlowDeviceSpendsTheBatchBudgetAndTheRunningStepIsCancelled) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  slowGatt(kHrm, kBodySensorLocationHandle, absl::Seconds(3));
  v1::ExecuteRequest request;
  request.set_address(kHrmAddress);
  request.mutable_budget()->set_nanos(800'000'000);
  request.add_operations()->mutable_discover()->set_service_uuid(kHeartRateService);
  *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kBodySensorLocation);
  request.add_operations()->mutable_discover();
  std::vector<v1::ExecuteResponse> steps;
  auto s = execute(request, &steps);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_EQ(errorInfo(s).reason(), "BUDGET_EXHAUSTED");
  EXPECT_EQ(errorInfo(s).metadata().at("steps_completed"), "1");
  ASSERT_EQ(steps.size(), 2u);  // the discover's result, then the cancelled read
  EXPECT_EQ(steps[0].status().code(), 0);
  EXPECT_EQ(steps[0].discover().services_size(), 1);
  EXPECT_EQ(steps[1].index(), 1u);
  EXPECT_EQ(steps[1].status().code(), static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
  // The session survives a spent budget.
  EXPECT_EQ(sessionLookup(kHrmAddress), grpc::StatusCode::OK);
  expectServing();
}

TEST_P(FaultsOverGrpc, ABluetoothdRestartEndsOpenStreamsAndTheGatewayServesAgain) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  grpc::ClientContext scanCtx, subCtx, watchCtx;
  scanCtx.set_deadline(in(20000ms));
  watchCtx.set_deadline(in(20000ms));
  auto scanner = scan->Scan(&scanCtx, v1::ScanRequest());
  auto subscriber = subscribe(subCtx, kHrmAddress, attribute(kHeartRateMeasurement));
  auto watcher = sessions->WatchSessions(&watchCtx, v1::WatchSessionsRequest());
  v1::ScanResponse sr;
  ASSERT_TRUE(scanner->Read(&sr));
  v1::SubscribeResponse m;
  ASSERT_TRUE(subscriber->Read(&m));
  ASSERT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);

  std::promise<absl::Status> back;
  onLoop([&] {
    sim_->restartBluetoothd(absl::Milliseconds(300), [&back](absl::Status st) { back.set_value(st); });
  });
  // Streams on BlueZ end UNAVAILABLE (the proto: "also mid-stream, when BlueZ leaves the bus").
  while (scanner->Read(&sr)) {
  }
  auto s = scanner->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  while (subscriber->Read(&m)) {
  }
  s = subscriber->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // WatchSessions does not depend on BlueZ: it reports the session's end and stays open.
  v1::WatchSessionsResponse e;
  bool removed = false;
  while (!removed && watcher->Read(&e)) removed = e.session().state() == v1::SESSION_STATE_REMOVED;
  EXPECT_TRUE(removed);
  watchCtx.TryCancel();
  watcher->Finish();

  auto future = back.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(future.get().ok());
  ASSERT_TRUE(eventuallyServing());
  expectServing();
  // And scanning works again.
  grpc::ClientContext again;
  again.set_deadline(in(10000ms));
  v1::ScanRequest r;
  r.mutable_filter()->add_addresses(kCamAddress);
  r.mutable_duration()->set_seconds(1);
  auto scanner2 = scan->Scan(&again, r);
  int results = 0;
  while (scanner2->Read(&sr)) results += sr.results_size();
  EXPECT_TRUE(scanner2->Finish().ok());
  EXPECT_GE(results, 1);
}

INSTANTIATE_TEST_SUITE_P(Orderings, FaultsOverGrpc,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing
