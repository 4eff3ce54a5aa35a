// The simulated BlueZ as a peripheral host: an application registers its GATT objects and an
// advertisement (exported here with sdbus-c++ on the gateway's own loop connection, as the gateway
// will), and a simulated remote central uses them: long reads, writes, ATT errors mapped from the
// application's D-Bus errors, notifications, and cleanup when the application leaves the bus.
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ble/dbus/connection.h"
#include "ble/sim/hosted_app.h"
#include "ble/sim/remote_central.h"
#include "gtest/gtest.h"
#include "sdbus-c++/sdbus-c++.h"
#include "tests/support/sim_fixture.h"

namespace gattway::testing {
namespace {

constexpr char kServiceUuid[] = "12345678-1234-5678-1234-56789abc0000";
constexpr char kCharUuid[] = "12345678-1234-5678-1234-56789abc0001";
constexpr char kStreamUuid[] = "12345678-1234-5678-1234-56789abc0002";  // notifies through AcquireNotify
constexpr char kChar[] = "org.bluez.GattCharacteristic1";
constexpr char kCentralAddress[] = "4A:11:22:33:44:55";

// A peripheral application on its own connection and loop thread.
class App {
 public:
  explicit App(const std::string& address) : thread_("test-app") {
    auto c = dbus::openBus(address);
    conn_ = std::make_unique<dbus::LoopConnection>(thread_.loop(), std::move(*c));
    thread_.runSync([&] { build(); });
  }
  ~App() { close(); }
  void close() {
    if (conn_ == nullptr) return;
    thread_.runSync([&] {
      if (notifyFd_ >= 0) ::close(notifyFd_);
      notifyFd_ = -1;
      stream_.reset();
      adv_.reset();
      chr_.reset();
      svc_.reset();
      root_.reset();
      proxy_.reset();
      conn_.reset();
    });
  }

  // Calls a manager method from the application's own connection, asynchronously (a blocking call
  // would deadlock: bluetoothd calls back into the application before answering).
  std::string registerOn(const char* iface, const char* member, const std::string& path,
                         const char* adapterPath = kAdapterPath) {
    std::promise<std::string> done;
    thread_.runSync([&] {
      proxy_ = sdbus::createProxy(conn_->get(), "org.bluez", adapterPath);
      auto call = proxy_->createMethodCall(iface, member);
      call << sdbus::ObjectPath(path) << std::map<std::string, sdbus::Variant>{};
      proxy_->callMethod(call, [&done](sdbus::MethodReply&, const sdbus::Error* e) {
        done.set_value(e == nullptr ? "" : e->getName() + ": " + e->getMessage());
      });
    });
    auto f = done.get_future();
    if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return "timeout";
    return f.get();
  }

  std::string unregisterAdvertisement(const std::string& path) {
    std::promise<std::string> done;
    thread_.runSync([&] {
      proxy_ = sdbus::createProxy(conn_->get(), "org.bluez", kAdapterPath);
      auto call = proxy_->createMethodCall("org.bluez.LEAdvertisingManager1", "UnregisterAdvertisement");
      call << sdbus::ObjectPath(path);
      proxy_->callMethod(call, [&done](sdbus::MethodReply&, const sdbus::Error* e) {
        done.set_value(e == nullptr ? "" : e->getName() + ": " + e->getMessage());
      });
    });
    auto f = done.get_future();
    if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return "timeout";
    return f.get();
  }

  void notify(const std::vector<std::uint8_t>& v) {
    thread_.runSync([&] {
      value_ = v;
      chr_->emitPropertiesChangedSignal(kChar, {"Value"});
    });
  }

  // Writes one packet to the acquired notification socket; false until BlueZ acquired it.
  bool notifyAcquired(const std::vector<std::uint8_t>& v) {
    bool sent = false;
    thread_.runSync([&] { sent = notifyFd_ >= 0 && ::send(notifyFd_, v.data(), v.size(), 0) > 0; });
    return sent;
  }

