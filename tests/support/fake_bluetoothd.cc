#include "tests/support/fake_bluetoothd.h"

#include <condition_variable>
#include <future>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ble/dbus/message_bytes.h"
#include "sdbus-c++/sdbus-c++.h"

namespace gattway::testing {
namespace {
constexpr const char* kApplicationIfaces[] = {"org.bluez.GattService1",
                                              "org.bluez.GattCharacteristic1",
                                              "org.bluez.GattDescriptor1"};
using Objects =
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>;
}  // namespace

struct FakeBluetoothd::State {
  Options options;
  LoopThread loop{"fake-bluetoothd"};
  std::unique_ptr<dbus::LoopConnection> conn;
  std::unique_ptr<sdbus::IObject> root;
  std::vector<std::unique_ptr<sdbus::IObject>> adapters;
  struct Device {
    std::unique_ptr<sdbus::IObject> object;
    bool connected = false;
  };
  std::map<std::string, Device> devices;  // loop thread
  std::vector<std::unique_ptr<sdbus::IProxy>> proxies;  // kept for the test's life
  std::optional<sdbus::Slot> valueMatch;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::vector<Attribute> application;  // guarded by mu
  std::string appOwner, appPath, appAdapter;
  std::map<std::string, Advertisement> adverts;  // by path
  std::map<std::string, std::string> advertOwner;
  std::map<std::string, std::vector<std::vector<std::uint8_t>>> values;

  sdbus::IConnection& bus() { return conn->get(); }

  std::string devicePath(const std::string& adapter, const std::string& address) {
    return absl::StrCat("/org/bluez/", adapter, "/dev_", absl::StrReplaceAll(address, {{":", "_"}}));
  }

