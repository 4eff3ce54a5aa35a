#include "server/validate.h"

#include <functional>

#include "absl/strings/match.h"

#include "ble/error.h"
#include "gtest/gtest.h"

namespace gattway::server {
namespace {

// The field an INVALID_ARGUMENT (or BACKEND_LIMITATION) error names.
std::string fieldOf(const absl::Status& s) { return err::metadata(s, "field").value_or("<none>"); }

template <typename Request, typename Fn>
absl::Status check(Fn validate, std::function<void(Request&)> edit, Request base = Request()) {
  edit(base);
  return validate(base).status();
}

v1::ReadRequest aRead() {
  v1::ReadRequest r;
  r.set_address("AA:BB:CC:DD:EE:01");
  r.mutable_attribute()->set_characteristic_uuid("2A37");
  return r;
}

v1::ExecuteRequest aBatch(int steps = 1) {
  v1::ExecuteRequest r;
  r.set_address("AA:BB:CC:DD:EE:01");
  for (int i = 0; i < steps; ++i) {
    r.add_operations()->mutable_read()->mutable_attribute()->set_characteristic_uuid("2A37");
  }
  return r;
}

TEST(Validation, AcceptsDefaultsAndFillsThemIn) {
  auto scan = scanRequest(v1::ScanRequest());
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->scan.mode, ScanMode::kChanges);
  EXPECT_EQ(scan->queueSize, 4096u);
  EXPECT_EQ(scan->maxBatchSize, 100u);
  EXPECT_EQ(scan->scan.duration, absl::ZeroDuration());
  v1::ConnectRequest c;
  c.set_address("aa:bb:cc:dd:ee:01");
  auto connect = connectRequest(c);
  ASSERT_TRUE(connect.ok());
  EXPECT_EQ(connect->timeout, absl::Seconds(10));
  EXPECT_EQ(connect->idleTimeout, absl::Seconds(60));
  EXPECT_FALSE(connect->addressType.has_value());
  auto read = readRequest(aRead());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->timeout, absl::Seconds(10));
  auto batch = executeRequest(aBatch());
  ASSERT_TRUE(batch.ok());
  EXPECT_FALSE(batch->budget.has_value());
}

TEST(Validation, NamesTheFieldOfEveryBadScanInput) {
  const std::vector<std::pair<std::function<void(v1::ScanRequest&)>, std::string>> rows = {
      {[](auto& r) {
         r.mutable_filter()->add_service_uuids("180D");
         r.mutable_filter()->add_service_uuids("xyz");
       },
       "filter.service_uuids[1]"},
      {[](auto& r) { r.mutable_filter()->add_addresses("nope"); }, "filter.addresses[0]"},
      {[](auto& r) { r.mutable_filter()->add_manufacturer_ids(65536); }, "filter.manufacturer_ids[0]"},
      {[](auto& r) { r.mutable_filter()->set_name_prefix(std::string(249, 'a')); }, "filter.name_prefix"},
      {[](auto& r) { r.mutable_filter()->set_min_rssi(-128); }, "filter.min_rssi"},
      {[](auto& r) {
         for (int i = 0; i < 65; ++i) r.mutable_filter()->add_service_uuids("180D");
       },
       "filter.service_uuids"},
      {[](auto& r) { r.set_mode(static_cast<v1::ScanMode>(3)); }, "mode"},
      {[](auto& r) { r.set_scan_type(static_cast<v1::ScanType>(-1)); }, "scan_type"},
      {[](auto& r) { r.mutable_duration()->set_seconds(-1); }, "duration"},
      {[](auto& r) { r.mutable_duration()->set_seconds(86401); }, "duration"},
      {[](auto& r) { r.mutable_duration()->set_nanos(-5); r.mutable_duration()->set_seconds(1); }, "duration"},
      {[](auto& r) { r.mutable_batch_interval()->set_seconds(11); }, "batch_interval"},
      {[](auto& r) { r.set_max_batch_size(1001); }, "max_batch_size"},
      {[](auto& r) { r.set_queue_size(70000); }, "queue_size"},
      {[](auto& r) { r.set_adapter("hci"); }, "adapter"},
  };
  for (const auto& [edit, field] : rows) {
    auto s = check<v1::ScanRequest>(scanRequest, edit);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
    EXPECT_EQ(fieldOf(s), field) << s;
    EXPECT_TRUE(absl::StartsWith(s.message(), field)) << s;
  }
}

