#include "ble/sim/hosted_app.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ble/log.h"
#include "ble/sim/adapter.h"
#include "ble/sim/errors.h"

namespace gattway::sim {
namespace {

enum Method { kRegisterApplication, kUnregisterApplication };

const dbus::InterfaceSpec& interfaceSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.GattManager1",
      {{"RegisterApplication", {{"application", "o"}, {"options", "a{sv}"}}, {}},
       {"UnregisterApplication", {{"application", "o"}}, {}}},
      {},
      {}};
  return s;
}

constexpr char kService[] = "org.bluez.GattService1";
constexpr char kCharacteristic[] = "org.bluez.GattCharacteristic1";
constexpr char kDescriptor[] = "org.bluez.GattDescriptor1";
constexpr char kProfile[] = "org.bluez.GattProfile1";
// The local database already holds GAP 0x0001-0x0007, GATT 0x0008-0x0011 and Device Information
// 0x0012-0x0014: applications start at 0x0015.
constexpr std::uint16_t kFirstAppHandle = 0x0015;

using Objects = std::map<std::string, std::map<std::string, dbus::Dict>>;

// a{oa{sa{sv}}} → path → interface → properties.
bool readObjects(sd_bus_message* m, Objects& out) {
  dbus::Value v;
  if (!dbus::Reader(m).value(v) || v.signature != "a{oa{sa{sv}}}") return false;
  for (const auto& [path, ifaces] : *v.asDict()) {
    auto& obj = out[*path.asString()];
    for (const auto& [name, props] : *ifaces.asDict()) {
      auto& dict = obj[*name.asString()];
      for (const auto& [key, value] : *props.asDict()) {
        const dbus::Value* content = value.variantContent();
        if (content != nullptr) dict[*key.asString()] = *content;
      }
    }
  }
  return true;
}

bool flagsOk(const dbus::Dict& props, std::vector<std::string>& flags) {
  auto it = props.find("Flags");
  if (it == props.end() || it->second.signature != "as") return false;
  flags = *it->second.asStrings();
  for (const auto& f : flags) {
    if (!knownCharacteristicFlag(f)) return false;
  }
  return true;
}

std::optional<Uuid> uuidOf(const dbus::Dict& props) {
  auto it = props.find("UUID");
  if (it == props.end() || it->second.signature != "s") return std::nullopt;
  auto u = Uuid::parse(*it->second.asString());
  if (!u.ok()) return std::nullopt;
  return *u;
}

std::optional<std::uint16_t> handleOf(const dbus::Dict& props) {
  auto it = props.find("Handle");
  if (it == props.end()) return std::nullopt;
  auto h = it->second.asInt("q");
  return h ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(*h)) : std::optional<std::uint16_t>(0);
}

}  // namespace

