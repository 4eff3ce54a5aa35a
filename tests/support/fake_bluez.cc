#include "tests/support/fake_bluez.h"

#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <stdexcept>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/paths.h"
#include "tests/support/bluez_messages.h"
#include "tests/support/bluez_objects.h"

namespace gattway::testing {

using bluez::Bytes;
using bluez::ManagedObject;
using bluez::PropertyMap;
using bluez::PropertyValue;

namespace {
constexpr const char* kDevice = "org.bluez.Device1";
constexpr const char* kAdapter = "org.bluez.Adapter1";
constexpr const char* kCharacteristic = "org.bluez.GattCharacteristic1";
constexpr const char* kDescriptor = "org.bluez.GattDescriptor1";

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

// The fake's sd-bus, polled by its loop.
class FakeBluez::Source final : public PollSource {
 public:
  Source(EventLoop& loop, sd_bus* bus) : loop_(loop), bus_(bus) { loop_.addSource(this); }
  ~Source() override { loop_.removeSource(this); }
  Interest interest() override {
    Interest in;
    in.fd = sd_bus_get_fd(bus_);
    in.events = static_cast<short>(sd_bus_get_events(bus_));
    std::uint64_t usec = 0;
    if (sd_bus_get_timeout(bus_, &usec) >= 0 && usec != UINT64_MAX) {
      in.deadline = std::chrono::steady_clock::time_point(std::chrono::microseconds(usec));
    }
    return in;
  }
  bool dispatch(short) override {
    for (int i = 0; i < 256; ++i) {
      if (sd_bus_process(bus_, nullptr) <= 0) return false;
    }
    return true;
  }

