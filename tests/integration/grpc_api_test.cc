// The gateway in-process on an ephemeral port, called over real gRPC.
#include <memory>

#include "gattway/v1/metrics.grpc.pb.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/gateway.h"
#include "server/grpc_server.h"
#include "tests/support/http_get.h"

namespace gattway {
namespace {

class AGateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server::GatewayOptions options;
    options.grpcAddress = "127.0.0.1:0";
    options.metricsAddress = "127.0.0.1:0";  // one Exposer per suite: it takes ~2 s to stop
    gateway_ = new server::Gateway(options);
    ASSERT_TRUE(gateway_->start().ok());
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  std::shared_ptr<grpc::Channel> channel() {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(gateway_->grpcPort()),
                               grpc::InsecureChannelCredentials());
  }
  static grpc::ClientContext* withDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return ctx;
  }
  static server::Gateway* gateway_;
};
server::Gateway* AGateway::gateway_ = nullptr;

TEST_F(AGateway, ReportsHealthServingForItselfAndEveryService) {
  auto health = grpc::health::v1::Health::NewStub(channel());
  std::vector<std::string> names = server::apiServiceNames();
  names.push_back("");
  for (const auto& name : names) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(name);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(withDeadline(&ctx), request, &response).ok()) << name;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << name;
  }
}

TEST_F(AGateway, KeepsAPolicysSubscriptionsAndRefusesABadOneNamingTheField) {
  auto stub = v1::SessionService::NewStub(channel());
  v1::CreatePolicyRequest request;
  request.mutable_policy()->set_name("kept");
  request.mutable_policy()->add_subscriptions()->mutable_characteristic()->set_characteristic_uuid(
      "2A37");
  {
    grpc::ClientContext ctx;
    v1::CreatePolicyResponse response;
    ASSERT_TRUE(stub->CreatePolicy(withDeadline(&ctx), request, &response).ok());
    ASSERT_EQ(response.policy().subscriptions_size(), 1);
    EXPECT_EQ(response.policy().subscriptions(0).characteristic().characteristic_uuid(), "2A37");
    EXPECT_EQ(response.policy().subscriptions(0).mode(), v1::SUBSCRIBE_MODE_AUTO);
  }
  request.mutable_policy()->set_name("twice");
  *request.mutable_policy()->add_subscriptions() = request.policy().subscriptions(0);
  grpc::ClientContext ctx;
  v1::CreatePolicyResponse response;
  const grpc::Status s = stub->CreatePolicy(withDeadline(&ctx), request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("policy.subscriptions[1].characteristic"), std::string::npos)
      << s.error_message();
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(s.error_details()));
  google::rpc::ErrorInfo info;
  ASSERT_EQ(rich.details_size(), 1);
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "INVALID_FIELD");
  EXPECT_EQ(info.metadata().at("field"), "policy.subscriptions[1].characteristic");
}

TEST_F(AGateway, EndsAPeripheralStreamWithUnavailableWhenBlueZIsAbsent) {
  // The test gateway talks to the system bus, where no org.bluez runs (or no bus at all).
  auto stub = v1::PeripheralService::NewStub(channel());
  grpc::ClientContext ctx;
  auto reader = stub->WatchPeripheral(withDeadline(&ctx), v1::WatchPeripheralRequest());
  v1::WatchPeripheralResponse event;
  grpc::ClientContext ctx2;
  v1::GetValueResponse value;
  v1::GetValueRequest request;
  request.mutable_characteristic()->set_characteristic_uuid("2A6E");
  const grpc::Status s = stub->GetValue(withDeadline(&ctx2), request, &value);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE ||
              s.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_code() << " " << s.error_message();
  ctx.TryCancel();
  EXPECT_FALSE(reader->Read(&event));
  reader->Finish();
}

TEST_F(AGateway, ServesPrometheusMetricsWithTheSameFiguresAsGetMetrics) {
  // One call to count, then the two views of the figures.
  {
    auto stub = v1::PeripheralService::NewStub(channel());
    grpc::ClientContext ctx;
    v1::NotifyResponse response;
    (void)stub->Notify(withDeadline(&ctx), v1::NotifyRequest(), &response);
  }
  auto metrics = v1::MetricsService::NewStub(channel());
  grpc::ClientContext ctx;
  v1::GetMetricsResponse snapshot;
  ASSERT_TRUE(metrics->GetMetrics(withDeadline(&ctx), v1::GetMetricsRequest(), &snapshot).ok());
  std::uint64_t notifyCalls = 0;
  for (const auto& c : snapshot.rpc().calls()) {
    if (c.labels().at("method") == "/gattway.v1.PeripheralService/Notify" &&
        c.labels().at("code") == "INVALID_ARGUMENT") {
      notifyCalls = c.value();
    }
  }
  EXPECT_GE(notifyCalls, 1u);
  EXPECT_EQ(snapshot.version(), GATTWAY_VERSION);

  ASSERT_GT(gateway_->metricsPort(), 0);
  const std::string text = testing::httpGet(gateway_->metricsPort(), "/metrics");
  EXPECT_NE(text.find("# TYPE gattway_scan_results_received_total counter"), std::string::npos)
      << text.substr(0, 400);
  EXPECT_NE(text.find("# TYPE gattway_gatt_operation_duration_seconds histogram"),
            std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes"), std::string::npos);
  const std::string series =
      "gattway_grpc_calls_total{method=\"/gattway.v1.PeripheralService/Notify\",code=\"INVALID_ARGUMENT\"} " +
      std::to_string(notifyCalls);
  EXPECT_NE(text.find(series), std::string::npos) << "missing: " << series;
  // The adapter watchdog's counters, in both views (nothing wedged here).
  ASSERT_EQ(snapshot.bluez().adapter_recoveries_size(), 3);
  ASSERT_EQ(snapshot.bluez().adapter_wedged_size(), 2);
  EXPECT_EQ(snapshot.bluez().adapter_recoveries(1).labels().at("step"), "power_cycle");
  EXPECT_EQ(snapshot.bluez().adapter_recoveries(1).value(), 0u);
  EXPECT_NE(text.find("gattway_adapter_recoveries_total{step=\"power_cycle\"} 0"), std::string::npos);
  EXPECT_NE(text.find("gattway_adapter_wedged_total{kind=\"connect\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace gattway