  std::vector<std::uint16_t> offsetsRead() {
    std::vector<std::uint16_t> out;
    thread_.runSync([&] { out = offsets_; });
    return out;
  }
  int startNotifyCalls() {
    int n = 0;
    thread_.runSync([&] { n = startNotify_; });
    return n;
  }
  int confirmCalls() {
    int n = 0;
    thread_.runSync([&] { n = confirms_; });
    return n;
  }
  int releaseCalls() {
    int n = 0;
    thread_.runSync([&] { n = releases_; });
    return n;
  }
  std::string lastDevice() {
    std::string d;
    thread_.runSync([&] { d = device_; });
    return d;
  }

 private:
  void build() {
    root_ = sdbus::createObject(conn_->get(), "/app");
    root_->addObjectManager();
    root_->finishRegistration();

    svc_ = sdbus::createObject(conn_->get(), "/app/service0");
    svc_->registerProperty("UUID").onInterface("org.bluez.GattService1").withGetter([] { return std::string(kServiceUuid); });
    svc_->registerProperty("Primary").onInterface("org.bluez.GattService1").withGetter([] { return true; });
    svc_->finishRegistration();

    for (std::size_t i = 0; i < 300; ++i) long_.push_back(static_cast<std::uint8_t>(i));
    chr_ = sdbus::createObject(conn_->get(), "/app/service0/char0");
    chr_->registerProperty("UUID").onInterface(kChar).withGetter([] { return std::string(kCharUuid); });
    chr_->registerProperty("Service").onInterface(kChar).withGetter([] { return sdbus::ObjectPath("/app/service0"); });
    chr_->registerProperty("Flags").onInterface(kChar).withGetter([] {
      return std::vector<std::string>{"read", "write", "notify", "indicate"};
    });
    chr_->registerProperty("Value").onInterface(kChar).withGetter([this] { return value_; });
    chr_->registerMethod(kChar, "ReadValue", "a{sv}", "ay", [this](sdbus::MethodCall call) {
      std::map<std::string, sdbus::Variant> opts;
      call >> opts;
      // The application applies the offset itself (BlueZ sends the bytes as they come).
      const std::uint16_t offset = opts.contains("offset") ? opts["offset"].get<std::uint16_t>() : 0;
      offsets_.push_back(offset);
      device_ = opts["device"].get<sdbus::ObjectPath>();
      auto reply = call.createReply();
      reply << std::vector<std::uint8_t>(long_.begin() + std::min<std::size_t>(offset, long_.size()), long_.end());
      reply.send();
    });
    chr_->registerMethod(kChar, "WriteValue", "aya{sv}", "", [this](sdbus::MethodCall call) {
      std::vector<std::uint8_t> v;
      call >> v;
      if (!v.empty() && v[0] == 0xFF) throw sdbus::Error("org.bluez.Error.Failed", "0x81");
      if (!v.empty() && v[0] == 0xFE) throw sdbus::Error("org.bluez.Error.NotAuthorized", "no");
      call.createReply().send();
    });
    chr_->registerMethod(kChar, "StartNotify", "", "", [this](sdbus::MethodCall call) {
      ++startNotify_;
      call.createReply().send();
    });
    chr_->registerMethod(kChar, "StopNotify", "", "", [](sdbus::MethodCall call) { call.createReply().send(); });
    chr_->registerMethod(kChar, "Confirm", "", "", [this](sdbus::MethodCall call) {
      ++confirms_;
      call.createReply().send();
    });
    chr_->finishRegistration();

    // A characteristic with NotifyAcquired: BlueZ asks for a socket instead of calling StartNotify.
    stream_ = sdbus::createObject(conn_->get(), "/app/service0/char1");
    stream_->registerProperty("UUID").onInterface(kChar).withGetter([] { return std::string(kStreamUuid); });
    stream_->registerProperty("Service").onInterface(kChar).withGetter([] { return sdbus::ObjectPath("/app/service0"); });
    stream_->registerProperty("Flags").onInterface(kChar).withGetter([] { return std::vector<std::string>{"notify"}; });
    stream_->registerProperty("NotifyAcquired").onInterface(kChar).withGetter([this] { return notifyFd_ >= 0; });
    stream_->registerMethod(kChar, "AcquireNotify", "a{sv}", "hq", [this](sdbus::MethodCall call) {
      int fds[2];
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
      notifyFd_ = fds[0];
      auto reply = call.createReply();
      reply << sdbus::UnixFd(fds[1], sdbus::adopt_fd) << std::uint16_t{247};
      reply.send();
    });
    stream_->finishRegistration();

    adv_ = sdbus::createObject(conn_->get(), "/app/adv0");
    const char* ad = "org.bluez.LEAdvertisement1";
    adv_->registerProperty("Type").onInterface(ad).withGetter([] { return std::string("peripheral"); });
    adv_->registerProperty("ServiceUUIDs").onInterface(ad).withGetter([] {
      return std::vector<std::string>{kServiceUuid};
    });
    adv_->registerProperty("LocalName").onInterface(ad).withGetter([] { return std::string("gw-test"); });
    adv_->registerMethod(ad, "Release", "", "", [this](sdbus::MethodCall call) {
      ++releases_;
      call.createReply().send();
    });
    adv_->finishRegistration();
  }