 private:
  EventLoop& loop_;
  sd_bus* bus_;
};

struct FakeTrampoline {
  static int onMethod(sd_bus_message* m, void* userdata, sd_bus_error*) {
    return static_cast<FakeBluez*>(userdata)->onMethod(m);
  }
};

// --- Call --------------------------------------------------------------------------------------

void FakeBluez::Call::reply() {
  replyWith([](sd_bus_message*) {});
}

void FakeBluez::Call::replyError(const std::string& name, const std::string& text) {
  if (answered_ || fake_->bus_ == nullptr || sd_bus_message_get_bus(message_.get()) != fake_->bus_) {
    return;
  }
  answered_ = true;
  sd_bus_reply_method_errorf(message_.get(), name.c_str(), "%s", text.c_str());
}

void FakeBluez::Call::replyWith(const std::function<void(sd_bus_message*)>& fill) {
  if (answered_ || fake_->bus_ == nullptr || sd_bus_message_get_bus(message_.get()) != fake_->bus_) {
    return;
  }
  answered_ = true;
  sd_bus_message* r = nullptr;
  if (sd_bus_message_new_method_return(message_.get(), &r) < 0) return;
  bluez::MessagePtr reply(r);
  fill(r);
  sd_bus_send(fake_->bus_, r, nullptr);
}

// --- lifecycle ---------------------------------------------------------------------------------

FakeBluez::FakeBluez(std::string busAddress) : address_(std::move(busAddress)), thread_("fake-bluez") {}

FakeBluez::~FakeBluez() {
  thread_.runSync([this] {
    timers_.clear();
    for (auto& [path, a] : acquired_) ::close(a.fd);
    acquired_.clear();
    fallback_.reset();
    source_.reset();
    if (bus_ != nullptr) sd_bus_flush_close_unref(bus_);
    bus_ = nullptr;
  });
}

void FakeBluez::onThread(const std::function<void()>& fn) {
  if (thread_.loop().isLoopThread()) {
    fn();
  } else {
    thread_.runSync([&] { fn(); });
  }
}

void FakeBluez::run(const std::function<void()>& fn) { onThread(fn); }

void FakeBluez::after(absl::Duration delay, std::function<void()> fn) {
  onThread([&] { timers_.push_back(thread_.loop().runAfter(delay, std::move(fn))); });
}

void FakeBluez::start() {
  onThread([this] {
    if (bus_ != nullptr) return;
    if (sd_bus_new(&bus_) < 0 || sd_bus_set_address(bus_, address_.c_str()) < 0 ||
        sd_bus_set_bus_client(bus_, 1) < 0 || sd_bus_start(bus_) < 0) {
      throw std::runtime_error("fake bluez: cannot connect");
    }
    if (sd_bus_request_name(bus_, "org.bluez", 0) < 0) {
      throw std::runtime_error("fake bluez: cannot own org.bluez");
    }
    sd_bus_slot* slot = nullptr;
    sd_bus_add_fallback(bus_, &slot, "/", &FakeTrampoline::onMethod, this);
    fallback_.reset(slot);
    source_ = std::make_unique<Source>(thread_.loop(), bus_);
  });
}

void FakeBluez::crash() {
  onThread([this] {
    if (bus_ == nullptr) return;
    timers_.clear();
    fallback_.reset();
    source_.reset();
    sd_bus_flush_close_unref(bus_);
    bus_ = nullptr;
    // What a restarted bluetoothd has lost: links, sessions, sockets.
    for (auto& [path, interfaces] : objects_) {
      auto it = interfaces.find(kDevice);
      if (it == interfaces.end()) continue;
      for (auto& p : it->second) {
        if (p.name == "Connected" || p.name == "ServicesResolved") p.value = false;
      }
    }
    discovering_.clear();
    notifySessions_.clear();
    for (auto& [path, a] : acquired_) ::close(a.fd);
    acquired_.clear();
  });
}

std::string FakeBluez::uniqueName() {
  std::string name;
  onThread([&] {
    const char* unique = nullptr;
    if (bus_ != nullptr && sd_bus_get_unique_name(bus_, &unique) >= 0) name = unique;
  });
  return name;
}

// --- the object tree ---------------------------------------------------------------------------

void FakeBluez::emitSignal(const std::string& path, const std::string& interface,
                           const std::string& member,
                           const std::function<void(sd_bus_message*)>& fill) {
  if (bus_ == nullptr) return;
  sd_bus_message* m = nullptr;
  if (sd_bus_message_new_signal(bus_, &m, path.c_str(), interface.c_str(), member.c_str()) < 0) {
    return;
  }
  bluez::MessagePtr signal(m);
  fill(m);
  sd_bus_send(bus_, m, nullptr);
}

void FakeBluez::emitPropertiesChanged(const std::string& path, const std::string& interface,
                                      const PropertyMap& changed,
                                      const std::vector<std::string>& invalidated) {
  emitSignal(path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
             [&](sd_bus_message* m) {
               sd_bus_message_append_basic(m, 's', interface.c_str());
               appendProperties(m, changed);
               appendStrings(m, invalidated);
             });
}

void FakeBluez::emitInterfacesAdded(const ManagedObject& object) {
  emitSignal("/", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", [&](sd_bus_message* m) {
    sd_bus_message_append_basic(m, 'o', object.path.c_str());
    appendInterfaces(m, object.interfaces);
  });
}

ManagedObject FakeBluez::objectAt(const std::string& path) {
  ManagedObject o;
  o.path = path;
  for (const auto& [interface, properties] : objects_[path]) {
    o.interfaces.push_back({interface, properties});
  }
  return o;
}

void FakeBluez::addObject(const ManagedObject& object, bool announce) {
  onThread([&] {
    auto& interfaces = objects_[object.path];
    for (const auto& i : object.interfaces) interfaces[i.interface] = i.properties;
    if (announce) emitInterfacesAdded(object);
  });
}

void FakeBluez::removeObject(const std::string& path, bool announce) {
  onThread([&] {
    // Children first, as BlueZ does.
    std::vector<std::string> gone;
    for (const auto& [p, interfaces] : objects_) {
      if (p == path || startsWith(p, path + "/")) gone.push_back(p);
    }
    for (auto it = gone.rbegin(); it != gone.rend(); ++it) {
      std::vector<std::string> names;
      for (const auto& [interface, props] : objects_[*it]) names.push_back(interface);
      objects_.erase(*it);
      if (announce) {
        emitSignal("/", "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
                   [&](sd_bus_message* m) {
                     sd_bus_message_append_basic(m, 'o', it->c_str());
                     appendStrings(m, names);
                   });
      }
    }
  });
}

void FakeBluez::setProperties(const std::string& path, const std::string& interface,
                              const PropertyMap& changed, bool announce,
                              const std::vector<std::string>& invalidated) {
  onThread([&] {
    auto& props = objects_[path][interface];
    for (const auto& c : changed) {
      bool found = false;
      for (auto& p : props) {
        if (p.name == c.name) {
          p.value = c.value;
          found = true;
        }
      }
      if (!found) props.push_back(c);
    }
    for (const auto& name : invalidated) {
      std::erase_if(props, [&](const bluez::Property& p) { return p.name == name; });
    }
    if (announce) emitPropertiesChanged(path, interface, changed, invalidated);
  });
}

std::optional<PropertyValue> FakeBluez::property(const std::string& path,
                                                 const std::string& interface,
                                                 const std::string& name) {
  std::optional<PropertyValue> out;
  onThread([&] {
    auto o = objects_.find(path);
    if (o == objects_.end()) return;
    auto i = o->second.find(interface);
    if (i == o->second.end()) return;
    for (const auto& p : i->second) {
      if (p.name == name) out = p.value;
    }
  });
  return out;
}

bool FakeBluez::hasObject(const std::string& path) {
  bool has = false;
  onThread([&] { has = objects_.count(path) != 0; });
  return has;
}

void FakeBluez::setDatabase(const std::string& devicePath, std::vector<ManagedObject> objects) {
  onThread([&] { databases_[devicePath] = std::move(objects); });
}

void FakeBluez::setAdvertiser(const ManagedObject& device) {
  onThread([&] { advertisers_.push_back(device); });
}

void FakeBluez::setExperimental(bool experimental) {
  onThread([&] { experimental_ = experimental; });
}

void FakeBluez::notify(const std::string& path, const Bytes& value, int count) {
  onThread([&] {
    const PropertyMap changed = {{"Value", value}};
    for (int i = 0; i < count; ++i) {
      emitPropertiesChanged(path, kCharacteristic, changed, {});
      // Keep sd-bus's queue short; the bus daemon paces us.
      if (i % 512 == 511) sd_bus_flush(bus_);
    }
  });
}

bool FakeBluez::notifyAcquired(const std::string& path, const Bytes& value) {
  bool sent = false;
  onThread([&] {
    auto it = acquired_.find(path);
    if (it == acquired_.end()) return;
    sent = ::send(it->second.fd, value.data(), value.size(), MSG_DONTWAIT) ==
           static_cast<ssize_t>(value.size());
  });
  return sent;
}

void FakeBluez::closeAcquired(const std::string& path) {
  auto it = acquired_.find(path);
  if (it == acquired_.end()) return;
  ::shutdown(it->second.fd, SHUT_RDWR);
  ::close(it->second.fd);
  acquired_.erase(it);
}

void FakeBluez::hangUpAcquired(const std::string& path) {
  onThread([&] { closeAcquired(path); });
}

void FakeBluez::script(const std::string& member, Script script) {
  onThread([&] {
    if (script) {
      scripts_[member] = std::move(script);
    } else {
      scripts_.erase(member);
    }
  });
}

std::vector<std::string> FakeBluez::calls() {
  std::lock_guard lock(mu_);
  return calls_;
}

int FakeBluez::callCount(const std::string& member) {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& c : calls_) n += startsWith(c, member + " ") ? 1 : 0;
  return n;
}

