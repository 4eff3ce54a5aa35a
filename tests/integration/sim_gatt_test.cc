// GATT operations on a remote device of the simulated BlueZ: long reads, writes and their ATT
// errors as 5.66 names them, notification sessions, acquired sockets, and injected GATT faults.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

constexpr char kChar[] = "org.bluez.GattCharacteristic1";
// The camera (demo fleet): service 0x000a; control point 0x000b; status 0x000e (CCC 0x0010);
// snapshot 0x0011 (480 bytes); stream 0x0013.
const std::string kControl = std::string(kCamPath) + "/service000a/char000b";
const std::string kStatus = std::string(kCamPath) + "/service000a/char000e";
const std::string kSnapshot = std::string(kCamPath) + "/service000a/char0011";
const std::string kStream = std::string(kCamPath) + "/service000a/char0013";
const std::string kHeartRate = std::string(kHrmPath) + "/service000a/char000b";

std::vector<std::uint8_t> bytesOf(sd_bus_message* m) {
  const void* p = nullptr;
  std::size_t n = 0;
  if (sd_bus_message_read_array(m, 'y', &p, &n) < 0) return {};
  const auto* b = static_cast<const std::uint8_t*>(p);
  return {b, b + n};
}

void appendOffset(sd_bus_message* m, std::uint16_t offset) {
  sd_bus_message_open_container(m, 'a', "{sv}");
  if (offset != 0) sd_bus_message_append(m, "{sv}", "offset", "q", offset);
  sd_bus_message_close_container(m);
}

void appendWrite(sd_bus_message* m, const std::vector<std::uint8_t>& v, const char* type) {
  sd_bus_message_append_array(m, 'y', v.data(), v.size());
  sd_bus_message_open_container(m, 'a', "{sv}");
  if (type != nullptr) sd_bus_message_append(m, "{sv}", "type", "s", type);
  sd_bus_message_close_container(m);
}

class Gatt : public SimFixture {
 protected:
  void SetUp() override {
    startSim();
    c_ = client();
    ASSERT_TRUE(discover(*c_, kCamPath));
    ASSERT_TRUE(c_->waitFor([&] { return c_->managedObjects().contains(kHrmPath); }));
    ASSERT_TRUE(connect(*c_, kCamPath));
  }
  Reply read(const std::string& path, std::uint16_t offset = 0) {
    return c_->call("org.bluez", path, kChar, "ReadValue", [&](sd_bus_message* m) { appendOffset(m, offset); });
  }
  Reply write(const std::string& path, const std::vector<std::uint8_t>& v, const char* type = nullptr) {
    return c_->call("org.bluez", path, kChar, "WriteValue", [&](sd_bus_message* m) { appendWrite(m, v, type); });
  }
  int valueSignals(const std::string& path, int from = 0) {
    int n = 0;
    for (std::size_t i = static_cast<std::size_t>(from); i < c_->events().size(); ++i) {
      const auto& e = c_->events()[i];
      if (e.path == path && e.interface == kChar && e.values.contains("Value")) ++n;
    }
    return n;
  }
  std::unique_ptr<BusClient> c_;
};

TEST_F(Gatt, ReadsAValueLongerThanTheMtuWithOffsets) {
  Reply whole = read(kSnapshot);
  ASSERT_TRUE(whole.ok()) << whole.errorName;
  const auto all = bytesOf(whole.message);
  ASSERT_EQ(all.size(), 480u);
  Reply tail = read(kSnapshot, 300);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(bytesOf(tail.message), std::vector<std::uint8_t>(all.begin() + 300, all.end()));
  Reply beyond = read(kSnapshot, 481);
  EXPECT_EQ(beyond.errorName, "org.bluez.Error.InvalidArguments");
  EXPECT_EQ(beyond.errorMessage, "Invalid offset");
}

TEST_F(Gatt, SignalsValueBeforeTheReadReply) {
  const int from = static_cast<int>(c_->events().size());
  c_->callAsync("org.bluez", kStatus, kChar, "ReadValue", [](sd_bus_message* m) { appendOffset(m, 0); });
  ASSERT_TRUE(c_->waitFor([&] { return c_->find([](const BusEvent& e) { return e.kind == BusEvent::kReply; }, from) >= 0; }));
  const int value = c_->find([](const BusEvent& e) { return e.values.contains("Value"); }, from);
  const int reply = c_->find([](const BusEvent& e) { return e.kind == BusEvent::kReply; }, from);
  ASSERT_GE(value, 0);
  EXPECT_LT(value, reply);
}