  LoopThread thread_;
  std::unique_ptr<dbus::LoopConnection> conn_;
  std::unique_ptr<sdbus::IObject> root_, svc_, chr_, stream_, adv_;
  int notifyFd_ = -1;
  std::unique_ptr<sdbus::IProxy> proxy_;
  std::vector<std::uint8_t> value_{0x00};
  std::vector<std::uint8_t> long_;
  std::vector<std::uint16_t> offsets_;
  std::string device_;
  int startNotify_ = 0;
  int confirms_ = 0;
  int releases_ = 0;
};

class APeripheralHost : public SimFixture {
 protected:
  void SetUp() override {
    startSim();
    app_ = std::make_unique<App>(bus_.address());
    ASSERT_EQ(app_->registerOn("org.bluez.GattManager1", "RegisterApplication", "/app"), "");
  }
  void TearDown() override { app_.reset(); }

  std::string connectCentral() {
    auto id = onLoop([&] { return sim_->connectCentral("hci0", *Address::parse(kCentralAddress)); });
    return id.ok() ? *id : std::string(id.status().message());
  }
  std::pair<std::uint8_t, sim::Bytes> centralRead(const std::string& id, std::uint16_t offset = 0) {
    std::promise<std::pair<std::uint8_t, sim::Bytes>> done;
    onLoop([&] {
      sim_->central(id)->read(kCharUuid, offset, [&done](std::uint8_t att, sim::Bytes v) {
        done.set_value({att, std::move(v)});
      });
    });
    auto f = done.get_future();
    f.wait_for(std::chrono::seconds(5));
    return f.get();
  }
  std::uint8_t centralWrite(const std::string& id, sim::Bytes v, bool withResponse = true) {
    std::promise<std::uint8_t> done;
    onLoop([&] {
      sim_->central(id)->write(kCharUuid, std::move(v), withResponse, [&done](std::uint8_t att) { done.set_value(att); });
    });
    auto f = done.get_future();
    f.wait_for(std::chrono::seconds(5));
    return f.get();
  }

  std::unique_ptr<App> app_;
};

TEST_F(APeripheralHost, NeedsAConnectableAdvertisementBeforeACentralCanConnect) {
  EXPECT_NE(connectCentral().find("no connectable advertisement"), std::string::npos);
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  auto c = client();
  EXPECT_EQ(c->getInt(kAdapterPath, "org.bluez.LEAdvertisingManager1", "ActiveInstances"), 1);
  EXPECT_EQ(c->getInt(kAdapterPath, "org.bluez.LEAdvertisingManager1", "SupportedInstances"), 4);
  EXPECT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"),
            "org.bluez.Error.AlreadyExists: Already Exists");
  const std::string id = connectCentral();
  EXPECT_EQ(id, "central-1");
  // The central appears as a connected Device1, as a real one does.
  const std::string path = "/org/bluez/hci0/dev_4A_11_22_33_44_55";
  EXPECT_EQ(c->getBool(path, "org.bluez.Device1", "Connected"), true);
}

TEST_F(APeripheralHost, ServesLongReadsThroughTheApplicationWithOffsets) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  const std::string id = connectCentral();
  auto [att, value] = centralRead(id);
  EXPECT_EQ(att, 0);
  ASSERT_EQ(value.size(), 300u);
  EXPECT_EQ(value[299], 299 & 0xFF);
  // Read, then Read Blob at MTU-1 (246) until a short answer.
  EXPECT_EQ(app_->offsetsRead(), (std::vector<std::uint16_t>{0, 246}));
  EXPECT_EQ(app_->lastDevice(), "/org/bluez/hci0/dev_4A_11_22_33_44_55");
}

