// Bad input to every PeripheralService RPC: the right code, and the offending field named in the
// ErrorInfo ("services[0].characteristics[0].max_len"). UnregisterServices, WatchPeripheral and
// GetPeripheral take no fields: nothing to refuse beyond "no database yet" (the second test).
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/gateway.h"
#include "tests/support/fake_bluetoothd.h"
#include "tests/support/private_bus.h"

namespace gattway {
namespace {

using Req = v1::RegisterServicesRequest;
using Adv = v1::StartAdvertisingRequest;

google::rpc::ErrorInfo infoOf(const grpc::Status& s) {
  google::rpc::Status rich;
  google::rpc::ErrorInfo info;
  if (rich.ParseFromString(s.error_details()) && rich.details_size() > 0) {
    rich.details(0).UnpackTo(&info);
  }
  return info;
}

Req goodDatabase() {
  Req r;
  auto* s = r.add_services();
  s->set_uuid("181A");
  auto* t = s->add_characteristics();
  t->set_uuid("2A6E");
  t->set_read(true);
  t->set_notify(true);
  auto* c = s->add_characteristics();
  c->set_uuid("2A6F");
  c->set_read(true);
  c->set_write(true);
  c->set_capture(true);
  return r;
}

v1::LocalCharacteristic* firstChar(Req& r) { return r.mutable_services(0)->mutable_characteristics(0); }

struct Row {
  std::string name;
  std::function<grpc::Status()> call;
  grpc::StatusCode code;
  std::string field;  // empty: no field expected
};

class PeripheralBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    bluez_ = std::make_unique<testing::FakeBluetoothd>(bus_.address());
    server::GatewayOptions o;
    o.grpcAddress = "127.0.0.1:0";
    o.dbusAddress = bus_.address();
    gateway_ = std::make_unique<server::Gateway>(o);
    ASSERT_TRUE(gateway_->start().ok());
    stub_ = v1::PeripheralService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", gateway_->grpcPort()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    gateway_->shutdown(absl::Seconds(1));
    gateway_.reset();
    bluez_.reset();
  }
  static grpc::ClientContext* dl(grpc::ClientContext* c) {
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  }
  grpc::Status registerServices(const Req& r) {
    for (int i = 0; i < 100; ++i) {
      grpc::ClientContext c;
      v1::RegisterServicesResponse out;
      grpc::Status s = stub_->RegisterServices(dl(&c), r, &out);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no BlueZ");
  }
  grpc::Status startAdvertising(const Adv& r) {
    grpc::ClientContext c;
    v1::StartAdvertisingResponse out;
    return stub_->StartAdvertising(dl(&c), r, &out);
  }
  template <typename Request, typename Response, typename Method>
  grpc::Status unary(Method method, const Request& r) {
    grpc::ClientContext c;
    Response out;
    return ((*stub_).*method)(dl(&c), r, &out);
  }
  // The status a HandleReads stream ends with after `messages`.
  grpc::Status handleReads(const std::vector<v1::HandleReadsRequest>& messages) {
    grpc::ClientContext c;
    dl(&c);
    auto stream = stub_->HandleReads(&c);
    for (const auto& m : messages) {
      if (!stream->Write(m)) break;
    }
    v1::HandleReadsResponse in;
    while (stream->Read(&in)) {
    }
    return stream->Finish();
  }
  grpc::Status streamWrites(const v1::StreamWritesRequest& r) {
    grpc::ClientContext c;
    dl(&c);
    auto reader = stub_->StreamWrites(&c, r);
    v1::StreamWritesResponse in;
    while (reader->Read(&in)) {
    }
    return reader->Finish();
  }

  testing::PrivateBus bus_;
  std::unique_ptr<testing::FakeBluetoothd> bluez_;
  std::unique_ptr<server::Gateway> gateway_;
  std::unique_ptr<v1::PeripheralService::Stub> stub_;
};

TEST_F(PeripheralBadInput, IsRefusedByEveryRpcWithTheFieldNamed) {
  using C = grpc::StatusCode;
  ASSERT_TRUE(registerServices(goodDatabase()).ok());
  auto db = [this](std::function<void(Req&)> change) {
    return [this, change] {
      Req r = goodDatabase();
      change(r);
      return registerServices(r);
    };
  };
  auto adv = [this](std::function<void(Adv&)> change) {
    return [this, change] {
      Adv r;
      change(r);
      return startAdvertising(r);
    };
  };
  auto set = [this](std::function<void(v1::SetValueRequest&)> change) {
    return [this, change] {
      v1::SetValueRequest r;
      r.mutable_characteristic()->set_characteristic_uuid("2A6E");
      change(r);
      return unary<v1::SetValueRequest, v1::SetValueResponse>(&v1::PeripheralService::Stub::SetValue, r);
    };
  };
  auto reads = [this](std::function<void(std::vector<v1::HandleReadsRequest>&)> build) {
    return [this, build] {
      std::vector<v1::HandleReadsRequest> m;
      build(m);
      return handleReads(m);
    };
  };
  auto registration = [](std::vector<v1::HandleReadsRequest>& m) {
    v1::HandleReadsRequest r;
    r.mutable_register_()->add_characteristics()->set_characteristic_uuid("2A6E");
    m.push_back(r);
  };
  const std::vector<Row> rows = {
      // RegisterServices
      {"adapter name", db([](Req& r) { r.set_adapter("usb0"); }), C::INVALID_ARGUMENT, "adapter"},
      {"unknown adapter", db([](Req& r) { r.set_adapter("hci7"); }), C::NOT_FOUND, "adapter"},
      {"no services", db([](Req& r) { r.clear_services(); }), C::INVALID_ARGUMENT, "services"},
      {"service uuid", db([](Req& r) { r.mutable_services(0)->set_uuid("xyz"); }), C::INVALID_ARGUMENT, "services[0].uuid"},
      {"GAP service", db([](Req& r) { r.mutable_services(0)->set_uuid("1800"); }), C::INVALID_ARGUMENT, "services[0].uuid"},
      {"no characteristics", db([](Req& r) { r.mutable_services(0)->clear_characteristics(); }), C::INVALID_ARGUMENT, "services[0].characteristics"},
      {"characteristic uuid", db([](Req& r) { firstChar(r)->set_uuid(""); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].uuid"},
      {"no properties", db([](Req& r) { firstChar(r)->set_read(false); firstChar(r)->set_notify(false); }), C::INVALID_ARGUMENT, "services[0].characteristics[0]"},
      {"max_len", db([](Req& r) { firstChar(r)->set_max_len(513); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].max_len"},
      {"initial value past max_len", db([](Req& r) { firstChar(r)->set_max_len(2); firstChar(r)->set_initial_value("abc"); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].initial_value"},
      {"append without write", db([](Req& r) { firstChar(r)->set_append(true); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].append"},
      {"capture without write", db([](Req& r) { firstChar(r)->set_capture(true); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].capture"},
      {"write security without write", db([](Req& r) { firstChar(r)->set_write_security(v1::ATTRIBUTE_SECURITY_ENCRYPTED); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].write_security"},
      {"unknown security", db([](Req& r) { firstChar(r)->set_read_security(static_cast<v1::AttributeSecurity>(99)); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].read_security"},
      {"CCC descriptor", db([](Req& r) { firstChar(r)->add_descriptors()->set_uuid("2902"); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].descriptors[0].uuid"},
      {"descriptor allows nothing", db([](Req& r) { firstChar(r)->add_descriptors()->set_uuid("2901"); }), C::INVALID_ARGUMENT, "services[0].characteristics[0].descriptors[0]"},
      {"capture queue", db([](Req& r) { r.set_capture_queue_size(8); }), C::INVALID_ARGUMENT, "capture_queue_size"},
      // StartAdvertising
      {"advertisement id", adv([](Adv& r) { r.set_id("Bad Id"); }), C::INVALID_ARGUMENT, "id"},
      {"advertisement id length", adv([](Adv& r) { r.set_id(std::string(33, 'a')); }), C::INVALID_ARGUMENT, "id"},
      {"advertising adapter", adv([](Adv& r) { r.set_adapter("hci"); }), C::INVALID_ARGUMENT, "adapter"},
      {"local name", adv([](Adv& r) { r.set_local_name(std::string(30, 'n')); }), C::INVALID_ARGUMENT, "local_name"},
      {"service uuid list", adv([](Adv& r) { r.add_service_uuids("181A"); r.add_service_uuids("nope"); }), C::INVALID_ARGUMENT, "service_uuids[1]"},
      {"solicit uuid", adv([](Adv& r) { r.add_solicit_uuids("-"); }), C::INVALID_ARGUMENT, "solicit_uuids[0]"},
      {"appearance", adv([](Adv& r) { r.set_appearance(70000); }), C::INVALID_ARGUMENT, "appearance"},
      {"company id", adv([](Adv& r) { r.add_manufacturer_data()->set_company_id(70000); }), C::INVALID_ARGUMENT, "manufacturer_data[0].company_id"},
      {"company id twice", adv([](Adv& r) { r.add_manufacturer_data()->set_company_id(1); r.add_manufacturer_data()->set_company_id(1); }), C::INVALID_ARGUMENT, "manufacturer_data[1].company_id"},
      {"service data uuid", adv([](Adv& r) { r.add_service_data()->set_uuid("q"); }), C::INVALID_ARGUMENT, "service_data[0].uuid"},
      {"negative timeout", adv([](Adv& r) { r.mutable_timeout()->set_seconds(-1); }), C::INVALID_ARGUMENT, "timeout"},
      {"timeout past 24 h", adv([](Adv& r) { r.mutable_timeout()->set_seconds(25 * 3600); }), C::INVALID_ARGUMENT, "timeout"},
      {"interval too short", adv([](Adv& r) { r.mutable_min_interval()->set_nanos(10'000'000); }), C::INVALID_ARGUMENT, "min_interval"},
      {"max below min", adv([](Adv& r) { r.mutable_min_interval()->set_nanos(200'000'000); r.mutable_max_interval()->set_nanos(100'000'000); }), C::INVALID_ARGUMENT, "max_interval"},
      {"tx power", adv([](Adv& r) { r.set_tx_power(30); }), C::INVALID_ARGUMENT, "tx_power"},
      {"advertising type", adv([](Adv& r) { r.set_type(static_cast<v1::AdvertisingType>(9)); }), C::INVALID_ARGUMENT, "type"},
      {"discoverable broadcast", adv([](Adv& r) { r.set_type(v1::ADVERTISING_TYPE_BROADCAST); r.set_discoverability(v1::DISCOVERABILITY_GENERAL); }), C::INVALID_ARGUMENT, "discoverability"},
      {"payload past 31 bytes", adv([](Adv& r) { for (int i = 0; i < 3; ++i) { auto* m = r.add_manufacturer_data(); m->set_company_id(static_cast<std::uint32_t>(i)); m->set_data(std::string(10, 'm')); } }), C::INVALID_ARGUMENT, "manufacturer_data[2]"},
      {"raw advertising data", adv([](Adv& r) { r.set_advertising_data("\x02\x01\x06"); }), C::FAILED_PRECONDITION, "advertising_data"},
      {"scan response data", adv([](Adv& r) { r.set_scan_response_data("\x02\x0a\x00"); }), C::FAILED_PRECONDITION, "scan_response_data"},
      // StopAdvertising
      {"unknown advertisement", [this] {
         v1::StopAdvertisingRequest r;
         r.set_id("nope");
         return unary<v1::StopAdvertisingRequest, v1::StopAdvertisingResponse>(&v1::PeripheralService::Stub::StopAdvertising, r);
       }, C::NOT_FOUND, "id"},
      // SetValue
      {"no characteristic", set([](v1::SetValueRequest& r) { r.clear_characteristic(); }), C::INVALID_ARGUMENT, "characteristic.characteristic_uuid"},
      {"a handle", set([](v1::SetValueRequest& r) { r.mutable_characteristic()->set_handle(12); }), C::INVALID_ARGUMENT, "characteristic.handle"},
      {"service uuid of a ref", set([](v1::SetValueRequest& r) { r.mutable_characteristic()->set_service_uuid("zz"); }), C::INVALID_ARGUMENT, "characteristic.service_uuid"},
      {"value past 512", set([](v1::SetValueRequest& r) { r.set_value(std::string(513, 'v')); }), C::INVALID_ARGUMENT, "value"},
      {"value past max_len", set([](v1::SetValueRequest& r) { r.set_value(std::string(21, 'v')); }), C::INVALID_ARGUMENT, "value"},
      {"unknown characteristic", set([](v1::SetValueRequest& r) { r.mutable_characteristic()->set_characteristic_uuid("2A19"); }), C::NOT_FOUND, "characteristic"},
      {"unknown instance", set([](v1::SetValueRequest& r) { r.mutable_characteristic()->set_instance(3); }), C::NOT_FOUND, "characteristic.instance"},
      {"unknown descriptor", set([](v1::SetValueRequest& r) { r.mutable_characteristic()->set_descriptor_uuid("2901"); }), C::NOT_FOUND, "characteristic.descriptor_uuid"},
      {"update without notify", set([](v1::SetValueRequest& r) { r.mutable_characteristic()->set_characteristic_uuid("2A6F"); r.set_send_update(true); }), C::FAILED_PRECONDITION, "send_update"},
      // GetValue
      {"GetValue uuid", [this] {
         v1::GetValueRequest r;
         r.mutable_characteristic()->set_characteristic_uuid("0x");
         return unary<v1::GetValueRequest, v1::GetValueResponse>(&v1::PeripheralService::Stub::GetValue, r);
       }, C::INVALID_ARGUMENT, "characteristic.characteristic_uuid"},
      {"GetValue of an unknown characteristic", [this] {
         v1::GetValueRequest r;
         r.mutable_characteristic()->set_characteristic_uuid("2A19");
         return unary<v1::GetValueRequest, v1::GetValueResponse>(&v1::PeripheralService::Stub::GetValue, r);
       }, C::NOT_FOUND, "characteristic"},
      // Notify
      {"Notify without characteristic", [this] {
         v1::NotifyRequest r;
         r.set_central("11:22:33:44:55:66");
         return unary<v1::NotifyRequest, v1::NotifyResponse>(&v1::PeripheralService::Stub::Notify, r);
       }, C::INVALID_ARGUMENT, "characteristic.characteristic_uuid"},
      {"Notify value past 512", [this] {
         v1::NotifyRequest r;
         r.mutable_characteristic()->set_characteristic_uuid("2A6E");
         r.set_central("11:22:33:44:55:66");
         r.set_value(std::string(513, 'v'));
         return unary<v1::NotifyRequest, v1::NotifyResponse>(&v1::PeripheralService::Stub::Notify, r);
       }, C::INVALID_ARGUMENT, "value"},
      {"Notify without central", [this] {
         v1::NotifyRequest r;
         r.mutable_characteristic()->set_characteristic_uuid("2A6E");
         return unary<v1::NotifyRequest, v1::NotifyResponse>(&v1::PeripheralService::Stub::Notify, r);
       }, C::INVALID_ARGUMENT, "central"},
      {"Notify central address", [this] {
         v1::NotifyRequest r;
         r.mutable_characteristic()->set_characteristic_uuid("2A6E");
         r.set_central("zz:11");
         return unary<v1::NotifyRequest, v1::NotifyResponse>(&v1::PeripheralService::Stub::Notify, r);
       }, C::INVALID_ARGUMENT, "central"},
      // StreamWrites
      {"writes queue size", [this] {
         v1::StreamWritesRequest r;
         r.set_queue_size(8);
         return streamWrites(r);
       }, C::INVALID_ARGUMENT, "queue_size"},
      {"writes of a characteristic without capture", [this] {
         v1::StreamWritesRequest r;
         r.add_characteristics()->set_characteristic_uuid("2A6E");
         return streamWrites(r);
       }, C::FAILED_PRECONDITION, "characteristics[0]"},
      {"writes of an unknown characteristic", [this] {
         v1::StreamWritesRequest r;
         r.add_characteristics()->set_characteristic_uuid("2A19");
         return streamWrites(r);
       }, C::NOT_FOUND, "characteristics[0]"},
      {"writes uuid", [this] {
         v1::StreamWritesRequest r;
         r.add_characteristics()->set_characteristic_uuid("?");
         return streamWrites(r);
       }, C::INVALID_ARGUMENT, "characteristics[0].characteristic_uuid"},
      // HandleReads
      {"answer before registering", reads([](auto& m) {
         v1::HandleReadsRequest a;
         a.mutable_answer()->set_request_id(1);
         a.mutable_answer()->set_value("x");
         m.push_back(a);
       }), C::INVALID_ARGUMENT, "register"},
      {"registration of nothing", reads([](auto& m) { m.emplace_back().mutable_register_(); }), C::INVALID_ARGUMENT, "register.characteristics"},
      {"answer timeout", reads([](auto& m) {
         v1::HandleReadsRequest r;
         r.mutable_register_()->add_characteristics()->set_characteristic_uuid("2A6E");
         r.mutable_register_()->mutable_answer_timeout()->set_nanos(5'000'000);
         m.push_back(r);
       }), C::INVALID_ARGUMENT, "register.answer_timeout"},
      {"unknown read characteristic", reads([](auto& m) {
         v1::HandleReadsRequest r;
         r.mutable_register_()->add_characteristics()->set_characteristic_uuid("2A19");
         m.push_back(r);
       }), C::NOT_FOUND, "register.characteristics[0]"},
      {"answer without request id", reads([&](auto& m) {
         registration(m);
         m.emplace_back().mutable_answer()->set_value("x");
       }), C::INVALID_ARGUMENT, "answer.request_id"},
      {"answer with a bad ATT code", reads([&](auto& m) {
         registration(m);
         auto* a = m.emplace_back().mutable_answer();
         a->set_request_id(1);
         a->set_att_error(0x100);
       }), C::INVALID_ARGUMENT, "answer.att_error"},
      {"answer without answer", reads([&](auto& m) {
         registration(m);
         m.emplace_back().mutable_answer()->set_request_id(1);
       }), C::INVALID_ARGUMENT, "answer"},
      {"second registration", reads([&](auto& m) {
         registration(m);
         registration(m);
       }), C::INVALID_ARGUMENT, "register"},
  };
  for (const Row& row : rows) {
    const grpc::Status s = row.call();
    EXPECT_EQ(s.error_code(), row.code) << row.name << ": " << s.error_message();
    const auto info = infoOf(s);
    if (!row.field.empty()) {
      auto it = info.metadata().find("field");
      ASSERT_NE(it, info.metadata().end()) << row.name << ": " << s.error_message();
      EXPECT_EQ(it->second, row.field) << row.name << ": " << s.error_message();
    }
  }
}

TEST_F(PeripheralBadInput, CallsThatNeedADatabaseSaySoBeforeOneIsRegistered) {
  // Wait until BlueZ is known, without registering anything.
  Req bad = goodDatabase();
  bad.set_adapter("hci9");
  for (int i = 0; i < 100 && registerServices(bad).error_code() == grpc::StatusCode::UNAVAILABLE; ++i) {
  }
  grpc::ClientContext c;
  v1::UnregisterServicesResponse out;
  const grpc::Status s = stub_->UnregisterServices(dl(&c), v1::UnregisterServicesRequest(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(infoOf(s).reason(), "NO_DATABASE");
  v1::StreamWritesRequest w;
  const grpc::Status ws = streamWrites(w);
  EXPECT_EQ(ws.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(infoOf(ws).reason(), "NO_DATABASE");
}

}  // namespace
}  // namespace gattway
