// The CLI's tables, error rendering and request files.
#include <string>

#include "cmd/gattway/message_file.h"
#include "cmd/gattway/rpc_error.h"
#include "cmd/gattway/table.h"
#include "gattway/v1/peripheral.pb.h"
#include "gattway/v1/session.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace gattway::cli {
namespace {

TEST(CliTable, PadsColumnsToTheWidestCellCountingCharactersNotBytes) {
  Table t({"NAME", "VALUE"});
  t.addRow({"temperature", "21.50 °C"});
  t.addRow({"bat", "85 %"});
  EXPECT_EQ(t.render(),
            "NAME         VALUE\n"
            "temperature  21.50 °C\n"
            "bat          85 %\n");
}

TEST(CliTable, PadsShortRowsAndTrimsTrailingBlanks) {
  Table t({"A", "B", "C"});
  t.addRow({"x"});
  EXPECT_EQ(t.render(), "A  B  C\nx\n");
}

TEST(CliStreamTable, KeepsFixedColumnsAndPushesAnOverlongCellRight) {
  StreamTable t({{"ADDR", 6}, {"RSSI", 4}, {"NAME", 4}});
  EXPECT_EQ(t.header(), "ADDR    RSSI  NAME\n");
  EXPECT_EQ(t.row({"a", "-50", "x"}), "a       -50   x\n");
  // Pushed right, always two spaces apart; later columns catch up where they can.
  EXPECT_EQ(t.row({"abcdefgh", "-50", "x"}), "abcdefgh  -50  x\n");
}

grpc::Status richStatus(grpc::StatusCode code, const std::string& message,
                        const std::string& reason,
                        std::initializer_list<std::pair<const std::string, std::string>> meta) {
  google::rpc::ErrorInfo info;
  info.set_domain("gattway.dev");
  info.set_reason(reason);
  for (const auto& [k, v] : meta) (*info.mutable_metadata())[k] = v;
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(message);
  rich.add_details()->PackFrom(info);
  return grpc::Status(code, message, rich.SerializeAsString());
}

TEST(CliRpcError, ShowsTheCodeReasonAndAttError) {
  auto e = describe(richStatus(grpc::StatusCode::ABORTED, "the device refused the read",
                               "ATT_ERROR",
                               {{"att_error", "0x0e"}, {"att_error_name", "Unlikely Error"},
                                {"bluez_error", "org.bluez.Error.Failed"},
                                {"address", "C0:FF:EE:00:00:01"}}));
  EXPECT_EQ(e.code, "ABORTED");
  EXPECT_EQ(e.reason, "ATT_ERROR");
  EXPECT_EQ(formatText(e),
            "error: ABORTED: the device refused the read\n"
            "  reason: ATT_ERROR\n"
            "  att error: 0x0e (Unlikely Error)\n"
            "  bluez error: org.bluez.Error.Failed\n"
            "  address: C0:FF:EE:00:00:01\n");
  const std::string json = formatJson(e);
  EXPECT_NE(json.find("\"code\":\"ABORTED\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"att_error\":\"0x0e\""), std::string::npos) << json;
}

TEST(CliRpcError, WithoutDetailsStillShowsCodeAndMessage) {
  auto e = describe(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"));
  EXPECT_EQ(formatText(e), "error: UNAVAILABLE: connection refused\n");
  auto garbage = describe(grpc::Status(grpc::StatusCode::INTERNAL, "x", "not a proto \xff"));
  EXPECT_EQ(garbage.code, "INTERNAL");
  EXPECT_TRUE(garbage.reason.empty());
}

TEST(CliMessageFile, ReadsAPolicyFromYaml) {
  gattway::v1::Policy p;
  ASSERT_TRUE(parseMessageText(R"(
name: hrm
priority: 10
auto_connect: true
description: "42"
selector:
  service_uuids: ["180D"]
reconnect:
  initial_backoff: 2s
  multiplier: 1.5
  on_give_up: GIVE_UP_ACTION_COOL_DOWN
)", "p.yaml", &p).ok());
  EXPECT_EQ(p.name(), "hrm");
  EXPECT_EQ(p.priority(), 10);
  EXPECT_TRUE(p.auto_connect());
  EXPECT_EQ(p.description(), "42");  // quoted: stays a string
  EXPECT_EQ(p.selector().service_uuids(0), "180D");
  EXPECT_EQ(p.reconnect().initial_backoff().seconds(), 2);
  EXPECT_DOUBLE_EQ(p.reconnect().multiplier(), 1.5);
  EXPECT_EQ(p.reconnect().on_give_up(), gattway::v1::GIVE_UP_ACTION_COOL_DOWN);
}

TEST(CliMessageFile, ReadsJsonToo) {
  gattway::v1::RegisterServicesRequest r;
  ASSERT_TRUE(parseMessageText(
      R"({"services": [{"uuid": "181A", "characteristics": [{"uuid": "2A6E", "read": true,
          "initialValue": "ZgA="}]}]})", "db.json", &r).ok());
  ASSERT_EQ(r.services_size(), 1);
  EXPECT_EQ(r.services(0).characteristics(0).initial_value(), std::string("f\0", 2));
}

TEST(CliMessageFile, NamesTheFileAndTheProblem) {
  gattway::v1::Policy p;
  auto unknown = parseMessageText("name: x\ncolour: red\n", "p.yaml", &p);
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("p.yaml"), std::string::npos) << unknown.message();
  EXPECT_NE(unknown.message().find("colour"), std::string::npos) << unknown.message();
  auto scalar = parseMessageText("hello\n", "s.yaml", &p);
  EXPECT_EQ(scalar.message(), "s.yaml: not a gattway.v1.Policy: Root element must be a message.");
  auto syntax = parseMessageText("name: [x\n", "q.yaml", &p);
  EXPECT_FALSE(syntax.ok());
  EXPECT_NE(syntax.message().find("q.yaml"), std::string::npos);
  EXPECT_FALSE(readMessageFile("/nonexistent/p.yaml", &p).ok());
}

}  // namespace
}  // namespace gattway::cli
