// GattService over real gRPC against the gateway with the fake backend: operations, shared
// subscriptions, batches, and link drops during each.
#include <thread>

#include "ble/error.h"
#include "tests/support/fake_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;
using Op = FakeCentralBackend::Op;

class AGattRpc : public FakeGatewayTest {
 protected:
  void SetUp() override {
    FakeGatewayTest::SetUp();
    ASSERT_TRUE(connect().ok());
  }
  Address device() const { return *Address::parse(kDevice); }
  static v1::AttributeRef ref(const std::string& characteristic, const std::string& service = "") {
    v1::AttributeRef r;
    r.set_characteristic_uuid(characteristic);
    r.set_service_uuid(service);
    return r;
  }
  grpc::Status read(const v1::AttributeRef& attribute, v1::ReadResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ReadRequest request;
    request.set_address(kDevice);
    *request.mutable_attribute() = attribute;
    return gatt->Read(&ctx, request, out);
  }
  grpc::Status write(const v1::AttributeRef& attribute, const std::string& value,
                     v1::WriteMode mode, v1::WriteResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::WriteRequest request;
    request.set_address(kDevice);
    *request.mutable_attribute() = attribute;
    request.set_value(value);
    request.set_mode(mode);
    return gatt->Write(&ctx, request, out);
  }
  struct OpenSubscription {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader;
  };
  std::unique_ptr<OpenSubscription> subscribe(const std::string& characteristic,
                                              std::int32_t batchIntervalNanos = 0) {
    auto s = std::make_unique<OpenSubscription>();
    s->ctx.set_deadline(in(10000ms));
    v1::SubscribeRequest request;
    request.set_address(kDevice);
    *request.mutable_characteristic() = ref(characteristic);
    if (batchIntervalNanos > 0) request.mutable_batch_interval()->set_nanos(batchIntervalNanos);
    s->reader = gatt->Subscribe(&s->ctx, request);
    return s;
  }
};

TEST_F(AGattRpc, DiscoversTheWholeTreeAndTargets) {
  grpc::ClientContext ctx;
  v1::DiscoverRequest request;
  request.set_address(kDevice);
  v1::DiscoverResponse all;
  ASSERT_TRUE(gatt->Discover(&ctx, request, &all).ok());
  ASSERT_EQ(all.services_size(), 4);
  EXPECT_EQ(all.services(0).uuid(), "180D");
  EXPECT_EQ(all.services(0).characteristics(0).uuid(), "2A37");
  EXPECT_EQ(all.services(0).characteristics(0).handle(), 0x0010u);
  EXPECT_EQ(all.services(0).characteristics(0).properties(), 0x10u);
  EXPECT_EQ(all.services(0).characteristics(0).descriptors(0).uuid(), "2902");
  EXPECT_EQ(all.services(2).uuid(), "6e400001-b5a3-f393-e0a9-e50e24dcca9e");

  grpc::ClientContext ctx2;
  request.set_characteristic_uuid("0x2a19");
  v1::DiscoverResponse battery;
  ASSERT_TRUE(gatt->Discover(&ctx2, request, &battery).ok());
  ASSERT_EQ(battery.services_size(), 2);
  EXPECT_EQ(battery.services(0).characteristics_size(), 1);
}

TEST_F(AGattRpc, ReadsWritesAndReportsTheMtu) {
  v1::ReadResponse r;
  ASSERT_TRUE(read(ref("2A38"), &r).ok());
  EXPECT_EQ(r.value(), std::string("\x01", 1));
  EXPECT_EQ(r.handle(), 0x0013u);
  v1::WriteResponse w;
  ASSERT_TRUE(write(ref("2A39"), "\x05", v1::WRITE_MODE_UNSPECIFIED, &w).ok());
  EXPECT_EQ(w.mode(), v1::WRITE_MODE_WITH_RESPONSE);
  ASSERT_TRUE(write(ref("6e400002-b5a3-f393-e0a9-e50e24dcca9e"), "hi", v1::WRITE_MODE_AUTO, &w).ok());
  EXPECT_EQ(w.mode(), v1::WRITE_MODE_WITHOUT_RESPONSE);
  grpc::ClientContext ctx;
  v1::GetMtuRequest request;
  request.set_address(kDevice);
  v1::GetMtuResponse mtu;
  ASSERT_TRUE(gatt->GetMtu(&ctx, request, &mtu).ok());
  EXPECT_EQ(mtu.mtu(), 247u);
  auto s = write(ref("6e400002-b5a3-f393-e0a9-e50e24dcca9e"), std::string(245, 'x'),
                 v1::WRITE_MODE_WITHOUT_RESPONSE, &w);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(errorInfo(s).metadata().at("field"), "value");
}