PropertyMap FakeBluez::lastOptions(const std::string& member) {
  std::lock_guard lock(mu_);
  return options_[member];
}

Bytes FakeBluez::lastWrite(const std::string& path) {
  Bytes out;
  onThread([&] { out = writes_[path]; });
  return out;
}

bool FakeBluez::discovering(const std::string& adapterPath) {
  bool on = false;
  onThread([&] { on = discovering_[adapterPath]; });
  return on;
}

// --- method calls ------------------------------------------------------------------------------

int FakeBluez::onMethod(sd_bus_message* m) {
  auto call = std::make_shared<Call>();
  call->fake_ = this;
  call->message_.reset(sd_bus_message_ref(m));
  call->path_ = sd_bus_message_get_path(m);
  call->interface_ = sd_bus_message_get_interface(m) ? sd_bus_message_get_interface(m) : "";
  call->member_ = sd_bus_message_get_member(m);
  // The a{sv} options some calls take, for tests to look at.
  PropertyMap options;
  const std::string& member = call->member_;
  if (member == "WriteValue") {
    Bytes ignored;
    bluez::readByteArray(m, ignored);
  }
  if (member == "SetDiscoveryFilter" || member == "ReadValue" || member == "WriteValue" ||
      member == "ConnectDevice" || member == "AcquireNotify") {
    bluez::readProperties(m, options);
    sd_bus_message_rewind(m, 1);
  }
  {
    std::lock_guard lock(mu_);
    calls_.push_back(member + " " + call->path_);
    options_[member] = options;
  }
  auto it = scripts_.find(member);
  if (it != scripts_.end()) {
    it->second(call, [this, call] { answer(call); });
  } else {
    answer(call);
  }
  return 1;
}

