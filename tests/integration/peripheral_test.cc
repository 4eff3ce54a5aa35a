// The hosted peripheral end to end against a stand-in bluetoothd (tests/support/fake_bluetoothd.h):
// gRPC calls into the gateway, the BlueZ backend exporting the application and advertisements on a
// private bus, and the stand-in reading them back. What centrals do (reads, writes, appends,
// captures, notifications and indications, read handlers) is tested against the simulated BlueZ
// in peripheral_sim_test.cc; what stays here is what the simulator does not show: the exported
// objects and advertisement properties exactly as bluetoothd reads them (Flags, DiscoverableTimeout,
// Timeout, MinInterval, Includes), descriptor reads, Release() on demand, an adapter with one
// advertising slot, and a bluetoothd without experimental features.
#include <chrono>
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
#include "tests/support/peripheral_rpc.h"
#include "tests/support/private_bus.h"

namespace gattway {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr const char* kEnv = "0000181a-0000-1000-8000-00805f9b34fb";
constexpr const char* kTemp = "00002a6e-0000-1000-8000-00805f9b34fb";
constexpr const char* kCmd = testing::kEnvCommandUuid;
constexpr const char* kBlob = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";
constexpr const char* kCentral = "11:22:33:44:55:66";

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

std::string reasonOf(const grpc::Status& s) {
  google::rpc::Status rich;
  google::rpc::ErrorInfo info;
  if (!rich.ParseFromString(s.error_details()) || rich.details_size() == 0 ||
      !rich.details(0).UnpackTo(&info)) {
    return "";
  }
  return info.reason();
}

std::string metadataOf(const grpc::Status& s, const std::string& key) {
  google::rpc::Status rich;
  google::rpc::ErrorInfo info;
  if (!rich.ParseFromString(s.error_details()) || rich.details_size() == 0 ||
      !rich.details(0).UnpackTo(&info)) {
    return "";
  }
  auto it = info.metadata().find(key);
  return it == info.metadata().end() ? "" : it->second;
}

// The seeds' environmental-sensing peripheral, its command, and a blob characteristic.
v1::RegisterServicesRequest envDatabase() {
  v1::RegisterServicesRequest r = testing::envSensorDatabase();
  auto* blob = r.mutable_services(0)->add_characteristics();
  blob->set_uuid(kBlob);
  blob->set_read(true);
  blob->set_write(true);
  blob->set_max_len(64);
  blob->set_append(true);
  blob->set_capture(true);
  return r;
}

class AHostedPeripheral : public ::testing::Test, protected testing::PeripheralRpc {
 protected:
  void SetUp() override { startWith(testing::FakeBluetoothd::Options()); }
  void startWith(testing::FakeBluetoothd::Options options) {
    bluez_ = std::make_unique<testing::FakeBluetoothd>(bus_.address(), std::move(options));
    server::GatewayOptions o;
    o.grpcAddress = "127.0.0.1:0";
    o.dbusAddress = bus_.address();
    gateway_ = std::make_unique<server::Gateway>(o);
    ASSERT_TRUE(gateway_->start().ok());
    stub_ = v1::PeripheralService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", gateway_->grpcPort()), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (gateway_) gateway_->shutdown(absl::Seconds(1));
    gateway_.reset();
    bluez_.reset();
  }

  void registerEnv() {
    ASSERT_TRUE(registerServices(envDatabase()).ok());
    ASSERT_TRUE(bluez_->waitForApplication(absl::Seconds(5)));
  }