TEST_F(APeripheralHost, MapsTheApplicationsErrorsToAttCodes) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  const std::string id = connectCentral();
  EXPECT_EQ(centralWrite(id, {0x01, 0x02}), 0);
  EXPECT_EQ(centralWrite(id, {0xFF}), 0x81);  // Failed "0x81": that application error
  EXPECT_EQ(centralWrite(id, {0xFE}), 0x08);  // NotAuthorized: Insufficient Authorization
  EXPECT_EQ(centralWrite(id, sim::Bytes(400, 1)), 0);  // a prepared (long) write
  // Flags without read or write: bluetoothd answers itself, the application is never asked.
  std::uint8_t readAtt = 0, writeAtt = 0;
  onLoop([&] {
    sim_->central(id)->read(kStreamUuid, 0, [&](std::uint8_t att, sim::Bytes) { readAtt = att; });
    sim_->central(id)->write(kStreamUuid, {0x01}, true, [&](std::uint8_t att) { writeAtt = att; });
  });
  EXPECT_EQ(readAtt, 0x02);   // Read Not Permitted
  EXPECT_EQ(writeAtt, 0x03);  // Write Not Permitted
}

TEST_F(APeripheralHost, DeliversTheApplicationsNotificationsToSubscribedCentrals) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  const std::string id = connectCentral();
  EXPECT_EQ(onLoop([&] { return sim_->central(id)->subscribe(kStreamUuid, true); }), 0xFD);  // no indicate
  EXPECT_EQ(onLoop([&] { return sim_->central(id)->subscribe(kCharUuid, false); }), 0);
  auto c = client();
  ASSERT_TRUE(c->waitFor([&] { return app_->startNotifyCalls() == 1; }));
  for (std::uint8_t i = 1; i <= 3; ++i) app_->notify({i, i});
  ASSERT_TRUE(c->waitFor([&] {
    return onLoop([&] { return sim_->central(id)->received(kCharUuid).count; }) == 3;
  }));
  EXPECT_EQ(onLoop([&] { return sim_->central(id)->received(kCharUuid).last; }), (sim::Bytes{3, 3}));
}

TEST_F(APeripheralHost, PassesEachCentralsIndicationConfirmationToTheApplication) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  const std::string indicated = connectCentral();
  auto other = onLoop([&] { return sim_->connectCentral("hci0", *Address::parse("4A:11:22:33:44:66")); });
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(onLoop([&] { return sim_->central(indicated)->subscribe(kCharUuid, true); }), 0);
  EXPECT_EQ(onLoop([&] { return sim_->central(*other)->subscribe(kCharUuid, false); }), 0);
  auto c = client();
  ASSERT_TRUE(c->waitFor([&] { return app_->startNotifyCalls() == 2; }));
  app_->notify({0x07});
  app_->notify({0x08});
  auto received = [&](const std::string& id) {
    return onLoop([&] { return sim_->central(id)->received(kCharUuid); });
  };
  ASSERT_TRUE(c->waitFor([&] { return received(*other).count == 2 && app_->confirmCalls() == 2; }));
  EXPECT_EQ(received(indicated).count, 2u);
  EXPECT_EQ(received(indicated).confirmed, 2u);
  EXPECT_EQ(received(*other).confirmed, 0u);  // notifications are never confirmed
  EXPECT_EQ(app_->confirmCalls(), 2);  // one per indication to the one indicating central
}

