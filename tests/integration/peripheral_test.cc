// The hosted peripheral end to end: gRPC calls into the gateway, the BlueZ backend exporting the
// application and advertisements on a private bus, and a fake bluetoothd reading them back and
// acting for the centrals (until the simulated BlueZ's remote centrals replace it).
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
#include "tests/support/private_bus.h"

namespace gattway {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr const char* kEnv = "0000181a-0000-1000-8000-00805f9b34fb";
constexpr const char* kTemp = "00002a6e-0000-1000-8000-00805f9b34fb";
constexpr const char* kCmd = "6e400002-b5a3-f393-e0a9-e50e24dcca9e";
constexpr const char* kBlob = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";
constexpr const char* kCentral = "11:22:33:44:55:66";

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }
Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

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

v1::AttributeRef ref(const std::string& characteristic, const std::string& service = "") {
  v1::AttributeRef r;
  r.set_characteristic_uuid(characteristic);
  r.set_service_uuid(service);
  return r;
}

// The seeds' environmental-sensing peripheral plus a command and a blob characteristic.
v1::RegisterServicesRequest envDatabase() {
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
  cmd->set_uuid(kCmd);
  cmd->set_write(true);
  cmd->set_capture(true);
  auto* blob = env->add_characteristics();
  blob->set_uuid(kBlob);
  blob->set_read(true);
  blob->set_write(true);
  blob->set_max_len(64);
  blob->set_append(true);
  blob->set_capture(true);
  r.set_capture_queue_size(16);
  return r;
}

class AHostedPeripheral : public ::testing::Test {
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

  void registerEnv() {
    ASSERT_TRUE(registerServices(envDatabase()).ok());
    ASSERT_TRUE(bluez_->waitForApplication(absl::Seconds(5)));
  }

  grpc::Status setValue(const std::string& ch, const std::string& value, bool update,
                        v1::SetValueResponse* out = nullptr) {
    grpc::ClientContext c;
    v1::SetValueRequest r;
    *r.mutable_characteristic() = ref(ch);
    r.set_value(value);
    r.set_send_update(update);
    v1::SetValueResponse local;
    return stub_->SetValue(deadline(&c), r, out ? out : &local);
  }

