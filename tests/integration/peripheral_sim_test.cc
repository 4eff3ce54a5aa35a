// The hosted peripheral against the simulated BlueZ: gRPC calls into the gateway, its BlueZ
// peripheral backend exporting the application and advertisements on a private bus, and the
// simulator's remote centrals (ble/sim/remote_central.h) reading, writing and subscribing over
// simulated ATT, with BlueZ's mapping of the application's errors to ATT codes on the way.
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ble/sim/remote_central.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/metrics.grpc.pb.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "server/gateway.h"
#include "tests/support/peripheral_rpc.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

using Bytes = sim::Bytes;
constexpr const char* kCmd = kEnvCommandUuid;
constexpr const char* kBlob = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";
constexpr const char* kLog = "6e400004-b5a3-f393-e0a9-e50e24dcca9e";
constexpr const char* kPhone = "4A:00:00:00:00:01";
constexpr const char* kTablet = "4A:00:00:00:00:02";

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }
Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The seeds' environmental-sensing peripheral and its command, an appending blob, and a
// write-without-response log.
v1::RegisterServicesRequest envDatabase() {
  v1::RegisterServicesRequest r = envSensorDatabase();
  auto* blob = r.mutable_services(0)->add_characteristics();
  blob->set_uuid(kBlob);
  blob->set_read(true);
  blob->set_write(true);
  blob->set_max_len(300);
  blob->set_append(true);
  auto* log = r.mutable_services(0)->add_characteristics();
  log->set_uuid(kLog);
  log->set_read(true);
  log->set_write_without_response(true);
  log->set_max_len(100);
  return r;
}

