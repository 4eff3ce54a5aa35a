// GATT over BlueZ: reads and writes by handle (offsets, ATT errors as BlueZ encodes them, one at
// a time per attribute), notifications by StartNotify and AcquireNotify, cancellation, and the
// bound on calls in flight.
#include "ble/bluez/message_parsing.h"
#include "ble/bluez/paths.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/backend_harness.h"
#include "tests/support/bluez_objects.h"

namespace gattway {
namespace {

using bluez::Bytes;
using bluez::findProperty;
using testing::BackendHarness;
using testing::bluezUuid;
using testing::characteristicObject;
using testing::deviceObject;
using testing::eventually;
using testing::FakeBluez;
using testing::heartRateDatabase;

const Address kSensor = *Address::parse("C0:FF:EE:00:00:01");
constexpr const char* kChar = "org.bluez.GattCharacteristic1";
using ReadResult = absl::StatusOr<std::vector<std::uint8_t>>;

class GattOverBluez : public BackendHarness {
 protected:
  void SetUp() override {
    fake.addObject(deviceObject(kAdapter, kSensor, {{"Connected", true},
                                                    {"ServicesResolved", true}}),
                   false);
    for (const auto& o : heartRateDatabase(kAdapter, kSensor)) fake.addObject(o, false);
    hrm = bluez::characteristicPath(kAdapter, kSensor, 0x000a, 0x000b);
    location = bluez::characteristicPath(kAdapter, kSensor, 0x000a, 0x000e);
    control = bluez::characteristicPath(kAdapter, kSensor, 0x000a, 0x0010);
  }
  void start(std::size_t maxCallsInFlight = 64) {
    startBluez();
    startBackend(true, maxCallsInFlight);
  }
  ReadResult read(std::uint16_t handle, std::uint16_t offset = 0,
                  absl::Duration timeout = absl::Seconds(3)) {
    return await<ReadResult>([&](Callback<ReadResult> done) {
      return backend->read(kAdapter, kSensor, handle, offset, timeout, std::move(done));
    });
  }
  absl::Status write(std::uint16_t handle, Bytes value, WriteType type = WriteType::kRequest,
                     std::uint16_t offset = 0) {
    return awaitStatus([&](StatusCallback done) {
      return backend->write(kAdapter, kSensor, handle, value, type, offset, absl::Seconds(3),
                            std::move(done));
    });
  }
  absl::Status subscribe(NotifyMethod method = NotifyMethod::kStartNotify) {
    return awaitStatus([&](StatusCallback done) {
      return backend->startNotify(kAdapter, kSensor, 0x000b, method, absl::Seconds(3),
                                  std::move(done));
    });
  }
  absl::Status unsubscribe() {
    return awaitStatus([&](StatusCallback done) {
      return backend->stopNotify(kAdapter, kSensor, 0x000b, std::move(done));
    });
  }
  std::vector<Bytes> notifications() {
    std::vector<Bytes> out;
    for (const auto& e : listener.events()) {
      if (e.kind == "notification") {
        EXPECT_EQ(e.address, kSensor);
        EXPECT_EQ(e.handle, 0x000b);
        out.push_back(e.value);
      }
    }
    return out;
  }
  std::string hrm, location, control;
};

TEST_F(GattOverBluez, ReadsFromAnOffset) {
  fake.setProperties(location, kChar, {{"Value", Bytes{1, 2, 3, 4, 5, 6}}}, false);
  start();
  auto whole = read(0x000e);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(fake.lastOptions("ReadValue").empty());
  auto tail = read(0x000e, 4);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, (std::vector<std::uint8_t>{5, 6}));
  EXPECT_EQ(*findProperty<std::uint16_t>(fake.lastOptions("ReadValue"), "offset"), 4);
}

TEST_F(GattOverBluez, ReadsAndWritesDescriptorsByTheirHandle) {
  fake.setProperties(bluez::descriptorPath(kAdapter, kSensor, 0x000a, 0x000b, 0x000d),
                     "org.bluez.GattDescriptor1", {{"Value", Bytes{1, 0}}}, false);
  start();
  auto value = read(0x000d);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, (std::vector<std::uint8_t>{1, 0}));
  EXPECT_EQ(fake.calls().back(),
            "ReadValue " + bluez::descriptorPath(kAdapter, kSensor, 0x000a, 0x000b, 0x000d));
}