  void registerApplication(const std::string& adapter, sdbus::MethodCall call) {
    sdbus::ObjectPath path;
    call >> path;
    const std::string sender = call.getSender();
    auto proxy = sdbus::createProxy(bus(), sender, path);
    auto m = proxy->createMethodCall("org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
    proxy->callMethod(
        m,
        [this, call, sender, path, adapter](sdbus::MethodReply& reply, const sdbus::Error* e) {
          if (e != nullptr) {
            call.createErrorReply(sdbus::Error("org.bluez.Error.Failed", "No object received")).send();
            return;
          }
          Objects objects;
          reply >> objects;
          std::vector<Attribute> attrs;
          bool service = false;
          for (auto& [p, ifaces] : objects) {
            for (auto& [iface, props] : ifaces) {
              bool known = false;
              for (const char* k : kApplicationIfaces) known = known || iface == k;
              if (!known) continue;
              Attribute a;
              a.path = p;
              a.interface = iface;
              a.uuid = props["UUID"].get<std::string>();
              if (props.contains("Flags")) a.flags = props["Flags"].get<std::vector<std::string>>();
              if (props.contains("Service")) a.parent = props["Service"].get<sdbus::ObjectPath>();
              if (props.contains("Characteristic")) {
                a.parent = props["Characteristic"].get<sdbus::ObjectPath>();
              }
              if (props.contains("Primary")) a.primary = props["Primary"].get<bool>();
              service = service || iface == "org.bluez.GattService1";
              attrs.push_back(std::move(a));
            }
          }
          if (!service) {
            call.createErrorReply(
                    sdbus::Error("org.bluez.Error.Failed", "No valid service object found"))
                .send();
            return;
          }
          valueMatch = bus().addMatch(
              absl::StrCat("type='signal',sender='", sender,
                           "',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'"),
              [this](sdbus::Message& sig) {
                std::string iface;
                sig >> iface;
                if (iface != "org.bluez.GattCharacteristic1") return;
                std::map<std::string, sdbus::Variant> changed;
                sig >> changed;
                auto it = changed.find("Value");
                if (it == changed.end()) return;
                std::lock_guard lock(mu);
                values[sig.getPath()].push_back(it->second.get<std::vector<std::uint8_t>>());
                cv.notify_all();
              });
          {
            std::lock_guard lock(mu);
            application = std::move(attrs);
            appOwner = sender;
            appPath = path;
            appAdapter = adapter;
            cv.notify_all();
          }
          call.createReply().send();
        },
        5'000'000);
    proxies.push_back(std::move(proxy));
  }

  void registerAdvertisement(sdbus::MethodCall call) {
    sdbus::ObjectPath path;
    call >> path;
    {
      std::lock_guard lock(mu);
      if (adverts.size() >= options.advertisingSlots) {
        call.createErrorReply(
                sdbus::Error("org.bluez.Error.NotPermitted", "Maximum advertisements reached"))
            .send();
        return;
      }
    }
    const std::string sender = call.getSender();
    auto proxy = sdbus::createProxy(bus(), sender, path);
    auto m = proxy->createMethodCall("org.freedesktop.DBus.Properties", "GetAll");
    m << std::string("org.bluez.LEAdvertisement1");
    proxy->callMethod(
        m,
        [this, call, sender, path](sdbus::MethodReply& reply, const sdbus::Error* e) {
          if (e != nullptr) {
            call.createErrorReply(
                    sdbus::Error("org.bluez.Error.Failed", "Failed to parse advertisement."))
                .send();
            return;
          }
          std::map<std::string, sdbus::Variant> p;
          reply >> p;
          Advertisement a;
          a.path = path;
          if (p.contains("Type")) a.type = p["Type"].get<std::string>();
          if (p.contains("LocalName")) a.localName = p["LocalName"].get<std::string>();
          if (p.contains("ServiceUUIDs")) a.serviceUuids = p["ServiceUUIDs"].get<std::vector<std::string>>();
          if (p.contains("SolicitUUIDs")) a.solicitUuids = p["SolicitUUIDs"].get<std::vector<std::string>>();
          if (p.contains("Includes")) a.includes = p["Includes"].get<std::vector<std::string>>();
          if (p.contains("ManufacturerData")) {
            for (auto& [k, v] : p["ManufacturerData"].get<std::map<std::uint16_t, sdbus::Variant>>()) {
              a.manufacturerData[k] = v.get<std::vector<std::uint8_t>>();
            }
          }
          if (p.contains("ServiceData")) {
            for (auto& [k, v] : p["ServiceData"].get<std::map<std::string, sdbus::Variant>>()) {
              a.serviceData[k] = v.get<std::vector<std::uint8_t>>();
            }
          }
          if (p.contains("Appearance")) a.appearance = p["Appearance"].get<std::uint16_t>();
          if (p.contains("Timeout")) a.timeout = p["Timeout"].get<std::uint16_t>();
          if (p.contains("Discoverable")) a.discoverable = p["Discoverable"].get<bool>();
          if (p.contains("DiscoverableTimeout")) {
            a.discoverableTimeout = p["DiscoverableTimeout"].get<std::uint16_t>();
          }
          if (p.contains("MinInterval")) a.minInterval = p["MinInterval"].get<std::uint32_t>();
          if (p.contains("MaxInterval")) a.maxInterval = p["MaxInterval"].get<std::uint32_t>();
          if (p.contains("TxPower")) a.txPower = p["TxPower"].get<std::int16_t>();
          {
            std::lock_guard lock(mu);
            adverts[path] = std::move(a);
            advertOwner[path] = sender;
            cv.notify_all();
          }
          call.createReply().send();
        },
        5'000'000);
    proxies.push_back(std::move(proxy));
  }

  void buildAdapters() {
    root = sdbus::createObject(bus(), "/");
    root->addObjectManager();
    root->finishRegistration();
    for (std::size_t i = 0; i < options.adapters.size(); ++i) {
      const std::string name = options.adapters[i];
      auto a = sdbus::createObject(bus(), absl::StrCat("/org/bluez/", name));
      const std::string address = absl::StrCat("00:AA:01:0", i, ":00:0", i);
      a->registerProperty("org.bluez.Adapter1", "Address", "s",
                          [address](sdbus::PropertyGetReply& r) { r << address; });
      a->registerProperty("org.bluez.Adapter1", "Powered", "b",
                          [](sdbus::PropertyGetReply& r) { r << true; });
      a->registerMethod("org.bluez.GattManager1", "RegisterApplication", "oa{sv}", "",
                        [this, name](sdbus::MethodCall call) { registerApplication(name, call); });
      a->registerMethod("org.bluez.GattManager1", "UnregisterApplication", "o", "",
                        [this](sdbus::MethodCall call) {
                          sdbus::ObjectPath path;
                          call >> path;
                          std::lock_guard lock(mu);
                          if (path != appPath || call.getSender() != appOwner) {
                            call.createErrorReply(
                                    sdbus::Error("org.bluez.Error.DoesNotExist", "Does Not Exist"))
                                .send();
                            return;
                          }
                          application.clear();
                          appPath.clear();
                          call.createReply().send();
                        });
      a->registerMethod("org.bluez.LEAdvertisingManager1", "RegisterAdvertisement", "oa{sv}", "",
                        [this](sdbus::MethodCall call) { registerAdvertisement(call); });
      a->registerMethod("org.bluez.LEAdvertisingManager1", "UnregisterAdvertisement", "o", "",
                        [this](sdbus::MethodCall call) {
                          sdbus::ObjectPath path;
                          call >> path;
                          std::lock_guard lock(mu);
                          if (adverts.erase(path) == 0) {
                            call.createErrorReply(
                                    sdbus::Error("org.bluez.Error.DoesNotExist", "Does Not Exist"))
                                .send();
                            return;
                          }
                          call.createReply().send();
                        });
      a->registerProperty("org.bluez.LEAdvertisingManager1", "SupportedInstances", "y",
                          [this](sdbus::PropertyGetReply& r) {
                            std::lock_guard lock(mu);
                            r << static_cast<std::uint8_t>(options.advertisingSlots - adverts.size());
                          });
      a->registerProperty("org.bluez.LEAdvertisingManager1", "SupportedIncludes", "as",
                          [](sdbus::PropertyGetReply& r) {
                            r << std::vector<std::string>{"tx-power", "appearance", "local-name"};
                          });
      if (options.experimental) {
        a->registerProperty("org.bluez.LEAdvertisingManager1", "SupportedFeatures", "as",
                            [](sdbus::PropertyGetReply& r) {
                              r << std::vector<std::string>{"CanSetTxPower"};
                            });
      }
      a->finishRegistration();
      adapters.push_back(std::move(a));
    }
  }

  template <typename Fn>
  CallResult call(Fn build, bool noReply) {
    std::promise<CallResult> result;
    loop.loop().post([&] {
      try {
        std::string owner;
        {
          std::lock_guard lock(mu);
          owner = appOwner;
        }
        auto [proxy, m] = build(owner);
        if (noReply) {
          m.dontExpectReply();
          proxy->callMethod(m);
          proxies.push_back(std::move(proxy));
          result.set_value({});
          return;
        }
        proxy->callMethod(
            m,
            [&result](sdbus::MethodReply& reply, const sdbus::Error* e) {
              CallResult r;
              if (e != nullptr) {
                r.error = e->getName();
                r.message = e->getMessage();
              } else {
                dbus::readBytes(reply, r.value);
              }
              result.set_value(std::move(r));
            },
            30'000'000);
        proxies.push_back(std::move(proxy));
      } catch (const sdbus::Error& e) {
        result.set_value({e.getName(), e.getMessage(), {}});
      }
    });
    auto f = result.get_future();
    if (f.wait_for(std::chrono::seconds(35)) != std::future_status::ready) {
      return {"test.Timeout", "no answer", {}};
    }
    return f.get();
  }

  std::string interfaceOf(const std::string& path) {
    std::lock_guard lock(mu);
    for (const auto& a : application) {
      if (a.path == path) return a.interface;
    }
    return "org.bluez.GattCharacteristic1";
  }

  std::map<std::string, sdbus::Variant> requestOptions(const std::string& central, std::uint16_t offset,
                                                std::uint16_t mtu) {
    std::map<std::string, sdbus::Variant> o;
    std::string adapter;
    {
      std::lock_guard lock(mu);
      adapter = appAdapter.empty() ? this->options.adapters.front() : appAdapter;
    }
    o["device"] = sdbus::Variant(sdbus::ObjectPath(devicePath(adapter, central)));
    if (offset != 0) o["offset"] = sdbus::Variant(offset);
    o["link"] = sdbus::Variant(std::string("LE"));
    o["mtu"] = sdbus::Variant(mtu);
    return o;
  }
};

FakeBluetoothd::FakeBluetoothd(const std::string& busAddress, Options options)
    : s_(std::make_unique<State>()) {
  s_->options = std::move(options);
  s_->loop.runSync([&] {
    auto c = dbus::openBus(busAddress);
    if (!c.ok()) return;
    (*c)->requestName("org.bluez");
    s_->conn = std::make_unique<dbus::LoopConnection>(s_->loop.loop(), std::move(*c));
    s_->buildAdapters();
  });
}

FakeBluetoothd::~FakeBluetoothd() {
  s_->loop.runSync([&] {
    s_->valueMatch.reset();
    s_->proxies.clear();
    s_->devices.clear();
    s_->adapters.clear();
    s_->root.reset();
    s_->conn.reset();
  });
}

std::vector<FakeBluetoothd::Attribute> FakeBluetoothd::application() const {
  std::lock_guard lock(s_->mu);
  return s_->application;
}

bool FakeBluetoothd::waitForApplication(absl::Duration timeout) const {
  std::unique_lock lock(s_->mu);
  return s_->cv.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                         [&] { return !s_->application.empty(); });
}

std::string FakeBluetoothd::pathOf(const std::string& uuid128, const std::string& interface) const {
  std::lock_guard lock(s_->mu);
  for (const auto& a : s_->application) {
    if (a.uuid == uuid128 && a.interface == interface) return a.path;
  }
  return "";
}

std::vector<FakeBluetoothd::Advertisement> FakeBluetoothd::advertisements() const {
  std::lock_guard lock(s_->mu);
  std::vector<Advertisement> out;
  for (const auto& [path, a] : s_->adverts) out.push_back(a);
  return out;
}

FakeBluetoothd::CallResult FakeBluetoothd::readValue(const std::string& path,
                                                     const std::string& central,
                                                     std::uint16_t offset, std::uint16_t mtu) {
  const std::string iface = s_->interfaceOf(path);
  auto opts = s_->requestOptions(central, offset, mtu);
  return s_->call(
      [&](const std::string& owner) {
        auto proxy = sdbus::createProxy(s_->bus(), owner, path);
        auto m = proxy->createMethodCall(iface, "ReadValue");
        m << opts;
        return std::make_pair(std::move(proxy), std::move(m));
      },
      false);
}

FakeBluetoothd::CallResult FakeBluetoothd::writeValue(const std::string& path,
                                                      const std::vector<std::uint8_t>& value,
                                                      const std::string& central,
                                                      std::uint16_t offset, bool noReply) {
  const std::string iface = s_->interfaceOf(path);
  auto opts = s_->requestOptions(central, offset, 517);
  return s_->call(
      [&](const std::string& owner) {
        auto proxy = sdbus::createProxy(s_->bus(), owner, path);
        auto m = proxy->createMethodCall(iface, "WriteValue");
        dbus::appendBytes(m, value);
        m << opts;
        return std::make_pair(std::move(proxy), std::move(m));
      },
      noReply);
}

void FakeBluetoothd::callNoReply(const std::string& path, const char* method) {
  s_->call(
      [&](const std::string& owner) {
        auto proxy = sdbus::createProxy(s_->bus(), owner, path);
        auto m = proxy->createMethodCall("org.bluez.GattCharacteristic1", method);
        return std::make_pair(std::move(proxy), std::move(m));
      },
      true);
}

FakeBluetoothd::CallResult FakeBluetoothd::callMethod(const std::string& path, const char* interface,
                                                      const char* method) {
  return s_->call(
      [&](const std::string& owner) {
        auto proxy = sdbus::createProxy(s_->bus(), owner, path);
        auto m = proxy->createMethodCall(interface, method);
        if (std::string(method).rfind("Acquire", 0) == 0) m << std::map<std::string, sdbus::Variant>{};
        return std::make_pair(std::move(proxy), std::move(m));
      },
      false);
}

std::vector<std::vector<std::uint8_t>> FakeBluetoothd::values(const std::string& path) const {
  std::lock_guard lock(s_->mu);
  auto it = s_->values.find(path);
  return it == s_->values.end() ? std::vector<std::vector<std::uint8_t>>{} : it->second;
}

bool FakeBluetoothd::waitForValues(const std::string& path, std::size_t count,
                                   absl::Duration timeout) const {
  std::unique_lock lock(s_->mu);
  return s_->cv.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
    auto it = s_->values.find(path);
    return it != s_->values.end() && it->second.size() >= count;
  });
}

