// Connecting on the simulated BlueZ: 5.66's replies and signal orderings (tidy and real), the
// controller's limits, and injected connect faults and link drops (bluez-5.66-api.md §2, §7.4;
// BLUEZ-VM.md).
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

constexpr char kDevice1[] = "org.bluez.Device1";

class Connecting : public SimFixture {
 protected:
  void SetUp() override { startSim(); }

  int indexOf(BusClient& c, const std::function<bool(const BusEvent&)>& pred) { return c.find(pred); }
  static bool isProperty(const BusEvent& e, const std::string& path, const char* key, const char* value) {
    return e.path == path && e.values.contains(key) && e.values.at(key) == value;
  }
  static bool isReply(const BusEvent& e, const char* member) {
    return e.kind != BusEvent::kSignal && e.member == member;
  }
  bool waitForReply(BusClient& c, const char* member) {
    return c.waitFor([&] { return c.find([&](const BusEvent& e) { return isReply(e, member); }) >= 0; });
  }
};

TEST_F(Connecting, TidySignalsConnectedBeforeTheReplyAndObjectsBeforeServicesResolved) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));
  const int connected = indexOf(*c, [](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "true"); });
  const int reply = indexOf(*c, [](const BusEvent& e) { return isReply(e, "Connect"); });
  const int added = indexOf(*c, [](const BusEvent& e) {
    return e.member == "InterfacesAdded" && absl::StrContains(e.object, "/service");
  });
  const int resolved = indexOf(*c, [](const BusEvent& e) { return isProperty(e, kHrmPath, "ServicesResolved", "true"); });
  ASSERT_GE(connected, 0);
  ASSERT_GE(reply, 0);
  EXPECT_EQ(c->events()[static_cast<std::size_t>(reply)].kind, BusEvent::kReply);
  EXPECT_LT(connected, reply);
  ASSERT_GE(added, 0);
  EXPECT_LT(added, resolved);
}

TEST_F(Connecting, ExportsGattObjectsUnderHandlePathsWithoutGap) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));
  auto objects = c->managedObjects();
  // GAP (0x0001) is bluetoothd's; GATT at 0x0006; the strap's Heart Rate service from 0x000a.
  EXPECT_FALSE(objects.contains(std::string(kHrmPath) + "/service0001"));
  EXPECT_TRUE(objects.contains(std::string(kHrmPath) + "/service0006"));
  EXPECT_TRUE(objects.contains(std::string(kHrmPath) + "/service000a"));
  EXPECT_TRUE(objects.contains(std::string(kHrmPath) + "/service000a/char000b"));
  EXPECT_EQ(c->getString(std::string(kHrmPath) + "/service000a", "org.bluez.GattService1", "UUID"),
            "0000180d-0000-1000-8000-00805f9b34fb");
  EXPECT_EQ(c->getInt(std::string(kHrmPath) + "/service000a/char000b", "org.bluez.GattCharacteristic1", "MTU"),
            247);
  EXPECT_EQ(c->getBool(kHrmPath, kDevice1, "Connected"), true);
}

TEST_F(Connecting, RepliesToDisconnectBeforeConnectedGoesFalse) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));
  const int from = static_cast<int>(c->events().size());
  c->callAsync("org.bluez", kHrmPath, kDevice1, "Disconnect");
  ASSERT_TRUE(c->waitFor([&] {
    return c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "false"); }, from) >= 0;
  }));
  const int reply = c->find([](const BusEvent& e) { return isReply(e, "Disconnect"); }, from);
  const int off = c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "false"); }, from);
  const int unresolved = c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "ServicesResolved", "false"); }, from);
  EXPECT_LT(unresolved, reply);
  EXPECT_LT(reply, off);
  // Objects stay across the disconnection; MTU goes away with the link.
  EXPECT_TRUE(c->managedObjects().contains(std::string(kHrmPath) + "/service000a/char000b"));
  EXPECT_FALSE(c->getInt(std::string(kHrmPath) + "/service000a/char000b", "org.bluez.GattCharacteristic1", "MTU"));
}

TEST_F(Connecting, KeepsTheSameObjectPathsAcrossReconnects) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));
  auto ofTheStrap = [&] {
    std::vector<std::string> paths;
    for (const auto& [path, ifaces] : c->managedObjects()) {
      if (absl::StartsWith(path, kHrmPath)) paths.push_back(path);
    }
    return paths;
  };
  const auto first = ofTheStrap();
  ASSERT_TRUE(c->call("org.bluez", kHrmPath, kDevice1, "Disconnect").ok());
  ASSERT_TRUE(c->waitFor([&] { return c->getBool(kHrmPath, kDevice1, "Connected") == false; }));
  const int from = static_cast<int>(c->events().size());
  ASSERT_TRUE(connect(*c, kHrmPath));
  EXPECT_EQ(ofTheStrap(), first);
  // Nothing was exported again: the objects from the first connection serve the second.
  EXPECT_LT(c->find([](const BusEvent& e) {
    return e.member == "InterfacesAdded" && absl::StartsWith(e.object, kHrmPath);
  }, from), 0);
}