  testing::PrivateBus bus_;
  std::unique_ptr<testing::FakeBluetoothd> bluez_;
  std::unique_ptr<server::Gateway> gateway_;
};

TEST_F(AHostedPeripheral, ExportsTheDatabaseTheWayBlueZReadsIt) {
  v1::RegisterServicesResponse response;
  ASSERT_TRUE(registerServices(envDatabase(), &response).ok());
  EXPECT_EQ(response.adapter(), "hci0");
  ASSERT_EQ(response.attributes_size(), 4);
  EXPECT_EQ(response.attributes(0).characteristic_uuid(), "2A6E");
  EXPECT_EQ(response.attributes(1).descriptor_uuid(), "2901");
  ASSERT_TRUE(bluez_->waitForApplication(absl::Seconds(5)));
  std::map<std::string, testing::FakeBluetoothd::Attribute> byUuid;
  for (const auto& a : bluez_->application()) byUuid[a.uuid] = a;
  EXPECT_TRUE(byUuid[kEnv].primary);
  EXPECT_EQ(byUuid[kTemp].flags, (std::vector<std::string>{"read", "notify", "indicate"}));
  EXPECT_EQ(byUuid[kTemp].parent, byUuid[kEnv].path);
  EXPECT_EQ(byUuid[kCmd].flags, (std::vector<std::string>{"write"}));
  EXPECT_EQ(byUuid["00002901-0000-1000-8000-00805f9b34fb"].parent, byUuid[kTemp].path);
  EXPECT_EQ(response.attributes(0).object_path(), byUuid[kTemp].path);
}

// The simulator's remote centrals read characteristics only: descriptors are read here.
TEST_F(AHostedPeripheral, ServesADescriptorsValue) {
  registerEnv();
  auto d = bluez_->readValue(bluez_->pathOf("00002901-0000-1000-8000-00805f9b34fb",
                                            "org.bluez.GattDescriptor1"),
                             kCentral);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(str(d.value), "Temperature");
}

TEST_F(AHostedPeripheral, RefusesToNotifyOneCentralNamingTheBlueZVersionNeeded) {
  registerEnv();
  grpc::ClientContext c;
  v1::NotifyRequest r;
  *r.mutable_characteristic() = testing::hostedRef("2A6E");
  r.set_central(kCentral);
  v1::NotifyResponse out;
  const grpc::Status s = stub_->Notify(deadline(&c), r, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(reasonOf(s), "BACKEND_LIMITATION");
  EXPECT_EQ(metadataOf(s, "bluez_version_needed"), "5.76");
}

TEST_F(AHostedPeripheral, RefusesAcquireWriteAndAcquireNotify) {
  registerEnv();
  auto r = bluez_->callMethod(bluez_->pathOf(kTemp), "org.bluez.GattCharacteristic1", "AcquireNotify");
  EXPECT_EQ(r.error, "org.bluez.Error.NotSupported");
}

TEST_F(AHostedPeripheral, ReplacesTheDatabaseOnASecondRegistration) {
  registerEnv();
  v1::RegisterServicesRequest second;
  auto* s = second.add_services();
  s->set_uuid("180F");
  auto* c = s->add_characteristics();
  c->set_uuid("2A19");
  c->set_read(true);
  c->set_initial_value(std::string("\x64", 1));
  ASSERT_TRUE(registerServices(second).ok());
  for (int i = 0; i < 100 && bluez_->pathOf(kTemp) != ""; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(bluez_->waitForApplication(absl::Seconds(5)));
  EXPECT_EQ(bluez_->pathOf(kTemp), "");
  const std::string battery = bluez_->pathOf("00002a19-0000-1000-8000-00805f9b34fb");
  ASSERT_NE(battery, "");
  EXPECT_EQ(str(bluez_->readValue(battery, kCentral).value), "\x64");
  grpc::ClientContext gc;
  v1::GetValueRequest r;
  *r.mutable_characteristic() = testing::hostedRef("2A6E");
  v1::GetValueResponse out;
  EXPECT_EQ(stub_->GetValue(deadline(&gc), r, &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AHostedPeripheral, AdvertisesEveryFieldBlueZTakes) {
  registerEnv();
  v1::StartAdvertisingRequest r;
  r.set_id("env");
  r.set_local_name("openmv-env");
  r.add_service_uuids("181A");
  r.set_appearance(0x0540);
  auto* m = r.add_manufacturer_data();
  m->set_company_id(0xFFFF);
  m->set_data("\x01\x02");
  auto* sd = r.add_service_data();
  sd->set_uuid("181A");
  sd->set_data("\x9a\x09");
  r.set_discoverability(v1::DISCOVERABILITY_LIMITED);
  r.mutable_timeout()->set_seconds(60);
  v1::StartAdvertisingResponse out;
  const grpc::Status s = startAdvertising(r, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.id(), "env");
  EXPECT_EQ(out.adapter(), "hci0");
  EXPECT_TRUE(out.has_expire_time());
  auto ads = bluez_->advertisements();
  ASSERT_EQ(ads.size(), 1u);
  const auto& a = ads.front();
  EXPECT_EQ(a.type, "peripheral");
  EXPECT_EQ(a.localName, "openmv-env");
  EXPECT_EQ(a.serviceUuids, std::vector<std::string>{kEnv});
  EXPECT_EQ(a.appearance, 0x0540);
  EXPECT_EQ(a.manufacturerData.at(0xFFFF), (Bytes{1, 2}));
  EXPECT_EQ(a.serviceData.at(kEnv), (Bytes{0x9a, 0x09}));
  EXPECT_EQ(a.discoverable, true);
  EXPECT_EQ(a.discoverableTimeout, 60);
  EXPECT_EQ(a.timeout, 60);
  EXPECT_FALSE(a.minInterval.has_value());
  // A second one with the same id, then a broadcast one.
  EXPECT_EQ(startAdvertising(r).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  v1::StartAdvertisingRequest beacon;
  beacon.set_id("beacon");
  beacon.set_type(v1::ADVERTISING_TYPE_BROADCAST);
  beacon.add_manufacturer_data()->set_company_id(0x004C);
  ASSERT_TRUE(startAdvertising(beacon).ok());
  bool found = false;
  for (const auto& ad : bluez_->advertisements()) {
    if (ad.type == "broadcast") {
      found = true;
      EXPECT_FALSE(ad.discoverable.has_value());  // BlueZ refuses flags on broadcasts
    }
  }
  EXPECT_TRUE(found);
  grpc::ClientContext c;
  v1::StopAdvertisingRequest stop;
  v1::StopAdvertisingResponse stopped;
  ASSERT_TRUE(stub_->StopAdvertising(deadline(&c), stop, &stopped).ok());
  EXPECT_EQ(stopped.ids_size(), 2);
  for (int i = 0; i < 100 && !bluez_->advertisements().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(bluez_->advertisements().empty());
}

TEST_F(AHostedPeripheral, ReportsNoFreeAdvertisingInstanceAsResourceExhausted) {
  TearDown();
  testing::FakeBluetoothd::Options o;
  o.advertisingSlots = 1;
  startWith(o);
  registerEnv();
  v1::StartAdvertisingRequest a;
  a.set_id("one");
  ASSERT_TRUE(startAdvertising(a).ok());
  a.set_id("two");
  const grpc::Status s = startAdvertising(a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(reasonOf(s), "NO_ADVERTISING_INSTANCE");
}

TEST_F(AHostedPeripheral, RefusesIntervalsAndTxPowerWhenBlueZIgnoresThem) {
  registerEnv();
  v1::StartAdvertisingRequest a;
  a.mutable_min_interval()->set_nanos(100'000'000);
  const grpc::Status s = startAdvertising(a);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(reasonOf(s), "BACKEND_LIMITATION");
  EXPECT_EQ(metadataOf(s, "field"), "min_interval");
}

TEST_F(AHostedPeripheral, PassesIntervalsAndTxPowerToAnExperimentalBlueZ) {
  TearDown();
  testing::FakeBluetoothd::Options o;
  o.experimental = true;
  startWith(o);
  registerEnv();
  v1::StartAdvertisingRequest a;
  a.mutable_min_interval()->set_nanos(100'000'000);
  a.mutable_max_interval()->set_nanos(200'000'000);
  a.set_tx_power(-4);
  a.set_include_tx_power(true);
  ASSERT_TRUE(startAdvertising(a).ok());
  auto ads = bluez_->advertisements();
  ASSERT_EQ(ads.size(), 1u);
  EXPECT_EQ(ads[0].minInterval, 100u);
  EXPECT_EQ(ads[0].maxInterval, 200u);
  EXPECT_EQ(ads[0].txPower, -4);
  EXPECT_EQ(ads[0].includes, std::vector<std::string>{"tx-power"});
}

TEST_F(AHostedPeripheral, ReportsAnAdvertisementBlueZReleases) {
  registerEnv();
  grpc::ClientContext wc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  watch->WaitForInitialMetadata();
  v1::StartAdvertisingRequest a;
  a.set_id("short");
  ASSERT_TRUE(startAdvertising(a).ok());
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_ADVERTISING_STARTED));
  bluez_->release(bluez_->advertisements().at(0).path);
  v1::WatchPeripheralResponse e;
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_ADVERTISING_STOPPED, &e));
  EXPECT_EQ(e.advertisement_id(), "short");
  EXPECT_EQ(e.detail(), "released by BlueZ");
  wc.TryCancel();
}

TEST_F(AHostedPeripheral, RegistersEverythingAgainAfterABlueZRestart) {
  registerEnv();
  v1::StartAdvertisingRequest a;
  a.set_id("env");
  a.set_local_name("env");
  ASSERT_TRUE(startAdvertising(a).ok());
  ASSERT_TRUE(setValue("2A6E", "\x01\x02", false).ok());
  grpc::ClientContext wc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  watch->WaitForInitialMetadata();
  bluez_->restart();
  v1::WatchPeripheralResponse e;
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_DATABASE_REGISTERED, &e));
  EXPECT_NE(e.detail().find("after a BlueZ restart"), std::string::npos);
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_ADVERTISING_STARTED));
  ASSERT_TRUE(bluez_->waitForApplication(absl::Seconds(5)));
  EXPECT_EQ(str(bluez_->readValue(bluez_->pathOf(kTemp), kCentral).value), "\x01\x02");
  ASSERT_EQ(bluez_->advertisements().size(), 1u);
  EXPECT_EQ(bluez_->advertisements()[0].localName, "env");
  wc.TryCancel();
}

