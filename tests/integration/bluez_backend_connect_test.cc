// Connecting over BlueZ, with what real BlueZ does (BLUEZ-VM.md, bluez-5.66-api.md §7.4): known and
// unseen devices, a Connected that is never signalled, ServicesResolved before the GATT objects,
// InProgress, le-connection-abort-by-local, timeouts.
#include "ble/bluez/message_parsing.h"
#include "ble/bluez/paths.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/backend_harness.h"
#include "tests/support/bluez_objects.h"

namespace gattway {
namespace {

using bluez::findProperty;
using bluez::PropertyValue;
using testing::BackendHarness;
using testing::deviceObject;
using testing::eventually;
using testing::FakeBluez;
using testing::heartRateDatabase;

const Address kSensor = *Address::parse("C0:FF:EE:00:00:01");
constexpr const char* kDevice1 = "org.bluez.Device1";

class ConnectingOverBluez : public BackendHarness {
 protected:
  void SetUp() override {
    sensorPath = bluez::devicePath(kAdapter, kSensor);
    fake.setDatabase(sensorPath, heartRateDatabase(kAdapter, kSensor));
  }
  // The sensor known to BlueZ (seen by an earlier scan), and everything up.
  void startWithKnownSensor() {
    fake.addObject(deviceObject(kAdapter, kSensor, {}, /*random=*/true), false);
    startBluez();
    startBackend();
  }
  absl::Status connect(absl::Duration timeout = absl::Seconds(3),
                       AddressType type = AddressType::kRandom) {
    return awaitStatus([&](StatusCallback done) {
      return backend->connect(kAdapter, kSensor, type, timeout, std::move(done));
    });
  }
  absl::StatusOr<std::vector<GattServiceInfo>> resolve() {
    using R = absl::StatusOr<std::vector<GattServiceInfo>>;
    return await<R>([&](Callback<R> done) {
      return backend->resolveServices(kAdapter, kSensor, absl::Seconds(3), std::move(done));
    });
  }
  std::string sensorPath;
};

TEST_F(ConnectingOverBluez, ConnectsAKnownDeviceAndResolvesItsServices) {
  startWithKnownSensor();
  ASSERT_TRUE(connect().ok());
  EXPECT_TRUE(deviceConnected(kSensor));
  EXPECT_EQ(fake.callCount("Connect"), 1);
  auto services = resolve();
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ((*services)[0].uuid, Uuid::fromShort(0x180d));
  ASSERT_EQ((*services)[0].characteristics.size(), 3u);
  EXPECT_EQ((*services)[0].characteristics[0].handle, 0x000b);
  EXPECT_EQ((*services)[0].characteristics[0].descriptors.size(), 1u);
  onLoop([&] { EXPECT_EQ(backend->mtu(kAdapter, kSensor), 247); });
  // Already connected: nothing more to do.
  ASSERT_TRUE(connect().ok());
  EXPECT_EQ(fake.callCount("Connect"), 1);
}

TEST_F(ConnectingOverBluez, ReadsConnectedBackWhenBlueZNeverSignalsIt) {
  startWithKnownSensor();
  fake.script("Connect", [&](const FakeBluez::CallPtr& call, const auto&) {
    // The ATT link came up before mgmt's Device Connected: no PropertiesChanged (BLUEZ-VM.md).
    fake.setProperties(call->path(), kDevice1, {{"Connected", true}}, /*announce=*/false);
    call->reply();
  });
  ASSERT_TRUE(connect().ok());
  EXPECT_EQ(fake.callCount("Get"), 1);
  EXPECT_TRUE(deviceConnected(kSensor));
  bool heard = false;
  for (const auto& e : listener.events()) {
    heard |= e.kind == "device" && (e.changes & device_change::kConnected) != 0 && e.device.connected;
  }
  EXPECT_TRUE(heard) << "the listener must hear of the connection BlueZ did not signal";
}

TEST_F(ConnectingOverBluez, ConnectsWhenTheReplyComesBeforeTheConnectedSignal) {
  startWithKnownSensor();
  fake.script("Connect", [&](const FakeBluez::CallPtr& call, const auto&) {
    // 5.66's own order: the reply when ATT is up, then the (coalesced) property signals.
    fake.setProperties(call->path(), kDevice1, {{"Connected", true}}, /*announce=*/false);
    call->reply();
    fake.after(absl::Milliseconds(20), [this, path = call->path()] {
      fake.setProperties(path, kDevice1, {{"Connected", true}});
    });
  });
  ASSERT_TRUE(connect().ok());
  EXPECT_TRUE(deviceConnected(kSensor));
}

TEST_F(ConnectingOverBluez, FindsGattObjectsThatArriveAfterServicesResolved) {
  startWithKnownSensor();
  fake.script("Connect", [&](const FakeBluez::CallPtr& call, const auto&) {
    fake.setProperties(call->path(), kDevice1, {{"Connected", true}});
    call->reply();
    // ServicesResolved first; the objects exist in BlueZ but their InterfacesAdded come later.
    for (const auto& o : heartRateDatabase(kAdapter, kSensor)) fake.addObject(o, false);
    fake.setProperties(call->path(), kDevice1, {{"ServicesResolved", true}});
    fake.after(absl::Milliseconds(300), [this] {
      for (const auto& o : heartRateDatabase(kAdapter, kSensor)) fake.addObject(o, true);
    });
  });
  ASSERT_TRUE(connect().ok());
  auto services = resolve();
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ((*services)[0].characteristics.size(), 3u);
  EXPECT_GE(fake.callCount("GetManagedObjects"), 2);
}

TEST_F(ConnectingOverBluez, ResolvesOnlyConnectedDevices) {
  startWithKnownSensor();
  auto services = resolve();
  EXPECT_EQ(services.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(err::reasonOf(services.status()), err::Reason::kNotConnected);
}

TEST_F(ConnectingOverBluez, ReportsASecondConnectAsInProgress) {
  startWithKnownSensor();
  std::vector<FakeBluez::CallPtr> pending;
  fake.script("Connect", [&](const FakeBluez::CallPtr& call, const auto&) {
    if (pending.empty()) {
      pending.push_back(call);  // the first attempt is still running
      return;
    }
    call->replyError("org.bluez.Error.Failed", "Operation already in progress");
  });
  auto first = std::make_shared<std::promise<absl::Status>>();
  onLoop([&] {
    held.push_back(backend->connect(kAdapter, kSensor, AddressType::kRandom, absl::Seconds(3),
                                    [first](absl::Status s) { first->set_value(s); }));
  });
  ASSERT_TRUE(eventually([&] { return fake.callCount("Connect") == 1; }));
  const auto second = connect();
  EXPECT_EQ(second.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(err::reasonOf(second), err::Reason::kInProgress);
  fake.run([&] {
    fake.setProperties(sensorPath, kDevice1, {{"Connected", true}});
    pending[0]->reply();
  });
  auto f = first->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());
}

TEST_F(ConnectingOverBluez, WaitsForTheDisconnectAfterAbortByLocal) {
  startWithKnownSensor();
  fake.script("Connect", [&](const FakeBluez::CallPtr& call, const auto&) {
    fake.setProperties(call->path(), kDevice1, {{"Connected", true}});
    call->replyError("org.bluez.Error.Failed", "le-connection-abort-by-local");
    fake.after(absl::Milliseconds(200), [this, path = call->path()] {
      fake.setProperties(path, kDevice1, {{"Connected", false}});
    });
  });
  const absl::Time began = absl::Now();
  const auto status = connect();
  EXPECT_GE(absl::Now() - began, absl::Milliseconds(150));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::metadata(status, err::kMetaBluezMessage), "le-connection-abort-by-local");
  EXPECT_FALSE(deviceConnected(kSensor)) << "reported before the link was down";
}

TEST_F(ConnectingOverBluez, ReportsAbortByLocalAtOnceWhenTheLinkNeverCameUp) {
  startWithKnownSensor();
  fake.script("Connect", [](const FakeBluez::CallPtr& call, const auto&) {
    call->replyError("org.bluez.Error.Failed", "le-connection-abort-by-local");
  });
  const absl::Time began = absl::Now();
  const auto status = connect();
  EXPECT_LT(absl::Now() - began, absl::Seconds(1));
  EXPECT_EQ(err::metadata(status, err::kMetaBluezMessage), "le-connection-abort-by-local");
}

TEST_F(ConnectingOverBluez, UsesConnectDeviceForADeviceBlueZHasNotSeen) {
  startBluez();
  fake.setExperimental(true);
  startBackend();
  ASSERT_TRUE(connect(absl::Seconds(3), AddressType::kRandom).ok());
  EXPECT_EQ(fake.callCount("ConnectDevice"), 1);
  EXPECT_EQ(fake.callCount("Connect"), 0);
  const auto options = fake.lastOptions("ConnectDevice");
  EXPECT_EQ(*findProperty<std::string>(options, "Address"), "C0:FF:EE:00:00:01");
  EXPECT_EQ(*findProperty<std::string>(options, "AddressType"), "random");
  EXPECT_TRUE(deviceConnected(kSensor));
}

TEST_F(ConnectingOverBluez, FallsBackToATargetedDiscoveryWithoutConnectDevice) {
  startBluez();
  fake.setAdvertiser(deviceObject(kAdapter, kSensor, {{"RSSI", std::int16_t{-60}}}, true));
  std::vector<std::string> patterns;  // fake thread
  fake.script("SetDiscoveryFilter", [&](const FakeBluez::CallPtr& call, const auto& fallback) {
    bluez::PropertyMap options;
    bluez::readProperties(call->message(), options);
    if (const auto* p = findProperty<std::string>(options, "Pattern")) patterns.push_back(*p);
    fallback();
  });
  startBackend();
  ASSERT_TRUE(connect().ok());
  EXPECT_EQ(fake.callCount("ConnectDevice"), 1);  // UnknownMethod: bluetoothd without -E
  EXPECT_EQ(fake.callCount("StartDiscovery"), 1);
  EXPECT_EQ(fake.callCount("Connect"), 1);
  EXPECT_TRUE(deviceConnected(kSensor));
  // The discovery was for this device, and it ends once the device is found.
  ASSERT_TRUE(eventually([&] { return !fake.discovering(kAdapterPath); }));
  fake.run([&] { EXPECT_EQ(patterns, std::vector<std::string>{"C0:FF:EE:00:00:01"}); });
  // The next unseen device skips ConnectDevice: the adapter lacks it.
  const Address other = *Address::parse("C0:FF:EE:00:00:09");
  const auto status = awaitStatus(
      [&](StatusCallback done) {
        return backend->connect(kAdapter, other, AddressType::kPublic, absl::Milliseconds(200),
                                std::move(done));
      },
      absl::Seconds(3));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(fake.callCount("ConnectDevice"), 1);
  ASSERT_TRUE(eventually([&] { return !fake.discovering(kAdapterPath); }));
}

TEST_F(ConnectingOverBluez, GivesUpAtTheDeadlineAndCancelsTheConnect) {
  startWithKnownSensor();
  fake.script("Connect", [](const auto&, const auto&) {});  // never answers
  const auto status = connect(absl::Milliseconds(200));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(err::reasonOf(status), err::Reason::kTimeout);
  ASSERT_TRUE(eventually([&] { return fake.callCount("Disconnect") == 1; }))
      << "a pending connect must be cancelled in BlueZ";
}

TEST_F(ConnectingOverBluez, CancelsTheConnectWhenTheCallerLetsGo) {
  startWithKnownSensor();
  fake.script("Connect", [](const auto&, const auto&) {});
  bool called = false;
  onLoop([&] {
    Operation op = backend->connect(kAdapter, kSensor, AddressType::kRandom, absl::Seconds(3),
                                    [&called](absl::Status) { called = true; });
    held.push_back(std::move(op));
  });
  ASSERT_TRUE(eventually([&] { return fake.callCount("Connect") == 1; }));
  onLoop([&] { held.clear(); });
  ASSERT_TRUE(eventually([&] { return fake.callCount("Disconnect") == 1; }));
  absl::SleepFor(absl::Milliseconds(50));
  onLoop([&] {
    EXPECT_FALSE(called);
    EXPECT_EQ(backend->pendingOperations(), 0u);
  });
}

TEST_F(ConnectingOverBluez, DisconnectsAndWaitsForTheLinkToGo) {
  startWithKnownSensor();
  ASSERT_TRUE(connect().ok());
  ASSERT_TRUE(awaitStatus([&](StatusCallback done) {
                return backend->disconnect(kAdapter, kSensor, std::move(done));
              }).ok());
  EXPECT_FALSE(deviceConnected(kSensor));
  // Not connected (or not even known): fine too.
  ASSERT_TRUE(awaitStatus([&](StatusCallback done) {
                return backend->disconnect(kAdapter, *Address::parse("C0:FF:EE:00:00:42"),
                                           std::move(done));
              }).ok());
}

TEST_F(ConnectingOverBluez, ReadsTheDisconnectBackWhenBlueZNeverSignalsIt) {
  startWithKnownSensor();
  ASSERT_TRUE(connect().ok());
  fake.script("Disconnect", [&](const FakeBluez::CallPtr& call, const auto&) {
    fake.setProperties(call->path(), kDevice1, {{"Connected", false}}, /*announce=*/false);
    call->reply();
  });
  ASSERT_TRUE(awaitStatus([&](StatusCallback done) {
                return backend->disconnect(kAdapter, kSensor, std::move(done));
              }).ok());
  EXPECT_FALSE(deviceConnected(kSensor));
  EXPECT_EQ(fake.callCount("Get"), 1);
}

TEST_F(ConnectingOverBluez, StopClosesTheLinksItOpened) {
  startWithKnownSensor();
  ASSERT_TRUE(connect().ok());
  onLoop([&] { backend->stop(); });
  ASSERT_TRUE(eventually([&] { return fake.callCount("Disconnect") == 1; }));
}

}  // namespace
}  // namespace gattway