TEST_F(Connecting, AlreadyConnectedIsASuccessAndDisconnectedDisconnectToo) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  EXPECT_TRUE(c->call("org.bluez", kHrmPath, kDevice1, "Disconnect").ok());  // never NotConnected
  ASSERT_TRUE(connect(*c, kHrmPath));
  EXPECT_TRUE(c->call("org.bluez", kHrmPath, kDevice1, "Connect").ok());
}

TEST_F(Connecting, RealOrderingNeverSignalsConnectedAndResolvesBeforeTheObjects) {
  onLoop([&] { sim_->setOrdering(sim::Ordering::kReal); });
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));
  c->pump(absl::Milliseconds(50));
  EXPECT_LT(c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "true"); }), 0);
  EXPECT_EQ(c->getBool(kHrmPath, kDevice1, "Connected"), true);  // read it back instead
  const int resolved = c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "ServicesResolved", "true"); });
  const int added = c->find([](const BusEvent& e) {
    return e.member == "InterfacesAdded" && absl::StrContains(e.object, "/service");
  });
  ASSERT_GE(added, 0);
  EXPECT_LT(resolved, added);
}

TEST_F(Connecting, AllowsOneLeConnectInFlightPerAdapter) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kCamPath));
  ASSERT_TRUE(c->waitFor([&] { return c->managedObjects().contains(kHrmPath); }));
  onLoop([&] { sim_->failNextConnect(*Address::parse(kHrmAddress), {sim::ConnectFault::kHang, "", {}}); });
  c->callAsync("org.bluez", kHrmPath, kDevice1, "Connect");
  c->pump(absl::Milliseconds(20));
  Reply second = c->call("org.bluez", kCamPath, kDevice1, "Connect");
  EXPECT_EQ(second.errorName, "org.bluez.Error.InProgress");
  // The same device again: Failed "Operation already in progress" (EALREADY), not InProgress.
  Reply same = c->call("org.bluez", kHrmPath, kDevice1, "Connect");
  EXPECT_EQ(same.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(same.errorMessage, "Operation already in progress");
  // Disconnect cancels the hanging attempt.
  ASSERT_TRUE(c->call("org.bluez", kHrmPath, kDevice1, "Disconnect").ok());
  ASSERT_TRUE(waitForReply(*c, "Connect"));
  const auto& e = c->events()[static_cast<std::size_t>(c->find([](const BusEvent& x) { return isReply(x, "Connect"); }))];
  EXPECT_EQ(e.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(e.errorMessage, "br-connection-canceled");
  EXPECT_TRUE(connect(*c, kCamPath));
}

TEST_F(Connecting, AbortByLocalBlipsConnectedAndFails) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  onLoop([&] { sim_->failNextConnect(std::nullopt, {sim::ConnectFault::kAbortByLocal, "", {}}); });
  c->callAsync("org.bluez", kHrmPath, kDevice1, "Connect");
  ASSERT_TRUE(c->waitFor([&] {
    return c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "false"); }) >= 0;
  }));
  const int up = c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "true"); });
  const int reply = c->find([](const BusEvent& e) { return isReply(e, "Connect"); });
  const int down = c->find([](const BusEvent& e) { return isProperty(e, kHrmPath, "Connected", "false"); });
  EXPECT_LT(up, reply);
  EXPECT_LT(reply, down);
  EXPECT_EQ(c->events()[static_cast<std::size_t>(reply)].errorMessage, "le-connection-abort-by-local");
  // The next attempt works (the fault was for one connect).
  EXPECT_TRUE(connect(*c, kHrmPath));
}

TEST_F(Connecting, AFailedFaultAnswersAtOnceWithItsMessage) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  onLoop([&] { sim_->failNextConnect(std::nullopt, {sim::ConnectFault::kFailed, "", {}}); });
  Reply r = c->call("org.bluez", kHrmPath, kDevice1, "Connect");
  EXPECT_EQ(r.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(r.errorMessage, "Input/output error");
  onLoop([&] { sim_->failNextConnect(std::nullopt, {sim::ConnectFault::kInProgress, "", {}}); });
  EXPECT_EQ(c->call("org.bluez", kHrmPath, kDevice1, "Connect").errorName, "org.bluez.Error.InProgress");
}

