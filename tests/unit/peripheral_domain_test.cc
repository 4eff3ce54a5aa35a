// The peripheral domain against the fake backend and a manual clock.
#include "ble/peripheral/peripheral.h"

#include "gtest/gtest.h"
#include "tests/support/fake_executor.h"
#include "tests/support/fake_peripheral_backend.h"

namespace gattway::peripheral {
namespace {

using Bytes = std::vector<std::uint8_t>;
Uuid u(const char* text) { return *Uuid::parse(text); }

class APeripheral : public ::testing::Test {
 protected:
  void SetUp() override {
    peripheral_.start();
    loop_.runUntilIdle();
    DatabaseDefinition d;
    LocalService s;
    s.uuid = u("181A");
    LocalCharacteristic temp;
    temp.uuid = u("2A6E");
    temp.read = temp.notify = true;
    temp.initialValue = {0x9a, 0x09};
    s.characteristics = {temp};
    d.services = {s};
    bool ok = false;
    peripheral_.registerServices(d, [&](auto r) { ok = r.ok(); });
    loop_.runUntilIdle();
    ASSERT_TRUE(ok);
    temp_ = backend_.app->services[0].characteristics[0].id;
  }

  // Starts advertisement `id` and lets BlueZ answer.
  void advertise(const std::string& id) {
    bool started = false;
    AdvertisingRequest a;
    a.spec.id = id;
    peripheral_.startAdvertising(a, [&](auto r) { started = r.ok(); });
    loop_.runUntilIdle();
    ASSERT_TRUE(started);
  }