class ASimulatedHostedPeripheral : public SimFixture, protected PeripheralRpc {
 protected:
  void SetUp() override { start(1); }
  void start(int adapters) {
    sim::SimOptions o = fastOptions();
    o.fleet = {};
    o.adapters = adapters;
    startSim(o);
    server::GatewayOptions g;
    g.grpcAddress = "127.0.0.1:0";
    g.dbusAddress = bus_.address();
    gateway_ = std::make_unique<server::Gateway>(g);
    ASSERT_TRUE(gateway_->start().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", gateway_->grpcPort()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::PeripheralService::NewStub(channel_);
  }
  void TearDown() override {
    if (gateway_) gateway_->shutdown(absl::Seconds(1));
    gateway_.reset();
    stopSim();
  }

  // RegisterServices (retried while the gateway has not found BlueZ yet) and a connectable
  // advertisement, so remote centrals can connect.
  void host(v1::RegisterServicesRequest db = envDatabase(), v1::StartAdvertisingRequest a = {}) {
    grpc::Status s = registerServices(db);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (a.id().empty()) a.set_id("env");
    a.set_adapter(db.adapter());
    s = startAdvertising(a);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::string connect(const char* address) {
    auto id = onLoop([&] { return sim_->connectCentral("hci0", *Address::parse(address)); });
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }
  std::pair<std::uint8_t, Bytes> read(const std::string& id, const std::string& attribute,
                                      std::uint16_t offset = 0) {
    auto done = std::make_shared<std::promise<std::pair<std::uint8_t, Bytes>>>();
    onLoop([&] {
      sim_->central(id)->read(attribute, offset, [done](std::uint8_t att, Bytes v) {
        done->set_value({att, std::move(v)});
      });
    });
    auto f = done->get_future();
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return {0xFF, {}};
    return f.get();
  }
  std::uint8_t write(const std::string& id, const std::string& attribute, const Bytes& value,
                     bool withResponse = true) {
    auto done = std::make_shared<std::promise<std::uint8_t>>();
    onLoop([&] {
      sim_->central(id)->write(attribute, value, withResponse,
                               [done](std::uint8_t att) { done->set_value(att); });
    });
    auto f = done->get_future();
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return 0xFF;
    return f.get();
  }
  sim::RemoteCentral::Received received(const std::string& id, const std::string& attribute) {
    return onLoop([&] { return sim_->central(id)->received(attribute); });
  }

  // A read handler stream registered for `characteristic`.
  std::unique_ptr<grpc::ClientReaderWriter<v1::HandleReadsRequest, v1::HandleReadsResponse>>
  handleReads(grpc::ClientContext& c, const std::string& characteristic, int timeoutMs = 0) {
    auto stream = stub_->HandleReads(&c);
    v1::HandleReadsRequest reg;
    *reg.mutable_register_()->add_characteristics() = hostedRef(characteristic);
    if (timeoutMs > 0) reg.mutable_register_()->mutable_answer_timeout()->set_nanos(timeoutMs * 1'000'000);
    EXPECT_TRUE(stream->Write(reg));
    v1::HandleReadsResponse m;
    EXPECT_TRUE(stream->Read(&m) && m.has_registered());
    return stream;
  }

  std::unique_ptr<server::Gateway> gateway_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ASimulatedHostedPeripheral, ServesReadsAndLongReadsWithAnOffset) {
  host();
  const std::string phone = connect(kPhone);
  auto [att, value] = read(phone, "2A6E");
  EXPECT_EQ(att, 0);
  EXPECT_EQ(str(value), std::string("\x9a\x09", 2));
  // 300 bytes with the central's MTU of 247: Read, then Read Blob from 246.
  std::string big;
  for (int i = 0; i < 300; ++i) big.push_back(static_cast<char>(i));
  ASSERT_TRUE(setValue(kBlob, big, false).ok());
  auto whole = read(phone, kBlob);
  EXPECT_EQ(whole.first, 0);
  EXPECT_EQ(str(whole.second), big);
  auto tail = read(phone, kBlob, 290);
  EXPECT_EQ(tail.first, 0);
  EXPECT_EQ(str(tail.second), big.substr(290));
  EXPECT_EQ(read(phone, kBlob, 301).first, 0x07);  // Invalid Offset
}

TEST_F(ASimulatedHostedPeripheral, TakesWritesWithAndWithoutResponse) {
  host();
  const std::string phone = connect(kPhone);
  EXPECT_EQ(write(phone, kCmd, bytes("go")), 0);
  EXPECT_EQ(write(phone, kLog, bytes("first"), /*withResponse=*/false), 0);
  EXPECT_EQ(write(phone, kLog, bytes("second"), false), 0);
  // A Write Command is never answered: wait for the value to land.
  for (int i = 0; i < 100 && getValue(kLog) != "second"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(getValue(kLog), "second");  // no capture: only the latest value is kept
  EXPECT_EQ(str(read(phone, kLog).second), "second");
  // Too long for max_len (100): BlueZ already answered the Write Command, so the value is
  // discarded whole, not truncated.
  EXPECT_EQ(write(phone, kLog, Bytes(101, 'z'), false), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(getValue(kLog), "second");
  // Writing a read-only characteristic: bluetoothd refuses with Write Not Permitted.
  EXPECT_EQ(write(phone, "2A6E", bytes("x")), 0x03);
}

TEST_F(ASimulatedHostedPeripheral, AppendsUpToMaxLenAndAnswersInvalidAttributeValueLengthPastIt) {
  host();
  const std::string phone = connect(kPhone);
  // 3 × 100 bytes fill max_len (300) exactly; the 250-byte one goes as a prepared (long) write.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(write(phone, kBlob, Bytes(100, static_cast<std::uint8_t>('a' + i))), 0) << i;
  }
  ASSERT_EQ(write(phone, kBlob, Bytes(100, 'c')), 0);
  EXPECT_EQ(write(phone, kBlob, Bytes{'!'}), 0x0D);  // Invalid Attribute Value Length
  EXPECT_EQ(getValue(kBlob, /*clear=*/true),
            std::string(100, 'a') + std::string(100, 'b') + std::string(100, 'c'));
  EXPECT_EQ(write(phone, kBlob, Bytes(250, 'L')), 0);  // prepared writes at offsets 0, 512-5...
  EXPECT_EQ(getValue(kBlob), std::string(250, 'L'));
  EXPECT_EQ(write(phone, kBlob, Bytes(51, 'M')), 0x0D);
  EXPECT_EQ(getValue(kBlob), std::string(250, 'L'));  // never a silent truncation
}

TEST_F(ASimulatedHostedPeripheral, NotifiesAndIndicatesEverySubscribedCentralAndCountsConfirmations) {
  host();
  grpc::ClientContext wc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  watch->WaitForInitialMetadata();
  const std::string phone = connect(kPhone);
  const std::string tablet = connect(kTablet);
  const std::string watchOnly = connect("4A:00:00:00:00:03");  // connected, never subscribes
  v1::WatchPeripheralResponse e;
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_CENTRAL_CONNECTED, &e));
  EXPECT_EQ(e.central(), kPhone);
  EXPECT_EQ(onLoop([&] { return sim_->central(phone)->subscribe("2A6E", /*indicate=*/false); }), 0);
  EXPECT_EQ(onLoop([&] { return sim_->central(tablet)->subscribe("2A6E", /*indicate=*/true); }), 0);
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_SUBSCRIBED));
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_SUBSCRIBED));
  for (std::uint8_t i = 1; i <= 3; ++i) {
    v1::SetValueResponse out;
    ASSERT_TRUE(setValue("2A6E", std::string(2, static_cast<char>(i)), true, &out).ok());
    EXPECT_GE(out.centrals_updated(), 1u);
  }
  auto c = client();
  ASSERT_TRUE(c->waitFor([&] {
    return received(phone, "2A6E").count == 3 && received(tablet, "2A6E").count == 3;
  }));
  EXPECT_EQ(received(phone, "2A6E").last, (Bytes{3, 3}));
  EXPECT_EQ(received(tablet, "2A6E").last, (Bytes{3, 3}));
  EXPECT_EQ(received(tablet, "2A6E").confirmed, 3u);
  EXPECT_EQ(received(phone, "2A6E").confirmed, 0u);
  EXPECT_EQ(received(watchOnly, "2A6E").count, 0u);
  // The tablet's three confirmations reach the gateway as three events; the phone's
  // notifications are never confirmed.
  int confirmed = 0;
  while (confirmed < 3 && waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_INDICATION_CONFIRMED, &e)) {
    EXPECT_EQ(e.characteristic().characteristic_uuid(), "2A6E");
    ++confirmed;
  }
  EXPECT_EQ(confirmed, 3);
  // Without send_update the value changes for reads and is not pushed.
  ASSERT_TRUE(setValue("2A6E", "\x11\x11", false).ok());
  EXPECT_EQ(str(read(phone, "2A6E").second), "\x11\x11");
  EXPECT_EQ(received(phone, "2A6E").count, 3u);
  onLoop([&] { sim_->central(phone)->unsubscribe("2A6E"); sim_->central(tablet)->unsubscribe("2A6E"); });
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_UNSUBSCRIBED));
  ASSERT_TRUE(onLoop([&] { return sim_->disconnectCentral(phone); }).ok());
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_CENTRAL_DISCONNECTED, &e));
  EXPECT_EQ(e.central(), kPhone);
  wc.TryCancel();
}