TEST_F(APeripheralHost, TakesNotificationsFromAnAcquiredSocketWhenTheApplicationOffersOne) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  const std::string id = connectCentral();
  EXPECT_EQ(onLoop([&] { return sim_->central(id)->subscribe(kStreamUuid, false); }), 0);
  auto c = client();
  ASSERT_TRUE(c->waitFor([&] { return app_->notifyAcquired({0x01}); }));  // BlueZ called AcquireNotify
  EXPECT_TRUE(app_->notifyAcquired({0x02, 0x02}));
  EXPECT_TRUE(c->waitFor([&] {
    return onLoop([&] { return sim_->central(id)->received(kStreamUuid).count; }) == 2;
  }));
  EXPECT_EQ(app_->startNotifyCalls(), 0);  // no StartNotify for an acquired characteristic
}

TEST_F(APeripheralHost, DropsTheApplicationAndItsAdvertisementWhenTheOwnerLeaves) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  auto c = client();
  auto uuids = [&] {
    Reply r = c->call("org.bluez", kAdapterPath, "org.freedesktop.DBus.Properties", "Get",
                      [](sd_bus_message* m) { sd_bus_message_append(m, "ss", "org.bluez.Adapter1", "UUIDs"); });
    std::string all;
    const char* u = nullptr;
    sd_bus_message_enter_container(r.message, 'v', "as");
    sd_bus_message_enter_container(r.message, 'a', "s");
    while (sd_bus_message_read(r.message, "s", &u) > 0) all += u;
    return all;
  };
  EXPECT_NE(uuids().find(kServiceUuid), std::string::npos);
  app_->close();
  EXPECT_TRUE(c->waitFor([&] { return uuids().find(kServiceUuid) == std::string::npos; }));
  EXPECT_TRUE(c->waitFor([&] {
    return c->getInt(kAdapterPath, "org.bluez.LEAdvertisingManager1", "ActiveInstances") == 0;
  }));
}

TEST_F(APeripheralHost, KeepsAnAdvertisementRegisteredButOffTheAirAfterItsAdapterIsPoweredOffAndOn) {
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  auto c = client();
  auto powered = [&] { return c->getBool(kAdapterPath, "org.bluez.Adapter1", "Powered"); };
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", false).ok(); }));
  ASSERT_TRUE(c->waitFor([&] { return powered() == false; }));
  ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", true).ok(); }));
  ASSERT_TRUE(c->waitFor([&] { return powered() == true; }));
  // As 5.66 on Linux 6.1 (extended advertising): the kernel dropped the instance at power-off and
  // bluetoothd did not notice; the registration stays, without Release() ...
  EXPECT_EQ(c->getInt(kAdapterPath, "org.bluez.LEAdvertisingManager1", "ActiveInstances"), 1);
  EXPECT_EQ(app_->releaseCalls(), 0);
  // ... and nothing is on the air.
  EXPECT_NE(connectCentral().find("no connectable advertisement"), std::string::npos);
  // Registering it again puts it back.
  ASSERT_EQ(app_->unregisterAdvertisement("/app/adv0"), "");
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0"), "");
  EXPECT_EQ(connectCentral(), "central-1");
  EXPECT_EQ(app_->releaseCalls(), 0);
}

TEST_F(APeripheralHost, RefusesAnApplicationWithoutServices) {
  auto c = client();
  // Async, so this client answers bluetoothd's GetManagedObjects (with UnknownObject: it exports
  // nothing), which 5.66 reports as "No object received".
  c->callAsync("org.bluez", kAdapterPath, "org.bluez.GattManager1", "RegisterApplication",
               [](sd_bus_message* m) { sd_bus_message_append(m, "oa{sv}", "/nothing/here", 0); });
  ASSERT_TRUE(c->waitFor([&] { return c->find([](const BusEvent& e) { return e.kind != BusEvent::kSignal; }) >= 0; }));
  const auto& e = c->events()[static_cast<std::size_t>(c->find([](const BusEvent& x) { return x.kind != BusEvent::kSignal; }))];
  EXPECT_EQ(e.errorName, "org.bluez.Error.Failed");
  EXPECT_EQ(e.errorMessage, "No object received");
  Reply u = c->call("org.bluez", kAdapterPath, "org.bluez.GattManager1", "UnregisterApplication",
                    [](sd_bus_message* m) { sd_bus_message_append(m, "o", "/app"); });
  EXPECT_EQ(u.errorName, "org.bluez.Error.DoesNotExist");  // registered by another client
}