void FakeBluez::answer(const CallPtr& call) {
  const std::string& interface = call->interface();
  if (interface == "org.freedesktop.DBus.ObjectManager" && call->member() == "GetManagedObjects") {
    call->replyWith([this](sd_bus_message* r) {
      sd_bus_message_open_container(r, SD_BUS_TYPE_ARRAY, "{oa{sa{sv}}}");
      for (const auto& [path, interfaces] : objects_) {
        sd_bus_message_open_container(r, SD_BUS_TYPE_DICT_ENTRY, "oa{sa{sv}}");
        sd_bus_message_append_basic(r, 'o', path.c_str());
        appendInterfaces(r, objectAt(path).interfaces);
        sd_bus_message_close_container(r);
      }
      sd_bus_message_close_container(r);
    });
    return;
  }
  if (objects_.count(call->path()) == 0) {
    return call->replyError("org.freedesktop.DBus.Error.UnknownObject",
                            "Unknown object '" + call->path() + "'");
  }
  if (interface == "org.freedesktop.DBus.Properties") return defaultProperties(call);
  if (interface == kAdapter) return defaultAdapter(call);
  if (interface == kDevice) return defaultDevice(call);
  if (interface == kCharacteristic || interface == kDescriptor) return defaultGatt(call);
  call->replyError("org.freedesktop.DBus.Error.UnknownMethod",
                   "Unknown method " + call->member() + " or interface " + interface);
}

void FakeBluez::defaultProperties(const CallPtr& call) {
  sd_bus_message* m = call->message();
  const char* interface = nullptr;
  const char* name = nullptr;
  if (call->member() == "Get" && sd_bus_message_read(m, "ss", &interface, &name) > 0) {
    auto value = property(call->path(), interface, name);
    if (!value) {
      return call->replyError("org.freedesktop.DBus.Error.InvalidArgs",
                              std::string("No such property '") + name + "'");
    }
    return call->replyWith([&](sd_bus_message* r) { appendVariant(r, *value); });
  }
  if (call->member() == "Set" && sd_bus_message_read(m, "ss", &interface, &name) > 0) {
    PropertyValue value;
    bluez::readVariant(m, value);
    const std::string i = interface;
    const std::string n = name;
    call->reply();
    setProperties(call->path(), i, {{n, value}});
    if (i == kAdapter && n == "Powered" && value == PropertyValue(false)) {
      discovering_[call->path()] = false;
      setProperties(call->path(), kAdapter, {{"Discovering", false}});
    }
    return;
  }
  if (call->member() == "GetAll" && sd_bus_message_read(m, "s", &interface) > 0) {
    const PropertyMap props = objects_[call->path()][interface];
    return call->replyWith([&](sd_bus_message* r) { appendProperties(r, props); });
  }
  call->replyError("org.freedesktop.DBus.Error.UnknownMethod", "Unknown method");
}

