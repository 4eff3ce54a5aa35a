#include "tests/support/fake_bluez.h"

#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <stdexcept>

#include "absl/strings/match.h"
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
const std::string kDevice(bluez::iface::kDevice);
const std::string kCharacteristic(bluez::iface::kCharacteristic);
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
      if (p == path || absl::StartsWith(p, path + "/")) gone.push_back(p);
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
  for (const auto& c : calls_) n += absl::StartsWith(c, member + " ") ? 1 : 0;
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

}  // namespace gattway::testing