  std::string getValue(const std::string& ch, bool clear = false) {
    grpc::ClientContext c;
    v1::GetValueRequest r;
    *r.mutable_characteristic() = ref(ch);
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

  testing::PrivateBus bus_;
  std::unique_ptr<testing::FakeBluetoothd> bluez_;
  std::unique_ptr<server::Gateway> gateway_;
  std::unique_ptr<v1::PeripheralService::Stub> stub_;
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

TEST_F(AHostedPeripheral, ServesReadsAndLongReadsFromTheStoredValue) {
  registerEnv();
  const std::string temp = bluez_->pathOf(kTemp);
  auto r = bluez_->readValue(temp, kCentral);
  ASSERT_EQ(r.error, "") << r.message;
  EXPECT_EQ(str(r.value), std::string("\x9a\x09", 2));
  const std::string blob = bluez_->pathOf(kBlob);
  ASSERT_TRUE(setValue(kBlob, std::string(40, 'x') + "tail", false).ok());
  r = bluez_->readValue(blob, kCentral, 40);
  EXPECT_EQ(str(r.value), "tail");
  r = bluez_->readValue(blob, kCentral, 45);
  EXPECT_EQ(r.error, "org.bluez.Error.InvalidOffset");
  auto d = bluez_->readValue(bluez_->pathOf("00002901-0000-1000-8000-00805f9b34fb",
                                            "org.bluez.GattDescriptor1"),
                             kCentral);
  EXPECT_EQ(str(d.value), "Temperature");
}

TEST_F(AHostedPeripheral, AppendsWritesUpToMaxLenAndRefusesTheRestWithInvalidValueLength) {
  registerEnv();
  const std::string blob = bluez_->pathOf(kBlob);
  for (int i = 0; i < 4; ++i) {
    auto r = bluez_->writeValue(blob, Bytes(16, static_cast<std::uint8_t>('a' + i)), kCentral);
    ASSERT_EQ(r.error, "") << i << " " << r.message;
  }
  auto over = bluez_->writeValue(blob, Bytes{'!'}, kCentral);
  EXPECT_EQ(over.error, "org.bluez.Error.InvalidValueLength");  // BlueZ sends ATT 0x0D
  const std::string value = getValue(kBlob, /*clear=*/true);
  EXPECT_EQ(value, std::string(16, 'a') + std::string(16, 'b') + std::string(16, 'c') +
                       std::string(16, 'd'));
  EXPECT_EQ(getValue(kBlob), "");
  // A long write: the part at offset 3 continues the write that started at 0.
  ASSERT_EQ(bluez_->writeValue(blob, bytes("abc"), kCentral).error, "");
  ASSERT_EQ(bluez_->writeValue(blob, bytes("def"), kCentral, 3).error, "");
  EXPECT_EQ(getValue(kBlob), "abcdef");
}

TEST_F(AHostedPeripheral, KeepsOnlyTheLatestValueOfAPlainCharacteristic) {
  v1::RegisterServicesRequest r;
  auto* s = r.add_services();
  s->set_uuid("181A");
  auto* c = s->add_characteristics();
  c->set_uuid(kCmd);
  c->set_write_without_response(true);
  c->set_read(true);
  ASSERT_TRUE(registerServices(r).ok());
  ASSERT_TRUE(bluez_->waitForApplication(absl::Seconds(5)));
  const std::string cmd = bluez_->pathOf(kCmd);
  bluez_->writeValue(cmd, bytes("first"), kCentral, 0, /*noReply=*/true);
  bluez_->writeValue(cmd, bytes("second"), kCentral, 0, /*noReply=*/true);
  EXPECT_EQ(str(bluez_->readValue(cmd, kCentral).value), "second");
  // Too long for the 20-byte buffer: BlueZ already answered the Write Command, so the value is
  // discarded whole, not truncated.
  bluez_->writeValue(cmd, Bytes(21, 'z'), kCentral, 0, true);
  EXPECT_EQ(str(bluez_->readValue(cmd, kCentral).value), "second");
}

TEST_F(AHostedPeripheral, StreamsCapturedWritesInOrderAndReportsTheOverrun) {
  registerEnv();
  const std::string cmd = bluez_->pathOf(kCmd);
  // 20 writes while no stream is open: the queue holds 16, the oldest 4 are dropped.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(bluez_->writeValue(cmd, bytes(absl::StrCat("cmd", i)), kCentral).error, "");
  }
  grpc::ClientContext c;
  v1::StreamWritesRequest req;
  *req.add_characteristics() = ref(kCmd);
  auto reader = stub_->StreamWrites(deadline(&c), req);
  std::vector<v1::CapturedWrite> got;
  std::uint64_t gap = 0;
  v1::StreamWritesResponse m;
  while (got.size() < 17 && reader->Read(&m)) {
    gap += m.gap().dropped();
    for (const auto& w : m.writes()) got.push_back(w);
    if (got.size() == 16) {
      ASSERT_EQ(bluez_->writeValue(cmd, bytes("live"), kCentral).error, "");
    }
  }
  ASSERT_EQ(got.size(), 17u);
  EXPECT_EQ(gap, 4u);
  EXPECT_EQ(got.front().value(), "cmd4");
  EXPECT_EQ(got.front().sequence(), 5u);
  EXPECT_EQ(got[15].value(), "cmd19");
  EXPECT_EQ(got.back().value(), "live");
  EXPECT_EQ(got.back().central(), kCentral);
  EXPECT_EQ(got.back().mode(), v1::WRITE_MODE_WITH_RESPONSE);
  EXPECT_EQ(got.back().characteristic().characteristic_uuid(), kCmd);
  c.TryCancel();
}

TEST_F(AHostedPeripheral, NotifiesEverySubscriberAndTracksIndicationConfirmations) {
  registerEnv();
  grpc::ClientContext wc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  watch->WaitForInitialMetadata();
  const std::string temp = bluez_->pathOf(kTemp);
  bluez_->connectCentral("hci0", kCentral);
  bluez_->connectCentral("hci0", "11:22:33:44:55:77");
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_CENTRAL_CONNECTED));
  bluez_->callNoReply(temp, "StartNotify");
  bluez_->callNoReply(temp, "StartNotify");
  v1::WatchPeripheralResponse e;
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_SUBSCRIBED, &e));
  EXPECT_EQ(e.characteristic().characteristic_uuid(), "2A6E");
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_SUBSCRIBED));
  v1::SetValueResponse out;
  ASSERT_TRUE(setValue("2A6E", std::string("\x10\x0a", 2), true, &out).ok());
  EXPECT_EQ(out.centrals_updated(), 2u);
  ASSERT_TRUE(bluez_->waitForValues(temp, 1, absl::Seconds(5)));
  EXPECT_EQ(str(bluez_->values(temp).front()), std::string("\x10\x0a", 2));
  bluez_->callNoReply(temp, "Confirm");
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_INDICATION_CONFIRMED, &e));
  bluez_->callNoReply(temp, "StopNotify");
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_UNSUBSCRIBED));
  bluez_->disconnectCentral("hci0", kCentral);
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_CENTRAL_DISCONNECTED, &e));
  EXPECT_EQ(e.central(), kCentral);
  // A value sent without send_update changes what reads return, and is not pushed.
  ASSERT_TRUE(setValue("2A6E", std::string("\x11\x0a", 2), false).ok());
  EXPECT_EQ(bluez_->values(temp).size(), 1u);
  wc.TryCancel();
}