void FakeBluez::defaultAdapter(const CallPtr& call) {
  const std::string& path = call->path();
  const std::string& member = call->member();
  const bool powered = property(path, kAdapter, "Powered") == PropertyValue(true);
  if (member == "SetDiscoveryFilter") {
    if (!powered) return call->replyError("org.bluez.Error.NotReady", "Resource Not Ready");
    return call->reply();
  }
  if (member == "StartDiscovery") {
    if (!powered) return call->replyError("org.bluez.Error.NotReady", "Resource Not Ready");
    if (discovering_[path]) {
      return call->replyError("org.bluez.Error.InProgress", "Operation already in progress");
    }
    discovering_[path] = true;
    call->reply();
    setProperties(path, kAdapter, {{"Discovering", true}});
    for (const auto& device : advertisers_) {
      if (!startsWith(device.path, path + "/")) continue;
      if (objects_.count(device.path) == 0) {
        addObject(device);
      } else {
        setProperties(device.path, kDevice, {{"RSSI", std::int16_t{-50}}});
      }
    }
    return;
  }
  if (member == "StopDiscovery") {
    if (!powered) return call->replyError("org.bluez.Error.NotReady", "Resource Not Ready");
    if (!discovering_[path]) {
      return call->replyError("org.bluez.Error.Failed", "No discovery started");
    }
    discovering_[path] = false;
    call->reply();
    setProperties(path, kAdapter, {{"Discovering", false}});
    return;
  }
  if (member == "ConnectDevice") {
    if (!experimental_) {
      return call->replyError("org.freedesktop.DBus.Error.UnknownMethod",
                              "Method \"ConnectDevice\" with signature \"a{sv}\" on interface "
                              "\"org.bluez.Adapter1\" doesn't exist");
    }
    PropertyMap options;
    bluez::readProperties(call->message(), options);
    const auto* text = bluez::findProperty<std::string>(options, "Address");
    auto address = text ? Address::parse(*text) : absl::StatusOr<Address>(absl::UnknownError(""));
    if (!address.ok()) {
      return call->replyError("org.bluez.Error.InvalidArguments",
                              "Invalid arguments in method call");
    }
    const auto where = bluez::parsePath(path);
    const std::string devicePath = bluez::devicePath(where->adapter, *address);
    if (objects_.count(devicePath) != 0) {
      return call->replyError("org.bluez.Error.AlreadyExists", "Already Exists");
    }
    const auto* type = bluez::findProperty<std::string>(options, "AddressType");
    addObject(deviceObject(std::string(where->adapter), *address, {},
                           type != nullptr && *type == "random"));
    setProperties(devicePath, kDevice, {{"Connected", true}});
    call->replyWith([&](sd_bus_message* r) { sd_bus_message_append_basic(r, 'o', devicePath.c_str()); });
    connectDevice(devicePath);
    return;
  }
  call->replyError("org.freedesktop.DBus.Error.UnknownMethod", "Unknown method " + member);
}

void FakeBluez::connectDevice(const std::string& devicePath) {
  if (property(devicePath, kDevice, "Connected") != PropertyValue(true)) {
    setProperties(devicePath, kDevice, {{"Connected", true}});
  }
  for (const auto& object : databases_[devicePath]) {
    if (objects_.count(object.path) == 0) addObject(object);
  }
  setProperties(devicePath, kDevice, {{"ServicesResolved", true}});
}

void FakeBluez::disconnectDevice(const std::string& devicePath) {
  std::vector<std::string> sockets;
  for (const auto& [path, a] : acquired_) {
    if (startsWith(path, devicePath + "/")) sockets.push_back(path);
  }
  for (const auto& path : sockets) closeAcquired(path);
  setProperties(devicePath, kDevice, {{"ServicesResolved", false}, {"Connected", false}});
}