// The seeds' on_read rate limit as a remote read handler: one read per second, the others refused
// with ATT 0x02 (Read Not Permitted), which BlueZ sends for the handler's NotPermitted.
TEST_F(ASimulatedHostedPeripheral, PassesAReadHandlersAttErrorsToTheCentral) {
  host();
  grpc::ClientContext c;
  auto stream = handleReads(c, "2A6E");
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
  const std::string phone = connect(kPhone);
  auto first = read(phone, "2A6E");
  EXPECT_EQ(first.first, 0);
  EXPECT_EQ(str(first.second), std::string("\x22\x0b", 2));
  EXPECT_EQ(read(phone, "2A6E").first, 0x02);  // within the second: refused
  EXPECT_EQ(getValue("2A6E"), std::string("\x22\x0b", 2));  // the answer was stored
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  EXPECT_EQ(read(phone, "2A6E").first, 0);  // a second later: allowed again
  c.TryCancel();
  handler.join();
  stream->Finish();
}

TEST_F(ASimulatedHostedPeripheral, ServesTheStoredValueWhenTheHandlerDoesNotAnswerInTime) {
  host();
  grpc::ClientContext c;
  auto stream = handleReads(c, "2A6E", /*timeoutMs=*/50);
  const std::string phone = connect(kPhone);
  const auto start = std::chrono::steady_clock::now();
  auto r = read(phone, "2A6E");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_EQ(r.first, 0);
  EXPECT_EQ(str(r.second), std::string("\x9a\x09", 2));
  v1::HandleReadsResponse m;
  ASSERT_TRUE(stream->Read(&m));  // the read was offered, and went unanswered
  ASSERT_TRUE(m.has_read());
  EXPECT_EQ(m.read().central(), kPhone);
  EXPECT_EQ(m.read().mtu(), 247u);  // the simulated central offers 247
  EXPECT_EQ(gateway_->metrics().readsTimedOut.value(), 1u);
  c.TryCancel();
  stream->Finish();
}