bool HostedCharacteristic::has(const char* flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

GattManager::GattManager(Adapter& adapter)
    : dbus::Interface(interfaceSpec()), adapter_(adapter), calls_(adapter.context().bus) {
  nameLost_ = adapter_.context().bus.onNameLost([this](const std::string& owner) { drop(owner, ""); });
}

GattManager::~GattManager() { adapter_.context().bus.removeNameLost(nameLost_); }

void GattManager::get(int, dbus::Writer&) const {}

void GattManager::invoke(int method, dbus::Call call) {
  if (method == kRegisterApplication) return registerApplication(std::move(call));
  if (method == kUnregisterApplication) return unregisterApplication(std::move(call));
}

std::vector<std::string> GattManager::serviceUuids() const {
  std::vector<std::string> out;
  for (const auto& app : apps_) {
    for (const auto& s : app->services) out.push_back(s->uuid.toLongString());
  }
  return out;
}

std::vector<const HostedService*> GattManager::services() const {
  std::vector<const HostedService*> out;
  for (const auto& app : apps_) {
    for (const auto& s : app->services) out.push_back(s.get());
  }
  return out;
}

HostedCharacteristic* GattManager::characteristic(std::uint16_t handle) {
  for (auto& app : apps_) {
    for (auto& s : app->services) {
      for (auto& c : s->characteristics) {
        if (c->declHandle == handle || c->valueHandle == handle) return c.get();
      }
    }
  }
  return nullptr;
}

HostedCharacteristic* GattManager::find(const std::string& attribute) {
  std::uint32_t handle = 0;
  if (attribute.rfind("0x", 0) == 0 && absl::SimpleHexAtoi(attribute.substr(2), &handle) &&
      handle <= 0xFFFF) {
    return characteristic(static_cast<std::uint16_t>(handle));
  }
  auto u = Uuid::parse(attribute);
  if (!u.ok()) return nullptr;
  for (auto& app : apps_) {
    for (auto& s : app->services) {
      for (auto& c : s->characteristics) {
        if (c->uuid == *u) return c.get();
      }
    }
  }
  return nullptr;
}

std::uint16_t GattManager::nextHandle() const {
  std::uint16_t next = kFirstAppHandle;
  for (const auto& app : apps_) {
    for (const auto& s : app->services) next = std::max<std::uint16_t>(next, static_cast<std::uint16_t>(s->end + 1));
  }
  return next;
}

void GattManager::registerApplication(dbus::Call call) {
  std::string path;
  dbus::Value options;  // ignored by 5.66
  dbus::Reader args = call.args();
  args.o(path);
  args.value(options);
  const std::string owner = call.sender();
  auto same = [&](const auto& a) { return a->owner == owner && a->path == path; };
  if (std::any_of(apps_.begin(), apps_.end(), same) || std::any_of(pending_.begin(), pending_.end(), same)) {
    return call.error(bluez::kAlreadyExists, bluez::kMsgAlreadyExists);
  }
  auto fresh = std::make_unique<Application>();
  fresh->owner = owner;
  fresh->path = path;
  Application* raw = fresh.get();
  pending_.push_back(std::move(fresh));
  // bluetoothd asks the application for its objects; the reply waits for the answer.
  dbus::Bus& bus = adapter_.context().bus;
  dbus::Message m = bus.newCall(owner, path, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
  calls_.call(m, [this, raw, c = std::move(call)](sd_bus_message* reply, const dbus::Error& e) mutable {
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const auto& a) { return a.get() == raw; });
    if (it == pending_.end()) return;  // the owner left meanwhile
    std::unique_ptr<Application> app = std::move(*it);
    pending_.erase(it);
    if (!e.empty()) return c.error(bluez::kFailed, "No object received");
    build(*app, reply, std::move(c));
    if (!app->services.empty()) apps_.push_back(std::move(app));
  });
}

