// The bad-input table through gRPC: every malformed or out-of-range request gets the right code
// and a message naming the field, and the gateway keeps serving.
#include <functional>

#include "tests/support/fake_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

struct Row {
  const char* what;
  std::function<grpc::Status()> call;
  grpc::StatusCode code;
  const char* field;   // the ErrorInfo "field", or the reason when not a field error
};

class BadInput : public FakeGatewayTest {
 protected:
  template <typename Response, typename Reader>
  static grpc::Status finishStream(Reader reader) {
    Response r;
    while (reader->Read(&r)) {
    }
    return reader->Finish();
  }
  grpc::Status scanWith(std::function<void(v1::ScanRequest&)> edit) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ScanRequest request;
    edit(request);
    return finishStream<v1::ScanResponse>(scan->Scan(&ctx, request));
  }
  grpc::Status connectWith(std::function<void(v1::ConnectRequest&)> edit) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ConnectRequest request;
    request.set_address(kDevice);
    edit(request);
    v1::ConnectResponse response;
    return sessions->Connect(&ctx, request, &response);
  }
  grpc::Status readWith(std::function<void(v1::ReadRequest&)> edit) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ReadRequest request;
    request.set_address(kDevice);
    request.mutable_attribute()->set_characteristic_uuid("2A38");
    edit(request);
    v1::ReadResponse response;
    return gatt->Read(&ctx, request, &response);
  }
  grpc::Status writeWith(std::function<void(v1::WriteRequest&)> edit) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::WriteRequest request;
    request.set_address(kDevice);
    request.mutable_attribute()->set_characteristic_uuid("2A39");
    request.set_value("\x01");
    edit(request);
    v1::WriteResponse response;
    return gatt->Write(&ctx, request, &response);
  }
  grpc::Status subscribeWith(std::function<void(v1::SubscribeRequest&)> edit) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::SubscribeRequest request;
    request.set_address(kDevice);
    request.mutable_characteristic()->set_characteristic_uuid("2A37");
    edit(request);
    auto reader = gatt->Subscribe(&ctx, request);
    v1::SubscribeResponse r;
    if (reader->Read(&r)) {  // a valid one starts: not what this table expects
      ctx.TryCancel();
    }
    return reader->Finish();
  }
  grpc::Status executeWith(std::function<void(v1::ExecuteRequest&)> edit) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ExecuteRequest request;
    request.set_address(kDevice);
    request.add_operations()->mutable_read()->mutable_attribute()->set_characteristic_uuid("2A38");
    edit(request);
    return finishStream<v1::ExecuteResponse>(gatt->Execute(&ctx, request));
  }
};

