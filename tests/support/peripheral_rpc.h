// A PeripheralService client for integration tests: the calls every hosted-peripheral test makes,
// on `stub_` (set it once the gateway listens). Mixed into a test fixture.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "gattway/v1/peripheral.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

namespace gattway::testing {

inline v1::AttributeRef hostedRef(const std::string& characteristic, const std::string& service = "") {
  v1::AttributeRef r;
  r.set_characteristic_uuid(characteristic);
  r.set_service_uuid(service);
  return r;
}

// The seeds' environmental-sensing peripheral (0x181A: Temperature 0x2A6E, read, notify and
// indicate, 21.7 °C, with a User Description) plus a captured command characteristic; tests add
// their own characteristics to services(0).
inline constexpr char kEnvCommandUuid[] = "6e400002-b5a3-f393-e0a9-e50e24dcca9e";
inline v1::RegisterServicesRequest envSensorDatabase() {
  v1::RegisterServicesRequest r;
  auto* env = r.add_services();
  env->set_uuid("181A");
  auto* temp = env->add_characteristics();
  temp->set_uuid("2A6E");
  temp->set_read(true);
  temp->set_notify(true);
  temp->set_indicate(true);
  temp->set_initial_value(std::string("\x9a\x09", 2));
  auto* desc = temp->add_descriptors();
  desc->set_uuid("2901");
  desc->set_read(true);
  desc->set_value("Temperature");
  auto* cmd = env->add_characteristics();
  cmd->set_uuid(kEnvCommandUuid);
  cmd->set_write(true);
  cmd->set_capture(true);
  r.set_capture_queue_size(16);
  return r;
}

class PeripheralRpc {
 protected:
  static grpc::ClientContext* deadline(grpc::ClientContext* c, int seconds = 10) {
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return c;
  }

  // RegisterServices, retried while the gateway has not found BlueZ yet.
  grpc::Status registerServices(const v1::RegisterServicesRequest& request,
                                v1::RegisterServicesResponse* response = nullptr) {
    v1::RegisterServicesResponse local;
    for (int i = 0; i < 100; ++i) {
      grpc::ClientContext c;
      grpc::Status s = stub_->RegisterServices(deadline(&c), request, response ? response : &local);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "BlueZ never appeared");
  }

  grpc::Status setValue(const std::string& ch, const std::string& value, bool update,
                        v1::SetValueResponse* out = nullptr) {
    grpc::ClientContext c;
    v1::SetValueRequest r;
    *r.mutable_characteristic() = hostedRef(ch);
    r.set_value(value);
    r.set_send_update(update);
    v1::SetValueResponse local;
    return stub_->SetValue(deadline(&c), r, out ? out : &local);
  }

  std::string getValue(const std::string& ch, bool clear = false) {
    grpc::ClientContext c;
    v1::GetValueRequest r;
    *r.mutable_characteristic() = hostedRef(ch);
    r.set_clear(clear);
    v1::GetValueResponse out;
    EXPECT_TRUE(stub_->GetValue(deadline(&c), r, &out).ok());
    return out.value();
  }

  grpc::Status startAdvertising(const v1::StartAdvertisingRequest& r,
                                v1::StartAdvertisingResponse* out = nullptr) {
    grpc::ClientContext c;
    v1::StartAdvertisingResponse local;
    return stub_->StartAdvertising(deadline(&c), r, out ? out : &local);
  }

  // Reads WatchPeripheral events until one of `type` arrives.
  static bool waitFor(grpc::ClientReader<v1::WatchPeripheralResponse>& reader,
                      v1::PeripheralEventType type, v1::WatchPeripheralResponse* out = nullptr) {
    v1::WatchPeripheralResponse e;
    while (reader.Read(&e)) {
      if (e.type() == type) {
        if (out) *out = e;
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<v1::PeripheralService::Stub> stub_;
};

}  // namespace gattway::testing