TEST_F(GattOverBluez, WritesWithTheRequestedType) {
  start();
  ASSERT_TRUE(write(0x0010, {0x01, 0x02}).ok());
  EXPECT_EQ(fake.lastWrite(control), (Bytes{0x01, 0x02}));
  EXPECT_EQ(*findProperty<std::string>(fake.lastOptions("WriteValue"), "type"), "request");
  ASSERT_TRUE(write(0x0010, {0x03}, WriteType::kCommand, 2).ok());
  const auto options = fake.lastOptions("WriteValue");
  EXPECT_EQ(*findProperty<std::string>(options, "type"), "command");
  EXPECT_EQ(*findProperty<std::uint16_t>(options, "offset"), 2);
}

TEST_F(GattOverBluez, ReportsAttErrorsWithTheirCodeAndBlueZsName) {
  fake.script("WriteValue", [](const FakeBluez::CallPtr& call, const auto&) {
    call->replyError("org.bluez.Error.Failed", "Operation failed with ATT error: 0x80");
  });
  fake.script("ReadValue", [](const FakeBluez::CallPtr& call, const auto&) {
    call->replyError("org.bluez.Error.NotPermitted", "Read not permitted");
  });
  start();
  const auto w = write(0x0010, {1});
  EXPECT_EQ(w.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(err::reasonOf(w), err::Reason::kAttError);
  EXPECT_EQ(err::metadata(w, err::kMetaAttError), "0x80");
  EXPECT_EQ(err::metadata(w, err::kMetaBluezError), "org.bluez.Error.Failed");
  const auto r = read(0x000e);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::metadata(r.status(), err::kMetaAttError), "0x02");
  EXPECT_EQ(err::metadata(r.status(), err::kMetaBluezError), "org.bluez.Error.NotPermitted");
}

TEST_F(GattOverBluez, ReportsUnknownDevicesAndHandles) {
  start();
  auto r = read(0x0099);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(err::reasonOf(r.status()), err::Reason::kAttributeNotFound);
  const auto s = awaitStatus([&](StatusCallback done) {
    return backend->write(kAdapter, *Address::parse("C0:FF:EE:00:00:42"), 0x000b, {1},
                          WriteType::kRequest, 0, absl::Seconds(1), std::move(done));
  });
  EXPECT_EQ(err::reasonOf(s), err::Reason::kDeviceNotFound);
  EXPECT_EQ(fake.callCount("ReadValue") + fake.callCount("WriteValue"), 0);
}

TEST_F(GattOverBluez, WritesOneAtATimePerAttribute) {
  int inFlight = 0, most = 0;  // fake thread
  fake.script("WriteValue", [&](const FakeBluez::CallPtr& call, const auto& fallback) {
    most = std::max(most, ++inFlight);
    fake.after(absl::Milliseconds(20), [&, call, fallback] {
      --inFlight;
      fallback();
    });
  });
  start();
  std::vector<std::shared_ptr<std::promise<absl::Status>>> results;
  onLoop([&] {
    for (int i = 0; i < 4; ++i) {
      auto p = std::make_shared<std::promise<absl::Status>>();
      results.push_back(p);
      held.push_back(backend->write(kAdapter, kSensor, 0x0010, {static_cast<std::uint8_t>(i)},
                                    WriteType::kRequest, 0, absl::Seconds(3),
                                    [p](absl::Status s) { p->set_value(s); }));
    }
  });
  for (auto& p : results) {
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(3)), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
  }
  fake.run([&] { EXPECT_EQ(most, 1); });
  EXPECT_EQ(fake.lastWrite(control), Bytes{3});  // in order
}