void GattManager::build(Application& app, sd_bus_message* reply, dbus::Call call) {
  Objects objects;
  if (!readObjects(reply, objects) || objects.empty()) {
    return call.error(bluez::kFailed, "No object received");
  }
  const char* invalid = "No valid service object found";
  std::vector<std::unique_ptr<HostedService>> services;
  std::map<std::string, HostedService*> byPath;
  bool profiles = false;
  for (const auto& [path, ifaces] : objects) {
    if (ifaces.contains(kProfile)) profiles = true;
    auto it = ifaces.find(kService);
    if (it == ifaces.end()) continue;
    auto uuid = uuidOf(it->second);
    auto primary = it->second.find("Primary");
    if (!uuid || primary == it->second.end() || primary->second.signature != "b") {
      return call.error(bluez::kFailed, invalid);
    }
    // GAP and GATT belong to bluetoothd.
    if (*uuid == Uuid::fromShort(0x1800) || *uuid == Uuid::fromShort(0x1801)) {
      return call.error(bluez::kFailed, invalid);
    }
    auto s = std::make_unique<HostedService>();
    s->path = path;
    s->uuid = *uuid;
    s->primary = *primary->second.asBool();
    byPath[path] = s.get();
    services.push_back(std::move(s));
  }
  // Characteristics and descriptors link by their Service/Characteristic property, not by path.
  std::map<std::string, HostedCharacteristic*> chars;
  for (const auto& [path, ifaces] : objects) {
    auto it = ifaces.find(kCharacteristic);
    if (it == ifaces.end()) continue;
    const dbus::Dict& p = it->second;
    auto svc = p.find("Service");
    auto uuid = uuidOf(p);
    auto c = std::make_unique<HostedCharacteristic>();
    if (svc == p.end() || svc->second.signature != "o" || !byPath.contains(*svc->second.asString()) ||
        !uuid || !flagsOk(p, c->flags)) {
      return call.error(bluez::kFailed, invalid);
    }
    c->owner = app.owner;
    c->path = path;
    c->uuid = *uuid;
    c->acquireNotify = p.contains("NotifyAcquired");
    if (auto h = handleOf(p)) c->valueHandle = *h;
    chars[path] = c.get();
    byPath[*svc->second.asString()]->characteristics.push_back(std::move(c));
  }
  for (const auto& [path, ifaces] : objects) {
    auto it = ifaces.find(kDescriptor);
    if (it == ifaces.end()) continue;
    const dbus::Dict& p = it->second;
    auto ch = p.find("Characteristic");
    auto uuid = uuidOf(p);
    HostedDescriptor d;
    auto flags = p.find("Flags");
    if (ch == p.end() || ch->second.signature != "o" || !chars.contains(*ch->second.asString()) || !uuid ||
        flags == p.end() || flags->second.signature != "as") {
      return call.error(bluez::kFailed, invalid);
    }
    d.path = path;
    d.uuid = *uuid;
    d.flags = *flags->second.asStrings();
    chars[*ch->second.asString()]->descriptors.push_back(d);
  }
  if (services.empty() && !profiles) return call.error(bluez::kFailed, invalid);

  // Handles: after what is already in the database (an explicit Handle is honoured).
  std::uint16_t next = nextHandle();
  std::set<std::uint16_t> used;
  for (auto& s : services) {
    s->start = next++;
    for (auto& c : s->characteristics) {
      if (c->valueHandle != 0) {
        next = static_cast<std::uint16_t>(std::max<int>(next, c->valueHandle + 1));
        c->declHandle = static_cast<std::uint16_t>(c->valueHandle - 1);
      } else {
        c->declHandle = next++;
        c->valueHandle = next++;
      }
      if (!used.insert(c->valueHandle).second) {
        return call.error(bluez::kFailed, "Failed to create entry in database");
      }
      if (c->has("notify") || c->has("indicate")) c->cccHandle = next++;
      for (auto& d : c->descriptors) d.handle = next++;
    }
    s->end = static_cast<std::uint16_t>(next - 1);
  }
  app.services = std::move(services);

  // bluetoothd writes the assigned handles back to objects that have a Handle property.
  dbus::Bus& bus = adapter_.context().bus;
  for (const auto& [path, ifaces] : objects) {
    for (const auto& [iface, props] : ifaces) {
      if (!props.contains("Handle")) continue;
      std::uint16_t h = 0;
      if (iface == kService) {
        for (auto& s : app.services) h = s->path == path ? s->start : h;
      } else if (iface == kCharacteristic && chars.contains(path)) {
        h = chars[path]->valueHandle;  // 5.66 writes back the value handle
      }
      if (h == 0) continue;
      dbus::Message set = bus.newCall(app.owner, path, "org.freedesktop.DBus.Properties", "Set");
      dbus::Writer w(set.get());
      w.s(iface).s("Handle").open('v', "q").q(h).close();
      bus.callNoReply(std::move(set));
    }
  }
  // Afterwards only value changes and the removal of whole services are followed.
  const std::string owner = app.owner;
  Application* raw = &app;
  app.signals = bus.match(
      absl::StrCat("type='signal',sender='", owner,
                   "',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'"),
      [this, raw](sd_bus_message* m) { onSignal(*raw, m); });
  app.removed = bus.match(
      absl::StrCat("type='signal',sender='", owner,
                   "',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'"),
      [this, raw](sd_bus_message* m) { onRemoved(*raw, m); });
  log::info("sim.gatt.application_registered",
            {{"adapter", adapter_.name()}, {"owner", owner}, {"services", app.services.size()}});
  call.reply();
  adapter_.uuidsChanged();
}

