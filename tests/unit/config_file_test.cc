#include "server/config_file.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "server/policy_convert.h"
#include "server/state_file.h"
#include "server/state_writer.h"

namespace gattway::server {
namespace {

TEST(AConfigFile, ReadsTheApiMessagesFromYaml) {
  auto config = parseConfig(R"(
adapters:
  - name: hci0
    connection_slot_limit: 5
policies:
  - name: cameras
    selector: {service_uuids: ["6e400001-b5a3-f393-e0a9-e50e24dcca9e"]}
    priority: 50
    auto_connect: true
    reconnect: {initial_backoff: 0.2s, max_backoff: 5s, jitter: 0.1}
sessions:
  - address: "C0:FF:EE:00:00:01"
    persistent: true
    labels: {room: kitchen, zone: "7"}
)",
                            "test.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->adapters_size(), 1);
  EXPECT_EQ(config->adapters(0).connection_slot_limit(), 5u);
  const auto& p = config->policies(0);
  EXPECT_EQ(p.name(), "cameras");
  EXPECT_EQ(p.priority(), 50);
  EXPECT_TRUE(p.auto_connect());
  EXPECT_EQ(p.reconnect().initial_backoff().nanos(), 200000000);
  EXPECT_DOUBLE_EQ(p.reconnect().jitter(), 0.1);
  EXPECT_EQ(config->sessions(0).labels().at("zone"), "7");
  EXPECT_TRUE(config->sessions(0).persistent());
}

TEST(AConfigFile, AcceptsJsonWithCamelCaseNames) {
  auto config = parseConfig(R"({"policies": [{"name": "x", "autoConnect": true}]})", "c.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->policies(0).auto_connect());
}

TEST(AConfigFile, RejectsUnknownFieldsAndBadValuesNamingTheFile) {
  auto unknown = parseConfig("policies:\n  - name: x\n    colour: blue\n", "gattway.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("gattway.yaml"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("colour"), std::string::npos) << unknown.status();

  auto badDuration = parseConfig("policies:\n  - name: x\n    reconnect: {max_backoff: soon}\n",
                                 "gattway.yaml");
  EXPECT_FALSE(badDuration.ok());
  auto broken = parseConfig("policies: [ {name: x", "gattway.yaml");
  EXPECT_FALSE(broken.ok());
  auto notAMap = parseConfig("- a\n- b\n", "gattway.yaml");
  EXPECT_FALSE(notAMap.ok());
}

TEST(AConfigFile, MayBeEmpty) {
  auto config = parseConfig("", "empty.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->policies_size(), 0);
}

TEST(AConfigFile, ThatIsMissingIsAnError) {
  auto config = loadConfigFile("/nonexistent/gattway.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("/nonexistent/gattway.yaml"), std::string::npos);
}

class AStateFile : public ::testing::Test {
 protected:
  std::string dir_ = ::testing::TempDir() + "/gattway-state-" + std::to_string(::getpid()) +
                     "/nested";
  void TearDown() override {
    std::remove((dir_ + "/state.json").c_str());
    ::rmdir(dir_.c_str());
  }
};

TEST_F(AStateFile, IsEmptyBeforeTheFirstSave) {
  auto state = StateFile(dir_).load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->policies_size(), 0);
}

TEST_F(AStateFile, RoundTripsAndLeavesNoTemporaryFile) {
  StateFile file(dir_);
  v1::GatewayConfig state;
  auto* p = state.add_policies();
  p->set_name("sensors");
  p->mutable_reconnect()->mutable_max_backoff()->set_seconds(300);
  state.add_sessions()->set_address("C0:FF:EE:00:00:01");
  ASSERT_TRUE(file.save(state).ok());
  auto back = file.load();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->policies(0).reconnect().max_backoff().seconds(), 300);
  EXPECT_EQ(back->sessions(0).address(), "C0:FF:EE:00:00:01");
  struct stat st;
  EXPECT_NE(::stat((file.path() + ".tmp").c_str(), &st), 0);
  ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AStateFile, ReportsACorruptFile) {
  StateFile file(dir_);
  ASSERT_TRUE(file.save(v1::GatewayConfig()).ok());
  std::ofstream(file.path()) << "{\"policies\": [ {";
  auto state = file.load();
  ASSERT_FALSE(state.ok());
  EXPECT_NE(state.status().message().find("state.json"), std::string::npos);
}

TEST_F(AStateFile, WrittenOffTheLoopKeepsTheNewestSnapshotAndAccountsForEveryOther) {
  StateWriter writer{StateFile(dir_)};
  for (int i = 1; i <= 100; ++i) {
    v1::GatewayConfig state;
    state.add_sessions()->set_address(absl::StrFormat("C0:FF:EE:00:00:%02X", i));
    writer.post(std::move(state));
  }
  ASSERT_TRUE(writer.flush().ok());
  auto back = StateFile(dir_).load();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->sessions(0).address(), "C0:FF:EE:00:00:64");
  // Each snapshot was written or replaced by a newer one before its turn.
  EXPECT_EQ(writer.written() + writer.superseded(), 100u);
  EXPECT_GE(writer.written(), 1u);
}

TEST_F(AStateFile, WriterWritesWhatIsPendingWhenItStops) {
  {
    StateWriter writer{StateFile(dir_)};
    v1::GatewayConfig state;
    state.add_policies()->set_name("last");
    writer.post(std::move(state));
  }
  auto back = StateFile(dir_).load();
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->policies_size(), 1);
  EXPECT_EQ(back->policies(0).name(), "last");
}

TEST_F(AStateFile, WriterReportsAFailedWrite) {
  // The state directory cannot be created under a regular file.
  const std::string blocker = ::testing::TempDir() + "/gattway-state-blocker-" +
                              std::to_string(::getpid());
  std::ofstream(blocker) << "x";
  StateWriter writer{StateFile(blocker + "/state")};
  writer.post(v1::GatewayConfig());
  const absl::Status s = writer.flush();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(blocker), std::string::npos) << s;
  EXPECT_EQ(writer.written(), 0u);
  std::remove(blocker.c_str());
}

}  // namespace
}  // namespace gattway::server

namespace gattway::server {
namespace {

TEST(TheExampleConfig, InDeployParses) {
  auto config = loadConfigFile(GATTWAY_SOURCE_DIR "/deploy/config/gattway.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_GE(config->policies_size(), 3);
  bool keepsSome = false;
  for (int i = 0; i < config->policies_size(); ++i) {
    auto p = policyFromProto(config->policies(i), absl::StrCat("policies[", i, "]"));
    ASSERT_TRUE(p.ok()) << p.status();
    keepsSome = keepsSome || !p->subscriptions.empty();
  }
  EXPECT_TRUE(keepsSome);
}

}  // namespace
}  // namespace gattway::server