TEST_F(Connecting, ANonConnectableDeviceTimesOutWithAbortByLocal) {
  auto c = client();
  const std::string beacon = "/org/bluez/hci0/dev_D0_BE_AC_00_00_01";
  ASSERT_TRUE(discover(*c, beacon));
  Reply r = c->call("org.bluez", beacon, kDevice1, "Connect");
  EXPECT_EQ(r.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(r.errorMessage, "le-connection-abort-by-local");
}

TEST_F(Connecting, RunsOutOfConnectionSlots) {
  stopSim();
  sim::SimOptions o = fastOptions();
  o.connectionSlots = 1;
  startSim(o);
  auto c = client();
  ASSERT_TRUE(discover(*c, kCamPath));
  ASSERT_TRUE(c->waitFor([&] { return c->managedObjects().contains(kHrmPath); }));
  ASSERT_TRUE(connect(*c, kHrmPath));
  Reply r = c->call("org.bluez", kCamPath, kDevice1, "Connect");
  EXPECT_EQ(r.errorMessage, "le-connection-abort-by-local");
}

TEST_F(Connecting, ADroppedLinkEndsPendingReadsAndSignalsTheDisconnection) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kCamPath));
  ASSERT_TRUE(connect(*c, kCamPath));
  // A slow read in flight when the link drops fails without an ATT code.
  onLoop([&] {
    sim::GattFaultSpec slow;
    slow.delay = absl::Seconds(2);
    sim_->failNextGattOperation(std::nullopt, slow);
  });
  const std::string status = std::string(kCamPath) + "/service000a/char000e";
  c->callAsync("org.bluez", status, "org.bluez.GattCharacteristic1", "ReadValue",
               [](sd_bus_message* m) { sd_bus_message_append(m, "a{sv}", 0); });
  c->pump(absl::Milliseconds(20));
  ASSERT_TRUE(onLoop([&] { return sim_->dropLink(*Address::parse(kCamAddress), sim::DropReason::kTimeout).ok(); }));
  ASSERT_TRUE(waitForReply(*c, "ReadValue"));
  const auto& e = c->events()[static_cast<std::size_t>(c->find([](const BusEvent& x) { return isReply(x, "ReadValue"); }))];
  EXPECT_EQ(e.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(e.errorMessage, "Operation failed");
  EXPECT_TRUE(c->waitFor([&] { return c->getBool(kCamPath, kDevice1, "Connected") == false; }));
  EXPECT_EQ(c->getBool(kCamPath, kDevice1, "ServicesResolved"), false);
}

TEST_F(Connecting, RemoveDeviceDisconnectsFirstThenRemoves) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));
  Reply r = c->call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "RemoveDevice",
                    [](sd_bus_message* m) { sd_bus_message_append(m, "o", kHrmPath); });
  EXPECT_TRUE(r.ok()) << r.errorName;
  EXPECT_TRUE(c->waitFor([&] { return !c->managedObjects().contains(kHrmPath); }));
  Reply gone = c->call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "RemoveDevice",
                       [](sd_bus_message* m) { sd_bus_message_append(m, "o", kHrmPath); });
  EXPECT_EQ(gone.errorName, "org.bluez.Error.DoesNotExist");
}

TEST_F(Connecting, FailsAtOnceOnAPoweredOffAdapter) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  ASSERT_TRUE(connect(*c, kHrmPath));  // now a stored device: it survives the power-off
  ASSERT_TRUE(c->call("org.bluez", kHrmPath, kDevice1, "Disconnect").ok());
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", false).ok(); }));
  ASSERT_TRUE(c->waitFor([&] { return c->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered") == false; }));
  Reply r = c->call("org.bluez", kHrmPath, kDevice1, "Connect");
  EXPECT_EQ(r.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(r.errorMessage, "Input/output error");
}

TEST_F(Connecting, PairsWithJustWorks) {
  auto c = client();
  ASSERT_TRUE(discover(*c, kHrmPath));
  Reply r = c->call("org.bluez", kHrmPath, kDevice1, "Pair");
  EXPECT_TRUE(r.ok()) << r.errorName << " " << r.errorMessage;
  EXPECT_EQ(c->getBool(kHrmPath, kDevice1, "Paired"), true);
  EXPECT_EQ(c->call("org.bluez", kHrmPath, kDevice1, "Pair").errorName, "org.bluez.Error.AlreadyExists");
  EXPECT_EQ(c->call("org.bluez", kHrmPath, kDevice1, "CancelPairing").errorName, "org.bluez.Error.DoesNotExist");
}

}  // namespace
}  // namespace gattway::testing