void FakeBluez::defaultDevice(const CallPtr& call) {
  const std::string& path = call->path();
  if (call->member() == "Connect") {
    // bleak's order (DBUS-PERF.md): Connected, the GATT objects, ServicesResolved, the reply.
    connectDevice(path);
    return call->reply();
  }
  if (call->member() == "Disconnect") {
    const bool connected = property(path, kDevice, "Connected") == PropertyValue(true);
    call->reply();
    if (connected) disconnectDevice(path);
    return;
  }
  call->replyError("org.freedesktop.DBus.Error.UnknownMethod", "Unknown method " + call->member());
}

void FakeBluez::defaultGatt(const CallPtr& call) {
  const std::string& path = call->path();
  const std::string& member = call->member();
  const auto where = bluez::parsePath(path);
  const std::string devicePath = bluez::devicePath(where->adapter, where->address);
  const bool connected = property(devicePath, kDevice, "Connected") == PropertyValue(true);
  const std::string& interface = call->interface();
  if (member == "ReadValue") {
    if (!connected) return call->replyError("org.bluez.Error.Failed", "Not connected");
    PropertyMap options;
    bluez::readProperties(call->message(), options);
    const auto* offset = bluez::findProperty<std::uint16_t>(options, "offset");
    auto value = property(path, interface, "Value");
    Bytes bytes = value ? std::get<Bytes>(*value) : Bytes{};
    const std::size_t from = offset ? *offset : 0;
    if (from > bytes.size()) {
      return call->replyError("org.bluez.Error.InvalidArguments", "Invalid offset");
    }
    // BlueZ flushes the cached Value before the reply (bluez-5.66-api.md §3).
    if (interface == kCharacteristic) emitPropertiesChanged(path, interface, {{"Value", bytes}}, {});
    Bytes out(bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.end());
    return call->replyWith([&](sd_bus_message* r) {
      sd_bus_message_append_array(r, 'y', out.data(), out.size());
    });
  }
  if (member == "WriteValue") {
    if (!connected) return call->replyError("org.bluez.Error.Failed", "Not connected");
    Bytes bytes;
    bluez::readByteArray(call->message(), bytes);
    writes_[path] = bytes;
    setProperties(path, interface, {{"Value", bytes}}, /*announce=*/false);
    return call->reply();
  }
  if (member == "StartNotify") {
    if (notifySessions_[path]++ == 0) setProperties(path, interface, {{"Notifying", true}});
    return call->reply();
  }
  if (member == "StopNotify") {
    if (notifySessions_[path] == 0 && acquired_.count(path) == 0) {
      return call->replyError("org.bluez.Error.Failed", "No notify session started");
    }
    notifySessions_[path] = 0;
    closeAcquired(path);
    call->reply();
    setProperties(path, interface, {{"Notifying", false}});
    return;
  }
  if (member == "AcquireNotify") {
    if (!connected) return call->replyError("org.bluez.Error.Failed", "Not connected");
    if (notifySessions_[path] > 0) return call->replyError("org.bluez.Error.InProgress", "In Progress");
    if (acquired_.count(path) != 0) {
      return call->replyError("org.bluez.Error.NotPermitted", "Notify acquired");
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
      return call->replyError("org.bluez.Error.Failed", "socketpair failed");
    }
    acquired_[path].fd = fds[0];
    auto mtu = property(path, interface, "MTU");
    const std::uint16_t m = mtu ? std::get<std::uint16_t>(*mtu) : std::uint16_t{23};
    call->replyWith([&](sd_bus_message* r) { sd_bus_message_append(r, "hq", fds[1], m); });
    ::close(fds[1]);  // the reply holds its own copy
    return;
  }
  call->replyError("org.freedesktop.DBus.Error.UnknownMethod", "Unknown method " + member);
}

}  // namespace gattway::testing