TEST_F(ASimulatedHostedPeripheral, CountsCapturedWritesLostToAnOverrunAndExportsTheMetric) {
  host();
  const std::string phone = connect(kPhone);
  // 20 writes while no stream reads them: the queue holds 16, the oldest 4 are dropped.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(write(phone, kCmd, bytes(absl::StrCat("cmd", i))), 0);
  grpc::ClientContext c;
  v1::StreamWritesRequest req;
  *req.add_characteristics() = hostedRef(kCmd);
  auto reader = stub_->StreamWrites(deadline(&c), req);
  std::vector<v1::CapturedWrite> got;
  std::uint64_t gap = 0;
  v1::StreamWritesResponse m;
  while (got.size() < 17 && reader->Read(&m)) {
    gap += m.gap().dropped();
    for (const auto& w : m.writes()) got.push_back(w);
    if (got.size() == 16) {
      EXPECT_EQ(write(phone, kCmd, bytes("live")), 0);  // while streaming
    }
  }
  ASSERT_EQ(got.size(), 17u);
  EXPECT_EQ(gap, 4u);
  EXPECT_EQ(got.front().value(), "cmd4");
  EXPECT_EQ(got.front().sequence(), 5u);
  EXPECT_EQ(got[15].value(), "cmd19");
  EXPECT_EQ(got.back().value(), "live");
  EXPECT_EQ(got.back().characteristic().characteristic_uuid(), kCmd);
  EXPECT_EQ(got.back().central(), kPhone);
  EXPECT_EQ(got.back().mode(), v1::WRITE_MODE_WITH_RESPONSE);
  c.TryCancel();
  auto metrics = v1::MetricsService::NewStub(channel_);
  grpc::ClientContext mc;
  v1::GetMetricsResponse out;
  ASSERT_TRUE(metrics->GetMetrics(deadline(&mc), v1::GetMetricsRequest(), &out).ok());
  EXPECT_EQ(out.peripheral().writes_dropped(), 4u);
  EXPECT_EQ(out.peripheral().writes_captured(), 21u);
}

// Loopback: the simulator with two adapters, the gateway's hosted peripheral on hci1 and its own
// central on hci0 (Scan, Connect, Read, Subscribe), through the simulator's air (hosted_air.h).
class ALoopback : public ASimulatedHostedPeripheral {
 protected:
  void SetUp() override {
    start(2);
    peripheralAddress_ = onLoop([&] { return sim_->adapter("hci1")->address().toString(); });
  }

  v1::RegisterServicesRequest onHci1() {
    v1::RegisterServicesRequest db = envDatabase();
    db.set_adapter("hci1");
    return db;
  }

  // Scans on hci0 for the peripheral's address until a result with `name` arrives.
  std::optional<v1::ScanResult> scanFor(const std::string& name) {
    auto scan = v1::ScanService::NewStub(channel_);
    grpc::ClientContext c;
    deadline(&c, 10);
    v1::ScanRequest r;
    r.set_adapter("hci0");
    r.mutable_filter()->add_addresses(peripheralAddress_);
    auto reader = scan->Scan(&c, r);
    v1::ScanResponse m;
    while (reader->Read(&m)) {
      for (const auto& result : m.results()) {
        if (result.name() == name) {
          c.TryCancel();
          return result;
        }
      }
    }
    return std::nullopt;
  }