TEST_F(GattOverBluez, NeverCallsBackOnceTheOperationIsDropped) {
  std::vector<FakeBluez::CallPtr> held_;  // fake thread
  fake.script("ReadValue", [&](const FakeBluez::CallPtr& call, const auto& fallback) {
    fake.after(absl::Milliseconds(100), [call, fallback] { fallback(); });
  });
  start();
  bool called = false;  // loop thread
  onLoop([&] {
    held.push_back(backend->read(kAdapter, kSensor, 0x000e, 0, absl::Seconds(3),
                                 [&called](ReadResult) { called = true; }));
  });
  ASSERT_TRUE(eventually([&] { return fake.callCount("ReadValue") == 1; }));
  onLoop([&] { held.clear(); });  // the caller lets go before BlueZ answers
  absl::SleepFor(absl::Milliseconds(250));
  onLoop([&] {
    EXPECT_FALSE(called);
    EXPECT_EQ(backend->pendingOperations(), 0u);
    EXPECT_EQ(backend->callLimiter().inFlight(), 0u);  // the late reply was taken and dropped
  });
}

TEST_F(GattOverBluez, TimesOutAndForgetsTheCall) {
  fake.script("ReadValue", [](const auto&, const auto&) {});  // never answers
  start();
  const absl::Time began = absl::Now();
  auto r = read(0x000e, 0, absl::Milliseconds(150));
  EXPECT_LT(absl::Now() - began, absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(err::reasonOf(r.status()), err::Reason::kTimeout);
  onLoop([&] { EXPECT_EQ(backend->pendingOperations(), 0u); });
}

TEST_F(GattOverBluez, DeliversNotificationsFromStartNotify) {
  start();
  ASSERT_TRUE(subscribe().ok());
  EXPECT_EQ(fake.callCount("StartNotify"), 1);
  fake.notify(hrm, {0x16, 0x48});
  fake.notify(hrm, {0x16, 0x48});  // a repeated value is a notification too
  fake.notify(location, {0x01});   // no session there: not a notification
  fake.notify(hrm, {0x16, 0x49});
  ASSERT_TRUE(listener.waitForCount("notification", 3));
  EXPECT_EQ(notifications(), (std::vector<Bytes>{{0x16, 0x48}, {0x16, 0x48}, {0x16, 0x49}}));
  ASSERT_TRUE(subscribe().ok());  // one session per characteristic
  EXPECT_EQ(fake.callCount("StartNotify"), 1);

  ASSERT_TRUE(unsubscribe().ok());
  EXPECT_EQ(fake.callCount("StopNotify"), 1);
  fake.notify(hrm, {0x00});
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(notifications().size(), 3u);
  ASSERT_TRUE(unsubscribe().ok());  // nothing left to stop
  EXPECT_EQ(fake.callCount("StopNotify"), 1);
}

TEST_F(GattOverBluez, DeliversNotificationsThatBeatTheStartNotifyReply) {
  fake.script("StartNotify", [&](const FakeBluez::CallPtr& call, const auto& fallback) {
    fake.notify(call->path(), {0x42});
    fallback();
  });
  start();
  ASSERT_TRUE(subscribe().ok());
  ASSERT_TRUE(listener.waitForCount("notification", 1));
}

TEST_F(GattOverBluez, ReadsNotificationsFromAnAcquiredSocket) {
  fake.setProperties(hrm, kChar, {{"MTU", std::uint16_t{247}}}, false);
  start();
  ASSERT_TRUE(subscribe(NotifyMethod::kAcquireNotify).ok());
  EXPECT_EQ(fake.callCount("AcquireNotify"), 1);
  ASSERT_TRUE(fake.notifyAcquired(hrm, {0x10, 0x20}));
  ASSERT_TRUE(fake.notifyAcquired(hrm, Bytes(244, 0xab)));
  ASSERT_TRUE(listener.waitForCount("notification", 2));
  const auto values = notifications();
  EXPECT_EQ(values[0], (Bytes{0x10, 0x20}));
  EXPECT_EQ(values[1].size(), 244u);

  // BlueZ closes the socket (the link dropped): the session is over; a new one acquires again.
  fake.hangUpAcquired(hrm);
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(subscribe(NotifyMethod::kAcquireNotify).ok());
  EXPECT_EQ(fake.callCount("AcquireNotify"), 2);
  ASSERT_TRUE(unsubscribe().ok());  // closing the socket releases it; no call needed
  EXPECT_EQ(fake.callCount("StopNotify"), 0);
}

TEST_F(GattOverBluez, EndsSessionsWhenTheCharacteristicGoes) {
  start();
  ASSERT_TRUE(subscribe().ok());
  fake.removeObject(hrm);
  absl::SleepFor(absl::Milliseconds(50));
  fake.addObject(characteristicObject(kAdapter, kSensor, 0x000a, 0x000b, bluezUuid(0x2a37),
                                      {"notify"}));
  fake.notify(hrm, {1});
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(notifications().empty());
}

TEST_F(GattOverBluez, StopReleasesSubscriptionsAndDiscovery) {
  start();
  ASSERT_TRUE(subscribe().ok());
  ASSERT_TRUE(awaitStatus([&](StatusCallback done) {
                return backend->startDiscovery(kAdapter, {}, std::move(done));
              }).ok());
  onLoop([&] { backend->stop(); });
  listener.clear();  // what came before stop() returned
  ASSERT_TRUE(eventually([&] {
    return fake.callCount("StopNotify") == 1 && fake.callCount("StopDiscovery") == 1;
  }));
  ASSERT_TRUE(eventually([&] { return !fake.discovering(kAdapterPath); }));
  fake.notify(hrm, {1});
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(listener.events().empty()) << "nothing is reported after stop()";
  onLoop([&] { EXPECT_FALSE(backend->bluezUp()); });
}

TEST_F(GattOverBluez, KeepsAtMostTheLimitOfCallsInFlight) {
  // Ten characteristics, ten reads at once, a limit of four.
  for (std::uint16_t h = 0x20; h < 0x34; h += 2) {
    fake.addObject(characteristicObject(kAdapter, kSensor, 0x000a, h, bluezUuid(0x2a19), {"read"}),
                   false);
    fake.setProperties(bluez::characteristicPath(kAdapter, kSensor, 0x000a, h), kChar,
                       {{"Value", Bytes{static_cast<std::uint8_t>(h)}}}, false);
  }
  int inFlight = 0, most = 0;  // fake thread
  fake.script("ReadValue", [&](const FakeBluez::CallPtr& call, const auto& fallback) {
    most = std::max(most, ++inFlight);
    fake.after(absl::Milliseconds(20), [&, call, fallback] {
      --inFlight;
      fallback();
    });
  });
  start(/*maxCallsInFlight=*/4);
  std::vector<std::shared_ptr<std::promise<ReadResult>>> results;
  onLoop([&] {
    for (std::uint16_t h = 0x20; h < 0x34; h += 2) {
      auto p = std::make_shared<std::promise<ReadResult>>();
      results.push_back(p);
      held.push_back(backend->read(kAdapter, kSensor, h, 0, absl::Seconds(5),
                                   [p](ReadResult r) { p->set_value(std::move(r)); }));
    }
    EXPECT_EQ(backend->callLimiter().inFlight(), 4u);
    EXPECT_EQ(backend->callLimiter().queued(), 6u);
  });
  std::uint8_t h = 0x20;
  for (auto& p : results) {
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, std::vector<std::uint8_t>{h});
    h = static_cast<std::uint8_t>(h + 2);
  }
  fake.run([&] { EXPECT_EQ(most, 4); });
}

}  // namespace
}  // namespace gattway