void GattManager::unregisterApplication(dbus::Call call) {
  std::string path;
  call.args().o(path);
  const std::string owner = call.sender();
  auto it = std::find_if(apps_.begin(), apps_.end(),
                         [&](const auto& a) { return a->owner == owner && a->path == path; });
  if (it == apps_.end()) return call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
  drop(owner, path);
  call.reply();
}

void GattManager::drop(const std::string& owner, const std::string& path) {
  const auto before = apps_.size();
  std::erase_if(pending_, [&](const auto& a) { return a->owner == owner && (path.empty() || a->path == path); });
  std::erase_if(apps_, [&](const auto& a) { return a->owner == owner && (path.empty() || a->path == path); });
  if (apps_.size() != before) {
    log::info("sim.gatt.application_removed", {{"adapter", adapter_.name()}, {"owner", owner}});
    adapter_.uuidsChanged();
  }
}

void GattManager::onSignal(Application& app, sd_bus_message* m) {
  const char* path = sd_bus_message_get_path(m);
  std::string iface;
  dbus::Reader r(m);
  if (path == nullptr || !r.s(iface) || iface != kCharacteristic) return;
  dbus::Dict changedProps;
  std::vector<std::string> invalidated;
  if (!r.dict(changedProps)) return;
  r.strings(invalidated);
  const bool valueInvalidated =
      std::find(invalidated.begin(), invalidated.end(), "Value") != invalidated.end();
  auto value = changedProps.find("Value");
  if (value == changedProps.end() && !valueInvalidated) return;
  for (auto& s : app.services) {
    for (auto& c : s->characteristics) {
      if (c->path != path) continue;
      // An invalidated Value sends an empty notification; longer ones are cut to 512.
      Bytes v = value != changedProps.end() && value->second.asBytes() ? *value->second.asBytes() : Bytes{};
      if (v.size() > 512) v.resize(512);
      if (c->subscribers > 0 && notifyListener_) notifyListener_(*c, v);
    }
  }
}

void GattManager::onRemoved(Application& app, sd_bus_message* m) {
  std::string path;
  std::vector<std::string> ifaces;
  dbus::Reader r(m);
  if (!r.o(path) || !r.strings(ifaces)) return;
  // Removing a service object removes that service; a characteristic or descriptor alone is
  // ignored (5.66).
  if (std::find(ifaces.begin(), ifaces.end(), kService) == ifaces.end()) return;
  const auto before = app.services.size();
  std::erase_if(app.services, [&](const auto& s) { return s->path == path; });
  if (app.services.size() != before) adapter_.uuidsChanged();
}

namespace {
// Options BlueZ sends with every ReadValue/WriteValue/Acquire* (append_options; no "type" in 5.66).
void appendOptions(dbus::Writer& w, const std::string& devicePath, std::uint16_t offset,
                   std::uint16_t mtu) {
  w.open('a', "{sv}");
  w.entryPath("device", devicePath);
  if (offset != 0) w.entryU16("offset", offset);
  w.entryString("link", "LE");
  w.entryU16("mtu", mtu);
  w.close();
}
}  // namespace

void GattManager::read(HostedCharacteristic& c, const std::string& devicePath, std::uint16_t offset,
                       std::uint16_t mtu, ReadDone done) {
  dbus::Bus& bus = adapter_.context().bus;
  dbus::Message m = bus.newCall(c.owner, c.path, kCharacteristic, "ReadValue");
  dbus::Writer w(m.get());
  appendOptions(w, devicePath, offset, mtu);
  calls_.call(m, [d = std::move(done)](sd_bus_message* reply, const dbus::Error& e) mutable {
    if (!e.empty()) return d(bluez::attForApplicationError(e, false), {});
    Bytes v;
    // A reply that is not a byte array: Request Not Supported.
    if (!dbus::Reader(reply).bytes(v)) return d(0x06, {});
    if (v.size() > 512) v.resize(512);
    d(0, std::move(v));
  });
}