  // Connects hci0 to the peripheral on hci1 (the session's state is in `out`).
  grpc::Status connectToHci1(bool persistent, v1::ConnectResponse* out) {
    auto sessions = v1::SessionService::NewStub(channel_);
    grpc::ClientContext c;
    v1::ConnectRequest connect;
    connect.set_address(peripheralAddress_);
    connect.set_adapter("hci0");
    connect.set_persistent(persistent);
    return sessions->Connect(deadline(&c), connect, out);
  }

  std::string peripheralAddress_;
};

TEST_F(ALoopback, ShowsEveryAdvertisedFieldToAScanOnTheOtherAdapter) {
  v1::StartAdvertisingRequest a;
  a.set_local_name("gw");
  a.add_service_uuids("181A");
  a.set_appearance(0x0540);
  auto* m = a.add_manufacturer_data();
  m->set_company_id(0xFFFF);
  m->set_data(std::string("\x01\x02", 2));
  auto* sd = a.add_service_data();
  sd->set_uuid("181A");
  sd->set_data(std::string("\x9a\x09", 2));
  a.set_tx_power(-4);
  a.set_include_tx_power(true);
  host(onHci1(), a);
  auto result = scanFor("gw");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->adapter(), "hci0");
  EXPECT_EQ(result->address(), peripheralAddress_);
  ASSERT_EQ(result->service_uuids_size(), 1);
  EXPECT_EQ(result->service_uuids(0), "181A");
  EXPECT_EQ(result->appearance(), 0x0540u);
  ASSERT_EQ(result->manufacturer_data_size(), 1);
  EXPECT_EQ(result->manufacturer_data(0).company_id(), 0xFFFFu);
  EXPECT_EQ(result->manufacturer_data(0).data(), std::string("\x01\x02", 2));
  ASSERT_EQ(result->service_data_size(), 1);
  EXPECT_EQ(result->service_data(0).data(), std::string("\x9a\x09", 2));
  ASSERT_TRUE(result->has_tx_power());
  EXPECT_EQ(result->tx_power(), -4);
  ASSERT_TRUE(result->has_flags());
  EXPECT_EQ(result->flags(), 0x06u);  // LE General Discoverable, BR/EDR Not Supported
  EXPECT_TRUE(result->connectable());
}

TEST_F(ALoopback, ShowsABroadcastOnlyAdvertisementAsNotConnectable) {
  v1::StartAdvertisingRequest a;
  a.set_type(v1::ADVERTISING_TYPE_BROADCAST);
  a.set_local_name("beacon");
  host(onHci1(), a);
  auto result = scanFor("beacon");
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->connectable());
}

TEST_F(ALoopback, ConnectsReadsAndSubscribesToItsOwnHostedPeripheral) {
  v1::StartAdvertisingRequest a;
  a.set_local_name("env");
  host(onHci1(), a);
  grpc::ClientContext wc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  watch->WaitForInitialMetadata();
  ASSERT_TRUE(scanFor("env").has_value());
  auto sessions = v1::SessionService::NewStub(channel_);
  v1::ConnectResponse session;
  const grpc::Status cs = connectToHci1(false, &session);
  ASSERT_TRUE(cs.ok()) << cs.error_message();
  EXPECT_EQ(session.session().state(), v1::SESSION_STATE_CONNECTED);
  // hci1's peripheral sees hci0 connect.
  const std::string hci0 = onLoop([&] { return sim_->adapter("hci0")->address().toString(); });
  v1::WatchPeripheralResponse e;
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_CENTRAL_CONNECTED, &e));
  EXPECT_EQ(e.central(), hci0);

  auto gatt = v1::GattService::NewStub(channel_);
  grpc::ClientContext rc;
  v1::ReadRequest read;
  read.set_address(peripheralAddress_);
  read.mutable_attribute()->set_characteristic_uuid("2A6E");
  v1::ReadResponse value;
  const grpc::Status rs = gatt->Read(deadline(&rc), read, &value);
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  EXPECT_EQ(value.value(), std::string("\x9a\x09", 2));

  grpc::ClientContext sc;
  v1::SubscribeRequest sub;
  sub.set_address(peripheralAddress_);
  sub.mutable_characteristic()->set_characteristic_uuid("2A6E");
  auto stream = gatt->Subscribe(deadline(&sc, 20), sub);
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_SUBSCRIBED));
  std::vector<std::string> got;
  for (int i = 1; i <= 3; ++i) {
    v1::SetValueResponse out;
    ASSERT_TRUE(setValue("2A6E", std::string(2, static_cast<char>(i)), true, &out).ok());
    EXPECT_EQ(out.centrals_updated(), 1u);
  }
  v1::SubscribeResponse m;
  while (got.size() < 3 && stream->Read(&m)) {
    for (const auto& n : m.notifications()) got.push_back(n.value());
  }
  EXPECT_EQ(got, (std::vector<std::string>{std::string(2, '\x01'), std::string(2, '\x02'),
                                           std::string(2, '\x03')}));
  sc.TryCancel();
  grpc::ClientContext dc;
  v1::DisconnectRequest disconnect;
  disconnect.set_address(peripheralAddress_);
  v1::DisconnectResponse gone;
  ASSERT_TRUE(sessions->Disconnect(deadline(&dc), disconnect, &gone).ok());
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_CENTRAL_DISCONNECTED, &e));
  EXPECT_EQ(e.central(), hci0);
  wc.TryCancel();
}