  testing::FakeExecutor loop_;
  testing::FakePeripheralBackend backend_{loop_};
  Metrics metrics_;
  Peripheral peripheral_{loop_, backend_, metrics_};
  AttributeId temp_ = 0;
};

TEST_F(APeripheral, ServesTheStoredValueWhenTheReadHandlerIsLate) {
  std::vector<ReadRequestEvent> offered;
  auto handler = peripheral_.registerReadHandler({{u("181A"), u("2A6E"), std::nullopt, 0}},
                                                 absl::Milliseconds(500),
                                                 [&](const ReadRequestEvent& e) { offered.push_back(e); });
  ASSERT_TRUE(handler.ok());
  std::pair<int, Bytes> got{-1, {}};
  AttRequest r;
  r.attribute = temp_;
  r.adapter = "hci0";
  peripheral_.onRead(r, AttResponder([&](std::uint8_t code, Bytes v) { got = {code, v}; }));
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_EQ(offered[0].deadline, loop_.now() + absl::Milliseconds(500));
  loop_.advance(absl::Milliseconds(499));
  EXPECT_EQ(got.first, -1);  // still waiting for the handler
  loop_.advance(absl::Milliseconds(1));
  EXPECT_EQ(got.first, 0);
  EXPECT_EQ(got.second, (Bytes{0x9a, 0x09}));
  EXPECT_EQ(metrics_.readsTimedOut.value(), 1u);
  // The late answer is ignored.
  peripheral_.answerRead(handler->id, ReadAnswer{offered[0].requestId, Bytes{1}, 0, false});
  EXPECT_EQ(metrics_.readsHandled.value(), 0u);
}

TEST_F(APeripheral, ServesPendingReadsWhenTheirHandlerGoes) {
  auto handler = peripheral_.registerReadHandler({{std::nullopt, u("2A6E"), std::nullopt, 0}},
                                                 absl::Seconds(5), [](const ReadRequestEvent&) {});
  ASSERT_TRUE(handler.ok());
  std::pair<int, Bytes> got{-1, {}};
  AttRequest r;
  r.attribute = temp_;
  r.adapter = "hci0";
  r.offset = 1;
  peripheral_.onRead(r, AttResponder([&](std::uint8_t code, Bytes v) { got = {code, v}; }));
  peripheral_.unregisterReadHandler(handler->id);
  EXPECT_EQ(got.first, 0);
  EXPECT_EQ(got.second, Bytes{0x09});
}

TEST_F(APeripheral, RegistersTheDatabaseAndAdvertisementsAgainAfterBlueZRestarts) {
  bool started = false;
  AdvertisingRequest a;
  a.spec.id = "env";
  a.spec.timeout = absl::Seconds(60);
  peripheral_.startAdvertising(a, [&](auto r) { started = r.ok(); });
  loop_.runUntilIdle();
  ASSERT_TRUE(started);
  loop_.advance(absl::Seconds(20));
  backend_.restart();
  loop_.runUntilIdle();
  EXPECT_EQ(backend_.applicationRegistrations, 2);
  ASSERT_TRUE(backend_.adverts.contains("env"));
  // BlueZ's own Timeout gets what is left of the minute.
  EXPECT_EQ(*backend_.adverts["env"].timeout, absl::Seconds(40));
  std::vector<PeripheralEvent> events;
  peripheral_.watch([&](const PeripheralEvent& e) { events.push_back(e); });
  loop_.advance(absl::Seconds(40));
  EXPECT_FALSE(backend_.adverts.contains("env"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, PeripheralEventType::kAdvertisingStopped);
  EXPECT_EQ(events[0].detail, "timeout");
}

TEST_F(APeripheral, RegistersAnAdvertisementAgainWhenItsAdapterIsPoweredOffAndOn) {
  advertise("env");
  std::vector<PeripheralEvent> events;
  peripheral_.watch([&](const PeripheralEvent& e) { events.push_back(e); });
  // Any other property change of a powered adapter leaves it alone.
  backend_.setPowered("hci0", true);
  loop_.runUntilIdle();
  EXPECT_EQ(backend_.advertRegistrations, 1);
  // The kernel dropped it at power-off, bluetoothd 5.66 kept its registration: at power-on the
  // stale one goes and it is registered again, once.
  backend_.setPowered("hci0", false);
  loop_.runUntilIdle();
  EXPECT_TRUE(backend_.advertsUnregistered.empty());
  backend_.setPowered("hci0", true);
  backend_.setPowered("hci0", true);
  loop_.runUntilIdle();
  EXPECT_EQ(backend_.advertsUnregistered, std::vector<std::string>{"env"});
  EXPECT_EQ(backend_.advertRegistrations, 2);
  EXPECT_TRUE(backend_.adverts.contains("env"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, PeripheralEventType::kAdvertisingStarted);
  EXPECT_EQ(events[0].detail, "registered again after hci0 was powered on");
}

TEST_F(APeripheral, RegistersAnAdvertisementAgainWhenThePowerCycleCameBeforeBlueZAnswered) {
  bool started = false;
  AdvertisingRequest a;
  a.spec.id = "env";
  peripheral_.startAdvertising(a, [&](auto r) { started = r.ok(); });
  backend_.setPowered("hci0", false);
  backend_.setPowered("hci0", true);
  loop_.runUntilIdle();
  ASSERT_TRUE(started);
  EXPECT_EQ(backend_.advertsUnregistered, std::vector<std::string>{"env"});
  EXPECT_EQ(backend_.advertRegistrations, 2);
}

TEST_F(APeripheral, CountsSubscribersNoHigherThanTheCentralsConnected) {
  peripheral_.onCentralConnected("hci0", *Address::parse("11:22:33:44:55:66"));
  peripheral_.onNotifyStarted(temp_);
  peripheral_.onNotifyStarted(temp_);  // BlueZ 5.66 cannot say who: maybe the same central again
  auto reached = peripheral_.setValue({std::nullopt, u("2A6E"), std::nullopt, 0}, Bytes{1, 2}, true);
  ASSERT_TRUE(reached.ok());
  EXPECT_EQ(*reached, 1u);
  ASSERT_EQ(backend_.sent.size(), 1u);
  EXPECT_EQ(backend_.sent[0].second, (Bytes{1, 2}));
  peripheral_.onNotifyStopped(temp_);
  EXPECT_EQ(*peripheral_.setValue({std::nullopt, u("2A6E"), std::nullopt, 0}, Bytes{3}, true), 0u);
}

TEST_F(APeripheral, FailsAStartThatIsStoppedBeforeBlueZAnswers) {
  std::optional<absl::Status> start;
  AdvertisingRequest a;
  a.spec.id = "quick";
  peripheral_.startAdvertising(a, [&](auto r) { start = r.status(); });
  std::vector<std::string> stopped;
  peripheral_.stopAdvertising("quick", [&](auto r) { stopped = *r; });
  loop_.runUntilIdle();
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->code(), absl::StatusCode::kAborted);
  EXPECT_EQ(stopped, std::vector<std::string>{"quick"});
}

TEST_F(APeripheral, KeepsNothingWhenARegistrationFails) {
  backend_.nextRegisterResult = absl::UnavailableError("bluetoothd said no");
  DatabaseDefinition d;
  LocalService s;
  s.uuid = u("180F");
  LocalCharacteristic c;
  c.uuid = u("2A19");
  c.read = true;
  s.characteristics = {c};
  d.services = {s};
  absl::Status result;
  peripheral_.registerServices(d, [&](auto r) { result = r.status(); });
  loop_.runUntilIdle();
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(peripheral_.getValue({std::nullopt, u("2A6E"), std::nullopt, 0}, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gattway::peripheral