// The air carries a hosted advertisement: with two adapters, hci0 discovers the application's
// advertisement on hci1 as a device, connects, and uses the application's GATT objects through
// hci0's own Device and GattCharacteristic1 objects (ble/sim/hosted_air.h).
class AHostedAdvertisementOnTheAir : public APeripheralHost {
 protected:
  void SetUp() override {
    sim::SimOptions o = fastOptions();
    o.adapters = 2;
    startSim(o);
    app_ = std::make_unique<App>(bus_.address());
    ASSERT_EQ(app_->registerOn("org.bluez.GattManager1", "RegisterApplication", "/app", "/org/bluez/hci1"), "");
    hci0_ = onLoop([&] { return sim_->adapter("hci0")->address(); });
    hci1_ = onLoop([&] { return sim_->adapter("hci1")->address(); });
    devicePath_ = absl::StrCat(kAdapterPath, "/dev_", absl::StrReplaceAll(hci1_.toString(), {{":", "_"}}));
  }
  Address hci0_, hci1_;
  std::string devicePath_;
};

TEST_F(AHostedAdvertisementOnTheAir, IsFoundByAnotherAdaptersDiscoveryAndServesItsApplicationsGatt) {
  auto c = client();
  ASSERT_EQ(app_->registerOn("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "/app/adv0",
                             "/org/bluez/hci1"), "");
  ASSERT_TRUE(discover(*c, devicePath_));
  EXPECT_EQ(c->getString(devicePath_, "org.bluez.Device1", "Name"), "gw-test");
  ASSERT_TRUE(connect(*c, devicePath_));
  // The application's first service follows GAP and GATT, as a fleet device's does.
  const std::string chr = devicePath_ + "/service000a/char000b";
  ASSERT_TRUE(c->managedObjects().contains(chr));
  EXPECT_EQ(c->getString(chr, kChar, "UUID"), kCharUuid);
  // hci1 sees hci0 as a connected central.
  const std::string central = absl::StrCat("/org/bluez/hci1/dev_", absl::StrReplaceAll(hci0_.toString(), {{":", "_"}}));
  EXPECT_EQ(c->getBool(central, "org.bluez.Device1", "Connected"), true);

  Reply r = c->call("org.bluez", chr, kChar, "ReadValue", [](sd_bus_message* m) {
    sd_bus_message_append(m, "a{sv}", 0);
  });
  ASSERT_TRUE(r.ok()) << r.errorName << " " << r.errorMessage;
  const void* data = nullptr;
  std::size_t size = 0;
  sd_bus_message_read_array(r.message, 'y', &data, &size);
  ASSERT_EQ(size, 300u);  // a long read, through the application's ReadValue
  EXPECT_EQ(app_->offsetsRead(), (std::vector<std::uint16_t>{0, 246}));
  EXPECT_EQ(app_->lastDevice(), central);

  Reply w = c->call("org.bluez", chr, kChar, "WriteValue", [](sd_bus_message* m) {
    const std::uint8_t v[] = {0xFF};
    sd_bus_message_append_array(m, 'y', v, 1);
    sd_bus_message_append(m, "a{sv}", 0);
  });
  EXPECT_EQ(w.errorName, "org.bluez.Error.Failed");  // the application's 0x81, as BlueZ words it
  EXPECT_NE(w.errorMessage.find("0x81"), std::string::npos) << w.errorMessage;

  ASSERT_TRUE(c->call("org.bluez", chr, kChar, "StartNotify").ok());
  ASSERT_TRUE(c->waitFor([&] { return app_->startNotifyCalls() == 1; }));
  const std::size_t from = c->events().size();
  app_->notify({0x2A, 0x2B});
  EXPECT_TRUE(c->waitFor([&] {
    return c->find([&](const BusEvent& e) { return e.path == chr && e.values.contains("Value"); },
                   static_cast<int>(from)) >= 0;
  }));

  // The advertisement goes: hci0 loses the link, hci1 its central.
  app_->close();
  EXPECT_TRUE(c->waitFor([&] { return c->getBool(devicePath_, "org.bluez.Device1", "Connected") == false; }));
}

}  // namespace
}  // namespace gattway::testing