TEST_F(ALoopback, PutsTheAdvertisementBackOnTheAirAfterABluetoothdRestart) {
  v1::StartAdvertisingRequest a;
  a.set_local_name("env");
  host(onHci1(), a);
  ASSERT_TRUE(scanFor("env").has_value());
  grpc::ClientContext wc;
  auto watch = stub_->WatchPeripheral(deadline(&wc, 20), v1::WatchPeripheralRequest());
  watch->WaitForInitialMetadata();
  onLoop([&] { sim_->restartBluetoothd(absl::Milliseconds(100)); });
  // The hosted device leaves the air with bluetoothd, and comes back when the gateway has
  // registered its database and advertisement again.
  ASSERT_TRUE(waitFor(*watch, v1::PERIPHERAL_EVENT_TYPE_ADVERTISING_STARTED));
  std::optional<v1::ScanResult> again;
  for (int i = 0; i < 20 && !again; ++i) {  // until the central is back too
    again = scanFor("env");
    if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->address(), peripheralAddress_);
  wc.TryCancel();
}

TEST_F(ALoopback, ResumesAPersistentSubscriptionAfterThePeripheralsAdapterIsPoweredOffAndOn) {
  // Issue 7 step 3 on the simulator: the kernel drops hci1's advertisement at power-off and
  // bluetoothd 5.66 does not send it again at power-on (ble/sim/advertising.h): the gateway's
  // peripheral registers it again, so the central's persistent session can come back.
  v1::StartAdvertisingRequest a;
  a.set_local_name("env");
  host(onHci1(), a);
  ASSERT_TRUE(scanFor("env").has_value());
  v1::ConnectResponse session;
  const grpc::Status cs = connectToHci1(true, &session);
  ASSERT_TRUE(cs.ok()) << cs.error_message();
  ASSERT_TRUE(session.session().persistent());
  auto gatt = v1::GattService::NewStub(channel_);
  grpc::ClientContext sc;
  v1::SubscribeRequest sub;
  sub.set_address(peripheralAddress_);
  sub.mutable_characteristic()->set_characteristic_uuid("2A6E");
  auto stream = gatt->Subscribe(deadline(&sc, 20), sub);
  v1::SubscribeResponse m;
  ASSERT_TRUE(stream->Read(&m));
  ASSERT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);

  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci1", false).ok(); }));
  ASSERT_TRUE(stream->Read(&m));
  ASSERT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_INTERRUPTED);
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci1", true).ok(); }));
  ASSERT_TRUE(stream->Read(&m)) << "no RESUMED: hci1 is not advertising after its power-on";
  ASSERT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_RESUMED);
  v1::SetValueResponse out;
  ASSERT_TRUE(setValue("2A6E", std::string("\x77\x07", 2), true, &out).ok());
  EXPECT_EQ(out.centrals_updated(), 1u);
  ASSERT_TRUE(stream->Read(&m));
  ASSERT_EQ(m.notifications_size(), 1);
  EXPECT_EQ(m.notifications(0).value(), std::string("\x77\x07", 2));
  sc.TryCancel();
}

}  // namespace
}  // namespace gattway::testing