TEST_F(BadInput, GetsTheRightCodeAndAMessageNamingTheFieldAndTheGatewayKeepsServing) {
  ASSERT_TRUE(connect().ok());
  using C = grpc::StatusCode;
  const std::vector<Row> table = {
      {"malformed UUID in a filter",
       [&] { return scanWith([](auto& r) {
           auto* f = r.mutable_filter();
           f->add_service_uuids("180D");
           f->add_service_uuids("180F");
           f->add_service_uuids("heart-rate");
         }); },
       C::INVALID_ARGUMENT, "filter.service_uuids[2]"},
      {"malformed address in a filter",
       [&] { return scanWith([](auto& r) { r.mutable_filter()->add_addresses("AA:BB"); }); },
       C::INVALID_ARGUMENT, "filter.addresses[0]"},
      {"negative scan duration",
       [&] { return scanWith([](auto& r) { r.mutable_duration()->set_seconds(-5); }); },
       C::INVALID_ARGUMENT, "duration"},
      {"absurd scan duration",
       [&] { return scanWith([](auto& r) { r.mutable_duration()->set_seconds(86400 * 365); }); },
       C::INVALID_ARGUMENT, "duration"},
      {"unknown scan mode", [&] { return scanWith([](auto& r) { r.set_mode(static_cast<v1::ScanMode>(42)); }); },
       C::INVALID_ARGUMENT, "mode"},
      {"RSSI out of range",
       [&] { return scanWith([](auto& r) { r.mutable_filter()->set_min_rssi(50); }); },
       C::INVALID_ARGUMENT, "filter.min_rssi"},
      {"tiny queue", [&] { return scanWith([](auto& r) { r.set_queue_size(3); }); },
       C::INVALID_ARGUMENT, "queue_size"},
      {"not an adapter", [&] { return scanWith([](auto& r) { r.set_adapter("wlan0"); }); },
       C::INVALID_ARGUMENT, "adapter"},
      {"unknown adapter", [&] { return scanWith([](auto& r) { r.set_adapter("hci7"); }); },
       C::NOT_FOUND, "ADAPTER_NOT_FOUND"},
      {"malformed address",
       [&] { return connectWith([](auto& r) { r.set_address("AA-BB-CC-DD-EE-FF"); }); },
       C::INVALID_ARGUMENT, "address"},
      {"negative connect timeout",
       [&] { return connectWith([](auto& r) { r.mutable_timeout()->set_seconds(-1); }); },
       C::INVALID_ARGUMENT, "timeout"},
      {"absurd connect timeout",
       [&] { return connectWith([](auto& r) { r.mutable_timeout()->set_seconds(3600); }); },
       C::INVALID_ARGUMENT, "timeout"},
      {"unknown address type",
       [&] { return connectWith([](auto& r) { r.set_address_type(static_cast<v1::AddressType>(9)); }); },
       C::INVALID_ARGUMENT, "address_type"},
      {"priority out of range",
       [&] { return connectWith([](auto& r) { r.set_priority(500); }); },
       C::INVALID_ARGUMENT, "priority"},
      {"connection interval",
       [&] { return connectWith([](auto& r) { r.mutable_min_connection_interval()->set_nanos(7'500'000); }); },
       C::FAILED_PRECONDITION, "min_connection_interval"},
      {"unknown device",
       [&] { return readWith([](auto& r) { r.set_address("AA:BB:CC:DD:EE:99"); }); },
       C::NOT_FOUND, "DEVICE_NOT_FOUND"},
      {"malformed characteristic UUID",
       [&] { return readWith([](auto& r) { r.mutable_attribute()->set_characteristic_uuid("zz"); }); },
       C::INVALID_ARGUMENT, "attribute.characteristic_uuid"},
      {"handle out of range",
       [&] { return readWith([](auto& r) { r.mutable_attribute()->set_handle(70000); }); },
       C::INVALID_ARGUMENT, "attribute.handle"},
      {"unknown characteristic",
       [&] { return readWith([](auto& r) { r.mutable_attribute()->set_characteristic_uuid("2A00"); }); },
       C::NOT_FOUND, "ATTRIBUTE_NOT_FOUND"},
      {"ambiguous characteristic",
       [&] { return readWith([](auto& r) { r.mutable_attribute()->set_characteristic_uuid("2A19"); }); },
       C::INVALID_ARGUMENT, "attribute"},
      {"read timeout too short",
       [&] { return readWith([](auto& r) { r.mutable_timeout()->set_nanos(1'000'000); }); },
       C::INVALID_ARGUMENT, "timeout"},
      {"offset out of range", [&] { return readWith([](auto& r) { r.set_offset(512); }); },
       C::INVALID_ARGUMENT, "offset"},
      {"value over 512 bytes",
       [&] { return writeWith([](auto& r) { r.set_value(std::string(513, 'x')); }); },
       C::INVALID_ARGUMENT, "value"},
      {"unknown write mode",
       [&] { return writeWith([](auto& r) { r.set_mode(static_cast<v1::WriteMode>(42)); }); },
       C::INVALID_ARGUMENT, "mode"},
      {"unknown subscribe mode",
       [&] { return subscribeWith([](auto& r) { r.set_mode(static_cast<v1::SubscribeMode>(7)); }); },
       C::INVALID_ARGUMENT, "mode"},
      {"subscribe to a descriptor",
       [&] { return subscribeWith([](auto& r) { r.mutable_characteristic()->set_descriptor_uuid("2902"); }); },
       C::INVALID_ARGUMENT, "characteristic.descriptor_uuid"},
      {"empty batch", [&] { return executeWith([](auto& r) { r.clear_operations(); }); },
       C::INVALID_ARGUMENT, "operations"},
      {"too many steps",
       [&] { return executeWith([](auto& r) {
           for (int i = 0; i < 64; ++i) *r.add_operations() = r.operations(0);
         }); },
       C::INVALID_ARGUMENT, "operations"},
      {"step without an operation",
       [&] { return executeWith([](auto& r) { r.add_operations(); }); },
       C::INVALID_ARGUMENT, "operations[1]"},
      {"bad handle deep in a step",
       [&] { return executeWith([](auto& r) {
           for (int i = 0; i < 3; ++i) *r.add_operations() = r.operations(0);
           r.mutable_operations(3)->mutable_read()->mutable_attribute()->set_handle(70000);
         }); },
       C::INVALID_ARGUMENT, "operations[3].read.attribute.handle"},
      {"negative budget",
       [&] { return executeWith([](auto& r) { r.mutable_budget()->set_seconds(-1); }); },
       C::INVALID_ARGUMENT, "budget"},
      {"wait count zero",
       [&] { return executeWith([](auto& r) {
           r.mutable_operations(0)->mutable_wait_notifications()->mutable_characteristic()
               ->set_characteristic_uuid("2A37");
         }); },
       C::INVALID_ARGUMENT, "operations[0].wait_notifications.count"},
      {"unknown session state",
       [&] {
         grpc::ClientContext ctx;
         v1::ListSessionsRequest request;
         request.mutable_filter()->add_states(static_cast<v1::SessionState>(77));
         v1::ListSessionsResponse response;
         return sessions->ListSessions(&ctx, request, &response);
       },
       C::INVALID_ARGUMENT, "filter.states[0]"},
      {"slot limit out of range",
       [&] {
         grpc::ClientContext ctx;
         v1::UpdateAdapterRequest request;
         request.set_name("hci0");
         request.set_connection_slot_limit(0);
         v1::UpdateAdapterResponse response;
         return adapters->UpdateAdapter(&ctx, request, &response);
       },
       C::INVALID_ARGUMENT, "connection_slot_limit"},
      {"missing adapter name",
       [&] {
         grpc::ClientContext ctx;
         v1::GetAdapterResponse response;
         return adapters->GetAdapter(&ctx, v1::GetAdapterRequest(), &response);
       },
       C::INVALID_ARGUMENT, "name"},
  };
  for (const Row& row : table) {
    const grpc::Status s = row.call();
    EXPECT_EQ(s.error_code(), row.code) << row.what << ": " << s.error_message();
    const auto info = errorInfo(s);
    if (row.code == C::INVALID_ARGUMENT || row.code == C::FAILED_PRECONDITION) {
      if (info.reason() == "INVALID_FIELD" || info.reason() == "BACKEND_LIMITATION") {
        EXPECT_EQ(info.metadata().at("field"), row.field) << row.what;
      } else {
        EXPECT_EQ(info.reason(), "ATTRIBUTE_AMBIGUOUS") << row.what;
      }
      EXPECT_NE(s.error_message().find(row.field), std::string::npos)
          << row.what << ": " << s.error_message();
    } else {
      EXPECT_EQ(info.reason(), row.field) << row.what << ": " << s.error_message();
    }
    EXPECT_GT(s.error_message().size(), 20u) << row.what << ": " << s.error_message();
  }
  // Still serving.
  grpc::ClientContext ctx;
  v1::ReadRequest request;
  request.set_address(kDevice);
  request.mutable_attribute()->set_characteristic_uuid("2A38");
  v1::ReadResponse response;
  EXPECT_TRUE(gatt->Read(&ctx, request, &response).ok());
}

}  // namespace
}  // namespace gattway::testing