TEST_F(AGattRpc, MapsTheDevicesAttErrorsByMeaning) {
  onLoop([&] {
    fake->failNext(Op::kRead, err::fromBluez("org.bluez.Error.NotPermitted", "Not paired", "read"));
    fake->failNext(Op::kRead, err::fromBluez("org.bluez.Error.Failed",
                                             "Operation failed with ATT error: 0x80", "read"));
  });
  v1::ReadResponse r;
  auto s = read(ref("2A38"), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(errorInfo(s).metadata().at("bluez_error"), "org.bluez.Error.NotPermitted");
  s = read(ref("2A38"), &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(errorInfo(s).metadata().at("att_error"), "0x80");
}

TEST_F(AGattRpc, FailsAReadOrWriteWithUnavailableWhenTheLinkDrops) {
  onLoop([&] {
    fake->setDelay(Op::kRead, absl::Seconds(10));
    fake->setDelay(Op::kWrite, absl::Seconds(10));
  });
  grpc::Status readStatus;
  std::thread reader([&] {
    v1::ReadResponse r;
    readStatus = read(ref("2A38"), &r);
  });
  ASSERT_TRUE(eventually([&] { return fake->pendingOperations() > 0; }));
  onLoop([&] { fake->dropLink(device()); });
  reader.join();
  EXPECT_EQ(readStatus.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(errorInfo(readStatus).reason(), "DISCONNECTED");

  ASSERT_TRUE(connect().ok());
  grpc::Status writeStatus;
  std::thread writer([&] {
    v1::WriteResponse w;
    writeStatus = write(ref("2A39"), "\x01", v1::WRITE_MODE_AUTO, &w);
  });
  ASSERT_TRUE(eventually([&] { return fake->pendingOperations() > 0; }));
  onLoop([&] { fake->dropLink(device()); });
  writer.join();
  EXPECT_EQ(writeStatus.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AGattRpc, SharesOneNotifySessionBetweenStreamsAndStopsItWithTheLast) {
  auto a = subscribe("2A37");
  auto b = subscribe("2A37");
  v1::SubscribeResponse m;
  for (auto* s : {a.get(), b.get()}) {
    ASSERT_TRUE(s->reader->Read(&m));
    EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
    EXPECT_EQ(m.event().method(), "StartNotify");
  }
  int starts = 0;
  onLoop([&] {
    starts = fake->calls(Op::kStartNotify);
    fake->notify(device(), 0x0010, {0x06, 0x48});
    fake->notify(device(), 0x0010, {0x06, 0x49});
  });
  EXPECT_EQ(starts, 1);
  for (auto* s : {a.get(), b.get()}) {
    std::vector<std::string> values;
    std::uint64_t lastSeq = 0;
    while (values.size() < 2 && s->reader->Read(&m)) {
      for (const auto& n : m.notifications()) {
        values.push_back(n.value());
        EXPECT_EQ(n.sequence(), lastSeq + 1);
        lastSeq = n.sequence();
      }
    }
    EXPECT_EQ(values, (std::vector<std::string>{"\x06\x48", "\x06\x49"}));
  }
  a->ctx.TryCancel();
  a->reader->Finish();
  EXPECT_TRUE(eventually([&] { return fake->notifying(device(), 0x0010); }));
  b->ctx.TryCancel();
  b->reader->Finish();
  EXPECT_TRUE(eventually([&] { return !fake->notifying(device(), 0x0010); }));
}

TEST_F(AGattRpc, BatchesValuesForTheBatchIntervalWhenAskedTo) {
  auto a = subscribe("2A37", 400'000'000);
  v1::SubscribeResponse m;
  ASSERT_TRUE(a->reader->Read(&m));
  EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
  // Three values 30 ms apart: each would go out alone without batching; with it they share a
  // message (two, when a flush falls between them).
  for (std::uint8_t v = 1; v <= 3; ++v) {
    onLoop([&] { fake->notify(device(), 0x0010, {v}); });
    std::this_thread::sleep_for(30ms);
  }
  std::vector<std::string> values;
  int messages = 0;
  while (values.size() < 3 && a->reader->Read(&m)) {
    ++messages;
    for (const auto& n : m.notifications()) {
      values.push_back(n.value());
      EXPECT_EQ(n.sequence(), values.size());
    }
  }
  EXPECT_EQ(values, (std::vector<std::string>{"\x01", "\x02", "\x03"}));
  EXPECT_LE(messages, 2);
  a->ctx.TryCancel();
  a->reader->Finish();
}

TEST_F(AGattRpc, EndsASubscriptionWithUnavailableWhenTheLinkDrops) {
  auto a = subscribe("2A37");
  v1::SubscribeResponse m;
  ASSERT_TRUE(a->reader->Read(&m));
  onLoop([&] {
    fake->notify(device(), 0x0010, {1});
    fake->dropLink(device());
  });
  ASSERT_TRUE(a->reader->Read(&m));  // the value that came before the drop still arrives
  EXPECT_EQ(m.notifications_size(), 1);
  EXPECT_FALSE(a->reader->Read(&m));
  auto s = a->reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(errorInfo(s).reason(), "DISCONNECTED");
}

TEST_F(AGattRpc, RefusesToSubscribeToWhatCannotNotify) {
  auto a = subscribe("2A38");
  v1::SubscribeResponse m;
  EXPECT_FALSE(a->reader->Read(&m));
  auto s = a->reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(errorInfo(s).reason(), "OPERATION_NOT_SUPPORTED");
}

struct BatchOutcome {
  std::vector<v1::ExecuteResponse> steps;
  grpc::Status status;
};

class ABatchRpc : public AGattRpc {
 protected:
  BatchOutcome execute(const v1::ExecuteRequest& request,
                       std::function<void()> whileRunning = nullptr) {
    BatchOutcome out;
    grpc::ClientContext ctx;
    ctx.set_deadline(in(10000ms));
    auto reader = gatt->Execute(&ctx, request);
    if (whileRunning) whileRunning();
    v1::ExecuteResponse step;
    while (reader->Read(&step)) out.steps.push_back(step);
    out.status = reader->Finish();
    return out;
  }
  static v1::ExecuteRequest batch(std::initializer_list<v1::GattOperation> ops) {
    v1::ExecuteRequest r;
    r.set_address(kDevice);
    for (const auto& op : ops) *r.add_operations() = op;
    return r;
  }
  static v1::GattOperation readOp(const std::string& characteristic) {
    v1::GattOperation op;
    *op.mutable_read()->mutable_attribute() = ref(characteristic);
    return op;
  }
  static v1::GattOperation writeOp(const std::string& characteristic, const std::string& value) {
    v1::GattOperation op;
    *op.mutable_write()->mutable_attribute() = ref(characteristic);
    op.mutable_write()->set_value(value);
    return op;
  }
};

TEST_F(ABatchRpc, StreamsOneMessagePerStepAndEndsOk) {
  v1::GattOperation discover;
  discover.mutable_discover()->set_service_uuid("180D");
  v1::GattOperation wait;
  wait.mutable_wait()->mutable_duration()->set_nanos(50'000'000);
  auto out = execute(batch({discover, writeOp("2A39", "\x02"), readOp("2A38"), wait}));
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  ASSERT_EQ(out.steps.size(), 4u);
  EXPECT_EQ(out.steps[0].discover().services_size(), 1);
  EXPECT_EQ(out.steps[1].write().mode(), v1::WRITE_MODE_WITH_RESPONSE);
  EXPECT_EQ(out.steps[2].read().value(), std::string("\x01", 1));
  EXPECT_TRUE(out.steps[3].has_wait());
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(out.steps[i].index(), i);
    EXPECT_EQ(out.steps[i].status().code(), 0);
  }
}

TEST_F(ABatchRpc, CancelsTheRunningStepOfASlowDeviceWhenTheBudgetRunsOut) {
  onLoop([&] { fake->setDelay(Op::kRead, absl::Seconds(5)); });
  auto request = batch({writeOp("2A39", "\x01"), readOp("2A38"), readOp("2A38")});
  request.mutable_budget()->set_nanos(500'000'000);
  const auto started = std::chrono::steady_clock::now();
  auto out = execute(request);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(errorInfo(out.status).reason(), "BUDGET_EXHAUSTED");
  EXPECT_EQ(errorInfo(out.status).metadata().at("steps_completed"), "1");
  ASSERT_EQ(out.steps.size(), 2u);
  EXPECT_EQ(out.steps[0].status().code(), 0);
  EXPECT_EQ(out.steps[1].status().code(), static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_TRUE(eventually([&] { return fake->pendingOperations() == 0; }));
}

TEST_F(ABatchRpc, EndsWithUnavailableWhenTheLinkDrops) {
  onLoop([&] { fake->setDelay(Op::kRead, absl::Seconds(5)); });
  auto out = execute(batch({writeOp("2A39", "\x01"), readOp("2A38"), readOp("2A38")}), [&] {
    ASSERT_TRUE(eventually([&] { return fake->calls(Op::kRead) > 0; }));
    onLoop([&] { fake->dropLink(device()); });
  });
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_EQ(out.steps.size(), 2u);
  EXPECT_EQ(out.steps[1].status().code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
}

TEST_F(ABatchRpc, ReportsFailedStepsAndStopsOnlyWhenAsked) {
  auto request = batch({readOp("2A39"), readOp("2A38")});
  auto out = execute(request);
  ASSERT_TRUE(out.status.ok());
  ASSERT_EQ(out.steps.size(), 2u);
  EXPECT_EQ(out.steps[0].status().code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_FALSE(out.steps[0].status().message().empty());
  request.set_stop_on_error(true);
  out = execute(request);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(out.steps.size(), 1u);
}

TEST_F(ABatchRpc, WaitsForNotificationsInsideTheBatch) {
  v1::GattOperation waitValues;
  *waitValues.mutable_wait_notifications()->mutable_characteristic() = ref("2A37");
  waitValues.mutable_wait_notifications()->set_count(2);
  auto out = execute(batch({waitValues}), [&] {
    ASSERT_TRUE(eventually([&] { return fake->notifying(device(), 0x0010); }));
    onLoop([&] {
      fake->notify(device(), 0x0010, {7});
      fake->notify(device(), 0x0010, {8});
    });
  });
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  ASSERT_EQ(out.steps[0].wait_notifications().notifications_size(), 2);
  EXPECT_EQ(out.steps[0].wait_notifications().notifications(1).value(), "\x08");
}

}  // namespace
}  // namespace gattway::testing
