// Gateway::shutdown with streams and calls open: every one ends, within the 5 s gattwayd promises.
#include <thread>

#include "tests/support/fake_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;
using Op = FakeCentralBackend::Op;

class AShutdown : public FakeGatewayTest {};

TEST_F(AShutdown, EndsEveryOpenStreamAndPendingCallWithinTheGrace) {
  ASSERT_TRUE(connect().ok());
  onLoop([&] {
    fake->setDelay(Op::kRead, absl::Seconds(30));
    for (int i = 0; i < 3000; ++i) {
      FakeDevice d = sampleDevice("C0:00:00:00:00:01");
      fake->addDevice(d);
    }
  });
  struct Call {
    grpc::ClientContext ctx;
    grpc::Status status;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Call>> calls;
  auto start = [&](std::function<grpc::Status(grpc::ClientContext*)> fn) {
    auto c = std::make_unique<Call>();
    c->ctx.set_deadline(in(20000ms));
    Call* raw = c.get();
    raw->thread = std::thread([raw, fn] { raw->status = fn(&raw->ctx); });
    calls.push_back(std::move(c));
  };
  start([&](grpc::ClientContext* ctx) {  // a scan being read
    auto r = scan->Scan(ctx, v1::ScanRequest());
    v1::ScanResponse m;
    while (r->Read(&m)) {
    }
    return r->Finish();
  });
  start([&](grpc::ClientContext* ctx) {  // a subscription
    v1::SubscribeRequest request;
    request.set_address(kDevice);
    request.mutable_characteristic()->set_characteristic_uuid("2A37");
    auto r = gatt->Subscribe(ctx, request);
    v1::SubscribeResponse m;
    while (r->Read(&m)) {
    }
    return r->Finish();
  });
  start([&](grpc::ClientContext* ctx) {  // a session watch
    auto r = sessions->WatchSessions(ctx, v1::WatchSessionsRequest());
    v1::WatchSessionsResponse m;
    while (r->Read(&m)) {
    }
    return r->Finish();
  });
  start([&](grpc::ClientContext* ctx) {  // a read the device never answers
    v1::ReadRequest request;
    request.set_address(kDevice);
    request.mutable_attribute()->set_characteristic_uuid("2A38");
    v1::ReadResponse response;
    return gatt->Read(ctx, request, &response);
  });
  start([&](grpc::ClientContext* ctx) {  // a batch sleeping
    v1::ExecuteRequest request;
    request.set_address(kDevice);
    request.add_operations()->mutable_wait()->mutable_duration()->set_seconds(60);
    auto r = gatt->Execute(ctx, request);
    v1::ExecuteResponse m;
    while (r->Read(&m)) {
    }
    return r->Finish();
  });
  // A scan whose caller never reads, with enough results to fill its window.
  grpc::ClientContext stalledCtx;
  stalledCtx.set_deadline(in(20000ms));
  v1::ScanRequest stalledRequest;
  stalledRequest.set_mode(v1::SCAN_MODE_ALL);
  stalledRequest.set_queue_size(16);
  auto stalled = scan->Scan(&stalledCtx, stalledRequest);
  ASSERT_TRUE(eventually([&] {
    return gateway->metrics().scanStreams.value() == 2 &&
           gateway->metrics().subscribeStreams.value() == 1 &&
           fake->pendingOperations() > 0 && fake->notifying(*Address::parse(kDevice), 0x0010);
  }));
  onLoop([&] {
    for (int i = 0; i < 4000; ++i) fake->advertise(*Address::parse("C0:00:00:00:00:01"), -50);
  });

  const auto began = std::chrono::steady_clock::now();
  gateway->shutdown(absl::Seconds(1));
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, 5s);
  for (auto& c : calls) {
    c->thread.join();
    EXPECT_EQ(c->status.error_code(), grpc::StatusCode::UNAVAILABLE) << c->status.error_message();
    EXPECT_EQ(errorInfo(c->status).reason(), "SHUTTING_DOWN") << c->status.error_message();
  }
  v1::ScanResponse m;
  while (stalled->Read(&m)) {
  }
  EXPECT_FALSE(stalled->Finish().ok());
}

}  // namespace
}  // namespace gattway::testing