TEST(Validation, RefusesScanSettingsBluezCannotHonour) {
  for (auto edit : std::vector<std::function<void(v1::ScanRequest&)>>{
           [](auto& r) { r.mutable_interval()->set_nanos(1); },
           [](auto& r) { r.mutable_window(); },  // present, even zero
           [](auto& r) { r.set_scan_type(v1::SCAN_TYPE_PASSIVE); }}) {
    auto s = check<v1::ScanRequest>(scanRequest, edit);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_EQ(err::reasonOf(s), err::Reason::kBackendLimitation);
  }
}

TEST(Validation, NamesTheFieldOfEveryBadConnectInput) {
  v1::ConnectRequest base;
  base.set_address("AA:BB:CC:DD:EE:01");
  const std::vector<std::pair<std::function<void(v1::ConnectRequest&)>, std::string>> rows = {
      {[](auto& r) { r.clear_address(); }, "address"},
      {[](auto& r) { r.set_address("AA:BB:CC:DD:EE:GG"); }, "address"},
      {[](auto& r) { r.set_address_type(static_cast<v1::AddressType>(3)); }, "address_type"},
      {[](auto& r) { r.mutable_timeout()->set_nanos(500'000'000); }, "timeout"},
      {[](auto& r) { r.mutable_timeout()->set_seconds(301); }, "timeout"},
      {[](auto& r) { r.mutable_idle_timeout()->set_seconds(-3); }, "idle_timeout"},
      {[](auto& r) { r.set_priority(-101); }, "priority"},
      {[](auto& r) { (*r.mutable_labels())[""] = "x"; }, "labels[\"\"]"},
      {[](auto& r) {
         for (int i = 0; i < 17; ++i) (*r.mutable_labels())[std::to_string(i)] = "x";
       },
       "labels"},
  };
  for (const auto& [edit, field] : rows) {
    auto s = check<v1::ConnectRequest>(connectRequest, edit, base);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
    EXPECT_EQ(fieldOf(s), field) << s;
  }
  auto interval = check<v1::ConnectRequest>(
      connectRequest, [](auto& r) { r.mutable_max_connection_interval()->set_seconds(1); }, base);
  EXPECT_EQ(interval.code(), absl::StatusCode::kFailedPrecondition);
  auto persistent =
      check<v1::ConnectRequest>(connectRequest, [](auto& r) { r.set_persistent(true); }, base);
  EXPECT_TRUE(persistent.ok()) << persistent;
  auto longPolicy = check<v1::ConnectRequest>(
      connectRequest, [](auto& r) { r.set_policy(std::string(64, 'p')); }, base);
  EXPECT_EQ(fieldOf(longPolicy), "policy") << longPolicy;
}

