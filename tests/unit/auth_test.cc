#include "server/auth.h"

#include <cstdio>
#include <fstream>
#include <set>

#include "gattway/v1/adapter.grpc.pb.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/metrics.grpc.pb.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/transport_security.h"

namespace gattway::server {
namespace {

TEST(TheRoleTable, NamesEveryApiMethodExplicitly) {
  // One message per API file, so that its descriptor (and its service's) is linked in.
  const google::protobuf::FileDescriptor* files[] = {
      v1::ListAdaptersRequest::descriptor()->file(), v1::ScanRequest::descriptor()->file(),
      v1::ConnectRequest::descriptor()->file(),      v1::ReadRequest::descriptor()->file(),
      v1::SetValueRequest::descriptor()->file(),     v1::GetMetricsRequest::descriptor()->file()};
  std::set<std::string> api;
  for (const auto* file : files) {
    ASSERT_EQ(file->service_count(), 1) << file->name();
    const auto* service = file->service(0);
    for (int i = 0; i < service->method_count(); ++i) {
      api.insert("/" + service->full_name() + "/" + service->method(i)->name());
    }
  }
  const auto named = methodsWithRoles();
  EXPECT_EQ(api, std::set<std::string>(named.begin(), named.end()));
  EXPECT_EQ(api.size(), 34u);
}

TEST(TheRoleTable, LetsViewersLookAndOperatorsAct) {
  EXPECT_EQ(requiredRole("/gattway.v1.ScanService/Scan"), Role::kViewer);
  EXPECT_EQ(requiredRole("/gattway.v1.GattService/Read"), Role::kViewer);
  EXPECT_EQ(requiredRole("/gattway.v1.GattService/Subscribe"), Role::kViewer);
  EXPECT_EQ(requiredRole("/gattway.v1.SessionService/WatchSessions"), Role::kViewer);
  EXPECT_EQ(requiredRole("/gattway.v1.MetricsService/GetMetrics"), Role::kViewer);
  EXPECT_EQ(requiredRole("/gattway.v1.SessionService/Connect"), Role::kOperator);
  EXPECT_EQ(requiredRole("/gattway.v1.GattService/Write"), Role::kOperator);
  EXPECT_EQ(requiredRole("/gattway.v1.GattService/Execute"), Role::kOperator);
  EXPECT_EQ(requiredRole("/gattway.v1.SessionService/CreatePolicy"), Role::kOperator);
  EXPECT_EQ(requiredRole("/gattway.v1.PeripheralService/SetValue"), Role::kOperator);
}

TEST(TheRoleTable, LeavesHealthAndReflectionOpenAndFailsClosedOnUnknownMethods) {
  EXPECT_EQ(requiredRole("/grpc.health.v1.Health/Check"), std::nullopt);
  EXPECT_EQ(requiredRole("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            std::nullopt);
  EXPECT_EQ(requiredRole("/gattway.v1.GattService/Erase"), Role::kOperator);
  EXPECT_EQ(requiredRole(""), Role::kOperator);
}

TEST(ATokenHash, IsSha256InLowerCaseHex) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class ATokenFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_ = ::testing::TempDir() + "/gattway-tokens.yaml";
};

TEST_F(ATokenFile, MapsHashesToNamesAndRoles) {
  auto store = TokenStore::load(write("tokens:\n  - {name: grafana, role: viewer, sha256: " +
                                      sha256Hex("s3cret") + "}\n"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto holder = (*store)->lookup("s3cret");
  ASSERT_TRUE(holder.has_value());
  EXPECT_EQ(holder->name, "grafana");
  EXPECT_EQ(holder->role, Role::kViewer);
  EXPECT_FALSE((*store)->lookup("guess").has_value());
}

TEST_F(ATokenFile, NamesTheEntryAtFault) {
  auto bad = TokenStore::load(write("tokens:\n  - {name: a, role: admin, sha256: " +
                                    sha256Hex("x") + "}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tokens[0].role: \"admin\" is not viewer or operator"),
            std::string::npos)
      << bad.status();
  auto clear = TokenStore::load(write("tokens:\n  - {name: a, role: viewer, sha256: hunter2}\n"));
  ASSERT_FALSE(clear.ok());
  EXPECT_NE(clear.status().message().find("expected 64 hex digits"), std::string::npos);
}

TEST_F(ATokenFile, KeepsItsTokensWhenAReloadFails) {
  auto store = TokenStore::load(write("tokens:\n  - {name: a, role: operator, sha256: " +
                                      sha256Hex("t") + "}\n"));
  ASSERT_TRUE(store.ok());
  write("tokens: [ {name: broken");
  EXPECT_FALSE((*store)->reload().ok());
  EXPECT_TRUE((*store)->lookup("t").has_value());
}

TEST(TheExposureRule, AllowsLoopbackAndRefusesPlaintextBeyondIt) {
  TransportSecurityOptions none;
  EXPECT_TRUE(checkExposure("127.0.0.1:50051", none).ok());
  EXPECT_TRUE(checkExposure("[::1]:50051", none).ok());
  EXPECT_TRUE(checkExposure("localhost:50051", none).ok());
  EXPECT_TRUE(checkExposure("unix:/run/gattway.sock", none).ok());
  const auto refused = checkExposure("0.0.0.0:50051", none);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("--insecure"), std::string::npos);
  EXPECT_FALSE(checkExposure("[::]:50051", none).ok());

  TransportSecurityOptions tls;
  tls.tlsCertFile = "/etc/gattway/cert.pem";
  tls.tlsKeyFile = "/etc/gattway/key.pem";
  EXPECT_TRUE(checkExposure("0.0.0.0:50051", tls).ok());
  TransportSecurityOptions insecure;
  insecure.insecure = true;
  EXPECT_TRUE(checkExposure("0.0.0.0:50051", insecure).ok());
}

TEST(TheExposureRule, KeepsTokensOffPlaintextBeyondLoopback) {
  TransportSecurityOptions tokens;
  tokens.tokensFile = "/etc/gattway/tokens.yaml";
  EXPECT_TRUE(checkExposure("127.0.0.1:50051", tokens).ok());
  const auto refused = checkExposure("0.0.0.0:50051", tokens);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("would cross the network in clear"), std::string::npos);
  tokens.insecure = true;
  EXPECT_FALSE(checkExposure("0.0.0.0:50051", tokens).ok()) << "--insecure cannot make it safe";
}

}  // namespace
}  // namespace gattway::server