TEST_F(AHostedPeripheral, RefusesToNotifyOneCentralNamingTheBlueZVersionNeeded) {
  registerEnv();
  grpc::ClientContext c;
  v1::NotifyRequest r;
  *r.mutable_characteristic() = ref("2A6E");
  r.set_central(kCentral);
  v1::NotifyResponse out;
  const grpc::Status s = stub_->Notify(deadline(&c), r, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(reasonOf(s), "BACKEND_LIMITATION");
  EXPECT_EQ(metadataOf(s, "bluez_version_needed"), "5.76");
}

// The seeds' on_read rate limit, as a remote read handler: one read per second, others refused
// with ATT 0x02 (Read Not Permitted).
TEST_F(AHostedPeripheral, AnswersReadsThroughAHandlerThatRateLimits) {
  registerEnv();
  grpc::ClientContext c;
  auto stream = stub_->HandleReads(&c);
  v1::HandleReadsRequest reg;
  *reg.mutable_register_()->add_characteristics() = ref("2A6E");
  ASSERT_TRUE(stream->Write(reg));
  v1::HandleReadsResponse m;
  ASSERT_TRUE(stream->Read(&m));
  ASSERT_TRUE(m.has_registered());
  EXPECT_EQ(m.registered().characteristics(0).characteristic_uuid(), "2A6E");
  std::thread handler([&] {
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(2);
    v1::HandleReadsResponse read;
    while (stream->Read(&read)) {
      v1::HandleReadsRequest answer;
      answer.mutable_answer()->set_request_id(read.read().request_id());
      const auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::seconds(1)) {
        answer.mutable_answer()->set_att_error(0x02);
      } else {
        last = now;
        answer.mutable_answer()->set_value(std::string("\x22\x0b", 2));
        answer.mutable_answer()->set_store(true);
      }
      if (!stream->Write(answer)) break;
    }
  });
  const std::string temp = bluez_->pathOf(kTemp);
  auto first = bluez_->readValue(temp, kCentral);
  EXPECT_EQ(first.error, "");
  EXPECT_EQ(str(first.value), std::string("\x22\x0b", 2));
  auto second = bluez_->readValue(temp, kCentral);
  EXPECT_EQ(second.error, "org.bluez.Error.NotPermitted");  // BlueZ sends ATT 0x02
  EXPECT_EQ(getValue("2A6E"), std::string("\x22\x0b", 2));  // stored
  stream->WritesDone();
  c.TryCancel();
  handler.join();
  stream->Finish();
}

TEST_F(AHostedPeripheral, ServesTheStoredValueWhenTheHandlerDoesNotAnswerInTime) {
  registerEnv();
  grpc::ClientContext c;
  auto stream = stub_->HandleReads(&c);
  v1::HandleReadsRequest reg;
  *reg.mutable_register_()->add_characteristics() = ref("2A6E");
  reg.mutable_register_()->mutable_answer_timeout()->set_nanos(50'000'000);
  ASSERT_TRUE(stream->Write(reg));
  v1::HandleReadsResponse m;
  ASSERT_TRUE(stream->Read(&m));
  const auto start = std::chrono::steady_clock::now();
  auto r = bluez_->readValue(bluez_->pathOf(kTemp), kCentral);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(str(r.value), std::string("\x9a\x09", 2));
  EXPECT_GE(took, std::chrono::milliseconds(50));
  ASSERT_TRUE(stream->Read(&m));  // the read was offered (and went unanswered)
  EXPECT_TRUE(m.has_read());
  EXPECT_EQ(m.read().central(), kCentral);
  EXPECT_EQ(m.read().mtu(), 517u);
  c.TryCancel();
  stream->Finish();
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
  *r.mutable_characteristic() = ref("2A6E");
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
  *writes.add_characteristics() = ref(kCmd);
  auto captured = stub_->StreamWrites(deadline(&sc, 20), writes);
  auto handler = stub_->HandleReads(deadline(&hc, 20));
  v1::HandleReadsRequest reg;
  *reg.mutable_register_()->add_characteristics() = ref(kBlob);
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