void FakeBluetoothd::release(const std::string& advertisementPath) {
  std::string owner;
  {
    std::lock_guard lock(s_->mu);
    owner = s_->advertOwner[advertisementPath];
    s_->adverts.erase(advertisementPath);
  }
  s_->call(
      [&](const std::string&) {
        auto proxy = sdbus::createProxy(s_->bus(), owner, advertisementPath);
        auto m = proxy->createMethodCall("org.bluez.LEAdvertisement1", "Release");
        return std::make_pair(std::move(proxy), std::move(m));
      },
      true);
}

void FakeBluetoothd::connectCentral(const std::string& adapter, const std::string& address) {
  s_->loop.runSync([&] {
    const std::string path = s_->devicePath(adapter, address);
    auto& d = s_->devices[path];
    d.connected = true;
    if (d.object) {
      d.object->emitPropertiesChangedSignal("org.bluez.Device1", {"Connected"});
      return;
    }
    d.object = sdbus::createObject(s_->bus(), path);
    const sdbus::ObjectPath adapterPath(absl::StrCat("/org/bluez/", adapter));
    d.object->registerProperty("org.bluez.Device1", "Address", "s",
                               [address](sdbus::PropertyGetReply& r) { r << address; });
    d.object->registerProperty("org.bluez.Device1", "Adapter", "o",
                               [adapterPath](sdbus::PropertyGetReply& r) { r << adapterPath; });
    d.object->registerProperty("org.bluez.Device1", "Connected", "b",
                               [this, path](sdbus::PropertyGetReply& r) {
                                 r << s_->devices[path].connected;
                               });
    d.object->finishRegistration();
    d.object->emitInterfacesAddedSignal({"org.bluez.Device1"});
  });
}

void FakeBluetoothd::disconnectCentral(const std::string& adapter, const std::string& address) {
  s_->loop.runSync([&] {
    auto it = s_->devices.find(s_->devicePath(adapter, address));
    if (it == s_->devices.end()) return;
    it->second.connected = false;
    it->second.object->emitPropertiesChangedSignal("org.bluez.Device1", {"Connected"});
  });
}

void FakeBluetoothd::restart() {
  s_->loop.runSync([&] {
    s_->bus().releaseName("org.bluez");
    s_->devices.clear();
    s_->valueMatch.reset();
    {
      std::lock_guard lock(s_->mu);
      s_->application.clear();
      s_->appPath.clear();
      s_->appOwner.clear();
      s_->adverts.clear();
      s_->values.clear();
    }
    s_->bus().requestName("org.bluez");
  });
}

}  // namespace gattway::testing