void GattManager::write(HostedCharacteristic& c, const std::string& devicePath, const Bytes& value,
                        std::uint16_t offset, std::uint16_t mtu, bool command, WriteDone done) {
  dbus::Bus& bus = adapter_.context().bus;
  (void)command;  // AcquireWrite is not used: Write Commands go through WriteValue too
  dbus::Message m = bus.newCall(c.owner, c.path, kCharacteristic, "WriteValue");
  dbus::Writer w(m.get());
  w.bytes(value);
  appendOptions(w, devicePath, offset, mtu);
  // With write-without-response in Flags, 5.66 never waits for the application: the peer gets
  // success at once and the application's errors are lost.
  if (c.has("write-without-response")) {
    bus.callNoReply(std::move(m));
    return done(0);
  }
  calls_.call(m, [d = std::move(done)](sd_bus_message* reply, const dbus::Error& e) mutable {
    if (!e.empty()) return d(bluez::attForApplicationError(e, true));
    // A reply with out-arguments: Request Not Supported.
    if (!dbus::Reader(reply).atEnd()) return d(0x06);
    d(0);
  });
}

void GattManager::subscribe(HostedCharacteristic& c, const std::string& devicePath, std::uint16_t mtu) {
  ++c.subscribers;
  if (c.acquireNotify) {
    if (c.notifyFd == nullptr) acquireNotify(c, devicePath, mtu);
    return;
  }
  // StartNotify on every CCC enable, fire and forget.
  dbus::Bus& bus = adapter_.context().bus;
  bus.callNoReply(bus.newCall(c.owner, c.path, kCharacteristic, "StartNotify"));
}

void GattManager::unsubscribe(HostedCharacteristic& c) {
  if (c.subscribers == 0) return;
  if (--c.subscribers > 0) return;
  if (c.notifyFd != nullptr) {
    c.notifyFd.reset();  // closing the socket tells the application
    return;
  }
  dbus::Bus& bus = adapter_.context().bus;
  bus.callNoReply(bus.newCall(c.owner, c.path, kCharacteristic, "StopNotify"));
}

void GattManager::confirm(const HostedCharacteristic& c) {
  dbus::Bus& bus = adapter_.context().bus;
  bus.callNoReply(bus.newCall(c.owner, c.path, kCharacteristic, "Confirm"));
}

void GattManager::acquireNotify(HostedCharacteristic& c, const std::string& devicePath,
                                std::uint16_t mtu) {
  dbus::Bus& bus = adapter_.context().bus;
  dbus::Message m = bus.newCall(c.owner, c.path, kCharacteristic, "AcquireNotify");
  dbus::Writer w(m.get());
  appendOptions(w, devicePath, 0, mtu);
  const std::uint16_t handle = c.valueHandle;
  calls_.call(m, [this, handle](sd_bus_message* reply, const dbus::Error& e) {
    HostedCharacteristic* ch = characteristic(handle);
    if (ch == nullptr) return;
    if (!e.empty()) {
      // Failed (or no reply): nothing; other errors: fall back to StartNotify.
      if (e.name == bluez::kFailed || e.name == "org.freedesktop.DBus.Error.NoReply") return;
      dbus::Bus& b = adapter_.context().bus;
      b.callNoReply(b.newCall(ch->owner, ch->path, kCharacteristic, "StartNotify"));
      return;
    }
    int fd = -1;
    if (!dbus::Reader(reply).h(fd)) return;
    const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (own < 0) return;
    ch->notifyFd = std::make_unique<FdWatch>(adapter_.context().loop, own, POLLIN, [this, handle](short revents) {
      HostedCharacteristic* cc = characteristic(handle);
      if (cc == nullptr || cc->notifyFd == nullptr) return;
      if ((revents & POLLIN) != 0) {
        std::uint8_t buf[512];
        for (;;) {
          const ssize_t n = ::recv(cc->notifyFd->fd(), buf, sizeof buf, MSG_DONTWAIT);
          if (n <= 0) break;
          if (notifyListener_) notifyListener_(*cc, Bytes(buf, buf + n));
        }
      }
      if ((revents & (POLLHUP | POLLERR)) != 0) cc->notifyFd.reset();
    });
  });
}

}  // namespace gattway::sim