TEST(Validation, NamesTheFieldOfEveryBadGattInput) {
  const std::vector<std::pair<std::function<void(v1::ReadRequest&)>, std::string>> reads = {
      {[](auto& r) { r.mutable_attribute()->clear_characteristic_uuid(); }, "attribute.characteristic_uuid"},
      {[](auto& r) { r.mutable_attribute()->set_service_uuid("1"); }, "attribute.service_uuid"},
      {[](auto& r) { r.mutable_attribute()->set_descriptor_uuid("--"); }, "attribute.descriptor_uuid"},
      {[](auto& r) { r.mutable_attribute()->set_handle(65536); }, "attribute.handle"},
      {[](auto& r) { r.set_offset(512); }, "offset"},
      {[](auto& r) { r.mutable_timeout()->set_seconds(61); }, "timeout"},
  };
  for (const auto& [edit, field] : reads) {
    auto s = check<v1::ReadRequest>(readRequest, edit, aRead());
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
    EXPECT_EQ(fieldOf(s), field) << s;
  }
  v1::ReadRequest byHandle = aRead();
  byHandle.mutable_attribute()->clear_characteristic_uuid();
  byHandle.mutable_attribute()->set_handle(0x0010);
  EXPECT_TRUE(readRequest(byHandle).ok());

  v1::WriteRequest w;
  w.set_address("AA:BB:CC:DD:EE:01");
  w.mutable_attribute()->set_characteristic_uuid("2A39");
  w.set_value(std::string(513, 'x'));
  EXPECT_EQ(fieldOf(writeRequest(w).status()), "value");
  w.set_value("x");
  w.set_mode(static_cast<v1::WriteMode>(5));
  EXPECT_EQ(fieldOf(writeRequest(w).status()), "mode");

  v1::SubscribeRequest sub;
  sub.set_address("AA:BB:CC:DD:EE:01");
  sub.mutable_characteristic()->set_characteristic_uuid("2A37");
  sub.set_queue_size(15);
  EXPECT_EQ(fieldOf(subscribeRequest(sub).status()), "queue_size");
  sub.set_queue_size(0);
  sub.mutable_batch_interval()->set_seconds(11);
  EXPECT_EQ(fieldOf(subscribeRequest(sub).status()), "batch_interval");
  sub.mutable_batch_interval()->set_seconds(-1);
  EXPECT_EQ(fieldOf(subscribeRequest(sub).status()), "batch_interval");
  sub.clear_batch_interval();
  sub.mutable_characteristic()->set_descriptor_uuid("2902");
  EXPECT_EQ(fieldOf(subscribeRequest(sub).status()), "characteristic.descriptor_uuid");
}

TEST(Validation, NamesTheStepAndFieldOfABadBatch) {
  auto s = executeRequest(aBatch(0)).status();
  EXPECT_EQ(fieldOf(s), "operations");
  s = executeRequest(aBatch(65)).status();
  EXPECT_EQ(fieldOf(s), "operations");
  auto deep = aBatch(4);
  deep.mutable_operations(3)->mutable_read()->mutable_attribute()->set_handle(70000);
  EXPECT_EQ(fieldOf(executeRequest(deep).status()), "operations[3].read.attribute.handle");
  auto empty = aBatch(2);
  empty.mutable_operations(1)->Clear();
  EXPECT_EQ(fieldOf(executeRequest(empty).status()), "operations[1]");
  auto count = aBatch(1);
  count.mutable_operations(0)->mutable_wait_notifications()->mutable_characteristic()
      ->set_characteristic_uuid("2A37");
  count.mutable_operations(0)->mutable_wait_notifications()->set_count(1001);
  EXPECT_EQ(fieldOf(executeRequest(count).status()), "operations[0].wait_notifications.count");
  auto wait = aBatch(1);
  wait.mutable_operations(0)->mutable_wait()->mutable_duration()->set_seconds(601);
  EXPECT_EQ(fieldOf(executeRequest(wait).status()), "operations[0].wait.duration");
  auto budget = aBatch(1);
  budget.mutable_budget()->set_seconds(601);
  EXPECT_EQ(fieldOf(executeRequest(budget).status()), "budget");
  auto value = aBatch(1);
  value.mutable_operations(0)->mutable_write()->mutable_attribute()->set_characteristic_uuid("2A39");
  value.mutable_operations(0)->mutable_write()->set_value(std::string(600, 'x'));
  EXPECT_EQ(fieldOf(executeRequest(value).status()), "operations[0].write.value");
}

TEST(Validation, ChecksSessionFilters) {
  v1::SessionFilter f;
  f.add_states(v1::SESSION_STATE_UNSPECIFIED);
  EXPECT_EQ(fieldOf(sessionFilter(f, "filter").status()), "filter.states[0]");
  f.clear_states();
  f.add_states(v1::SESSION_STATE_CONNECTED);
  f.set_adapter("hci0");
  auto ok = sessionFilter(f, "filter");
  ASSERT_TRUE(ok.ok());
  SessionInfo s;
  s.state = SessionState::kConnected;
  s.adapter = "hci0";
  EXPECT_TRUE(ok->matches(s));
  s.adapter = "hci1";
  EXPECT_FALSE(ok->matches(s));
}

}  // namespace
}  // namespace gattway::server