TEST_F(AHostedPeripheral, WithdrawsTheDatabaseAndAdvertisementsWhenTheGatewayStops) {
  registerEnv();
  v1::StartAdvertisingRequest a;
  ASSERT_TRUE(startAdvertising(a).ok());
  ASSERT_EQ(bluez_->advertisements().size(), 1u);
  gateway_->shutdown(absl::Seconds(1));
  gateway_.reset();
  for (int i = 0; i < 100 && !(bluez_->application().empty() && bluez_->advertisements().empty());
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(bluez_->application().empty());  // UnregisterApplication reached bluetoothd
  EXPECT_TRUE(bluez_->advertisements().empty());
}

TEST_F(AHostedPeripheral, EndsItsStreamsWithShuttingDownWhenTheGatewayStops) {
  registerEnv();
  grpc::ClientContext wc, sc, hc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  v1::StreamWritesRequest writes;
  *writes.add_characteristics() = testing::hostedRef(kCmd);
  auto captured = stub_->StreamWrites(deadline(&sc, 20), writes);
  auto handler = stub_->HandleReads(deadline(&hc, 20));
  v1::HandleReadsRequest reg;
  *reg.mutable_register_()->add_characteristics() = testing::hostedRef(kBlob);
  ASSERT_TRUE(handler->Write(reg));
  v1::HandleReadsResponse registered;
  ASSERT_TRUE(handler->Read(&registered));  // all three are live once this arrives
  watch->WaitForInitialMetadata();
  captured->WaitForInitialMetadata();

  gateway_->shutdown(absl::Seconds(1));
  v1::WatchPeripheralResponse w;
  while (watch->Read(&w)) {
  }
  v1::StreamWritesResponse m;
  while (captured->Read(&m)) {
  }
  v1::HandleReadsResponse r;
  while (handler->Read(&r)) {
  }
  for (const grpc::Status& s : {watch->Finish(), captured->Finish(), handler->Finish()}) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_EQ(reasonOf(s), "SHUTTING_DOWN");
  }
}

TEST_F(AHostedPeripheral, DescribesItselfWithGetPeripheral) {
  registerEnv();
  bluez_->connectCentral("hci0", kCentral);
  bluez_->readValue(bluez_->pathOf(kTemp), kCentral, 0, 247);
  v1::StartAdvertisingRequest a;
  ASSERT_TRUE(startAdvertising(a).ok());
  grpc::ClientContext c;
  v1::GetPeripheralResponse out;
  ASSERT_TRUE(stub_->GetPeripheral(deadline(&c), v1::GetPeripheralRequest(), &out).ok());
  EXPECT_EQ(out.adapter(), "hci0");
  ASSERT_EQ(out.services_size(), 1);
  EXPECT_EQ(out.services(0).characteristics(0).initial_value(), std::string("\x9a\x09", 2));
  EXPECT_EQ(out.services(0).characteristics(0).max_len(), 20u);
  ASSERT_EQ(out.advertisement_ids_size(), 1);
  EXPECT_EQ(out.advertisement_ids(0), "default");
  ASSERT_EQ(out.centrals_size(), 1);
  EXPECT_EQ(out.centrals(0).address(), kCentral);
  EXPECT_EQ(out.centrals(0).mtu(), 247u);
}

}  // namespace
}  // namespace gattway