TEST_F(Gatt, ReportsTheControlPointsAttErrorTheWayBluezDoes) {
  Reply bad = write(kControl, {0x7f});
  EXPECT_EQ(bad.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(bad.errorMessage, "Operation failed with ATT error: 0x80");
  // The gateway's decoder recovers the ATT code from it.
  const absl::Status s = err::fromBluez(bad.errorName, bad.errorMessage, "write");
  EXPECT_EQ(err::metadata(s, err::kMetaAttError), "0x80");
  EXPECT_TRUE(write(kControl, {0x01}).ok());  // capture: a new snapshot, status counts it
  Reply status = read(kStatus);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(bytesOf(status.message)[1], 1);
}

TEST_F(Gatt, NamesPermissionErrorsAsBluez) {
  Reply r = read(kControl);  // write-only
  EXPECT_EQ(r.errorName, "org.bluez.Error.NotPermitted");
  EXPECT_EQ(r.errorMessage, "Read not permitted");
  Reply w = write(kSnapshot, {1}, "request");  // an explicit type skips the flag check...
  EXPECT_EQ(w.errorMessage, "Write not permitted");  // ...and the peer refuses
  Reply none = write(kSnapshot, {1});  // no type and no write flag: no procedure at all
  EXPECT_EQ(none.errorName, "org.bluez.Error.NotSupported");
  Reply longer = write(kControl, std::vector<std::uint8_t>(513, 1));
  EXPECT_EQ(longer.errorMessage, "Invalid Length");
}

TEST_F(Gatt, WritesWithoutResponseAndRefusesOversizedCommands) {
  EXPECT_TRUE(write(kStream, {1, 2, 3}, "command").ok());
  EXPECT_TRUE(write(kStream, {1, 2, 3}).ok());  // the flag picks the command
  Reply big = write(kStream, std::vector<std::uint8_t>(300, 0), "command");
  EXPECT_EQ(big.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(big.errorMessage, "Failed to initiate write");
}

TEST_F(Gatt, AllowsOneWriteInFlightPerCharacteristic) {
  onLoop([&] {
    sim::GattFaultSpec slow;
    slow.delay = absl::Milliseconds(200);
    sim_->failNextGattOperation(std::nullopt, slow);
  });
  c_->callAsync("org.bluez", kControl, kChar, "WriteValue", [](sd_bus_message* m) { appendWrite(m, {0x02}, nullptr); });
  c_->pump(absl::Milliseconds(20));
  Reply second = write(kControl, {0x03});
  EXPECT_EQ(second.errorName, "org.bluez.Error.InProgress");
  EXPECT_EQ(second.errorMessage, "In Progress");
}

TEST_F(Gatt, InjectsAttErrorsAndBluezErrors) {
  onLoop([&] {
    sim::GattFaultSpec att;
    att.att = 0x0e;
    sim_->failNextGattOperation(std::nullopt, att);
  });
  Reply r = read(kStatus);
  EXPECT_EQ(r.errorMessage, "Operation failed with ATT error: 0x0e");
  onLoop([&] {
    sim::GattFaultSpec named;
    named.errorName = "org.bluez.Error.NotAuthorized";
    named.errorMessage = "Operation Not Authorized";
    named.handle = 0x000e;  // only the status characteristic
    sim_->failNextGattOperation(std::nullopt, named);
  });
  EXPECT_TRUE(read(kSnapshot).ok());
  EXPECT_EQ(read(kStatus).errorName, "org.bluez.Error.NotAuthorized");
  EXPECT_TRUE(read(kStatus).ok());
}

TEST_F(Gatt, NotifiesEachSessionAndStopsWhenTheLastOneEnds) {
  onLoop([&] { sim_->setNotificationInterval(absl::Milliseconds(10)); });
  ASSERT_TRUE(c_->call("org.bluez", kStatus, kChar, "StartNotify").ok());
  EXPECT_EQ(c_->getBool(kStatus, kChar, "Notifying"), true);
  int from = static_cast<int>(c_->events().size());
  ASSERT_TRUE(c_->waitFor([&] { return valueSignals(kStatus, from) >= 5; }));
  // A second client's session: every notification now goes out twice.
  auto other = client();
  ASSERT_TRUE(other->call("org.bluez", kStatus, kChar, "StartNotify").ok());
  EXPECT_EQ(other->call("org.bluez", kStatus, kChar, "StartNotify").errorName, "");  // repeat: fine
  c_->pump(absl::Milliseconds(50));
  from = static_cast<int>(c_->events().size());
  c_->pump(absl::Milliseconds(200));
  const int two = valueSignals(kStatus, from);
  EXPECT_GE(two, 10);
  ASSERT_TRUE(other->call("org.bluez", kStatus, kChar, "StopNotify").ok());
  EXPECT_EQ(other->call("org.bluez", kStatus, kChar, "StopNotify").errorMessage, "No notify session started");
  ASSERT_TRUE(c_->call("org.bluez", kStatus, kChar, "StopNotify").ok());
  EXPECT_TRUE(c_->waitFor([&] { return c_->getBool(kStatus, kChar, "Notifying") == false; }));
}

TEST_F(Gatt, DeliversAcquiredNotificationsOnASocketWithTheMtu) {
  onLoop([&] { sim_->setNotificationInterval(absl::Milliseconds(10)); });
  const std::string hr = kHeartRate;
  auto hrm = client();
  ASSERT_TRUE(discover(*hrm, kHrmPath));
  ASSERT_TRUE(connect(*hrm, kHrmPath));
  Reply r = hrm->call("org.bluez", hr, kChar, "AcquireNotify", [](sd_bus_message* m) { appendOffset(m, 0); });
  ASSERT_TRUE(r.ok()) << r.errorName << " " << r.errorMessage;
  int fd = -1;
  std::uint16_t mtu = 0;
  ASSERT_GE(sd_bus_message_read(r.message, "hq", &fd, &mtu), 0);
  EXPECT_EQ(mtu, 247);
  const int own = ::dup(fd);
  r = Reply();  // only our copy of the socket is left
  // Non-blocking, as BlueZ hands it out: wait for a packet.
  pollfd p{own, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  std::uint8_t buf[64];
  EXPECT_EQ(::recv(own, buf, sizeof buf, 0), 2);  // one Heart Rate Measurement per packet
  EXPECT_EQ(hrm->getBool(hr, kChar, "NotifyAcquired"), true);
  // A StartNotify session conflicts with an acquired one.
  EXPECT_EQ(hrm->call("org.bluez", hr, kChar, "StartNotify").errorMessage, "Notify acquired");
  ::close(own);
  EXPECT_TRUE(hrm->waitFor([&] { return hrm->getBool(hr, kChar, "NotifyAcquired") == false; }));
}

TEST_F(Gatt, AcquiredWritesReachThePeerAsCommands) {
  Reply r = c_->call("org.bluez", kStream, kChar, "AcquireWrite", [](sd_bus_message* m) { appendOffset(m, 0); });
  ASSERT_TRUE(r.ok()) << r.errorName;
  int fd = -1;
  std::uint16_t mtu = 0;
  ASSERT_GE(sd_bus_message_read(r.message, "hq", &fd, &mtu), 0);
  const int own = ::dup(fd);
  r = Reply();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(::send(own, "abcd", 4, 0), 4);
  EXPECT_EQ(write(kStream, {1}).errorMessage, "Write acquired");
  const Address cam = *Address::parse(kCamAddress);
  EXPECT_TRUE(c_->waitFor([&] {
    return onLoop([&] {
      auto* p = sim_->air().find(cam);
      return p != nullptr && p->characteristic(0x0013)->model->writes() >= 5;
    });
  }));
  ::close(own);
}

TEST_F(Gatt, RefusesCccWritesThroughDescriptors) {
  const std::string ccc = kStatus + "/desc0010";
  Reply r = c_->call("org.bluez", ccc, "org.bluez.GattDescriptor1", "WriteValue",
                     [](sd_bus_message* m) { appendWrite(m, {1, 0}, "command"); });
  EXPECT_EQ(r.errorName, "org.bluez.Error.NotPermitted");
  const std::string userDescription = kControl + "/desc000d";
  Reply d = c_->call("org.bluez", userDescription, "org.bluez.GattDescriptor1", "ReadValue",
                     [](sd_bus_message* m) { appendOffset(m, 0); });
  ASSERT_TRUE(d.ok());
  const auto text = bytesOf(d.message);
  EXPECT_EQ(std::string(text.begin(), text.begin() + 13), "Control point");
}

TEST_F(Gatt, SubscribesWhileDisconnectedAndNotifiesOnTheNextConnection) {
  onLoop([&] { sim_->setNotificationInterval(absl::Milliseconds(10)); });
  ASSERT_TRUE(c_->call("org.bluez", kCamPath, "org.bluez.Device1", "Disconnect").ok());
  ASSERT_TRUE(c_->waitFor([&] { return c_->getBool(kCamPath, "org.bluez.Device1", "Connected") == false; }));
  EXPECT_EQ(read(kStatus).errorMessage, "Not connected");
  EXPECT_TRUE(c_->call("org.bluez", kStatus, kChar, "StartNotify").ok());  // success at once
  EXPECT_EQ(c_->call("org.bluez", kStatus, kChar, "StartNotify").errorName, "org.bluez.Error.InProgress");
  const int from = static_cast<int>(c_->events().size());
  ASSERT_TRUE(connect(*c_, kCamPath));
  EXPECT_TRUE(c_->waitFor([&] { return valueSignals(kStatus, from) >= 3; }));
}

}  // namespace
}  // namespace gattway::testing
