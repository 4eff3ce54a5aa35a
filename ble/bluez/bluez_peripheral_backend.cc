#include "ble/bluez/bluez_peripheral_backend.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/dbus/message_bytes.h"
#include "ble/error.h"
#include "ble/log.h"
#include "sdbus-c++/Error.h"
#include "sdbus-c++/Types.h"

namespace gattway::bluez {
namespace {

constexpr const char* kBluez = "org.bluez";
constexpr const char* kAdapter1 = "org.bluez.Adapter1";
constexpr const char* kDevice1 = "org.bluez.Device1";
constexpr const char* kGattManager1 = "org.bluez.GattManager1";
constexpr const char* kAdvertisingManager1 = "org.bluez.LEAdvertisingManager1";
// RegisterApplication replies only after BlueZ has read the application back
// (GetManagedObjects on us), so it gets more time than a plain call.
constexpr absl::Duration kRegisterTimeout = absl::Seconds(30);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);

std::string adapterPath(const std::string& adapter) { return absl::StrCat("/org/bluez/", adapter); }

// Reads an a{sv} at the message's position, handing each key to `onKey`, which either reads the
// variant or returns false to have it skipped.
template <typename OnKey>
void readProperties(sdbus::Message& m, OnKey&& onKey) {
  if (!m.enterContainer("{sv}")) return;
  while (m.enterDictEntry("sv")) {
    std::string key;
    m >> key;
    if (!onKey(key)) dbus::skip(m, "v");
    m.exitDictEntry();
  }
  m.clearFlags();
  m.exitContainer();
}

template <typename T>
T variantValue(sdbus::Message& m) {
  sdbus::Variant v;
  m >> v;
  return v.get<T>();
}

}  // namespace

BluezPeripheralBackend::BluezPeripheralBackend(dbus::LoopConnection& connection)
    : connection_(connection), bus_(connection.get()) {}

BluezPeripheralBackend::~BluezPeripheralBackend() {
  stop();
  alive_.reset();
  calls_.clear();
  graveyard_.clear();
}

void BluezPeripheralBackend::post(absl::AnyInvocable<void()> task) {
  connection_.loop().post(
      [alive = std::weak_ptr<int>(alive_), task = std::move(task)]() mutable {
        if (!alive.expired()) task();
      });
}

absl::Status BluezPeripheralBackend::unavailable() const {
  return err::make(err::Reason::kBluezUnavailable, "BlueZ (org.bluez) is not on the D-Bus");
}

void BluezPeripheralBackend::start(PeripheralBackendListener* listener) {
  listener_ = listener;
  try {
    nameWatch_ = bus_.addMatch(
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='org.bluez'",
        [this](sdbus::Message& m) {
          std::string name, oldOwner, newOwner;
          m >> name >> oldOwner >> newOwner;
          if (name != kBluez) return;
          if (!oldOwner.empty()) goDown();
          if (!newOwner.empty()) sync();
        });
    // One rule for everything BlueZ signals (ObjectManager and PropertiesChanged); what is not
    // about adapters or Device1 is dropped after reading the path and interface name.
    signals_ = bus_.addMatch("type='signal',sender='org.bluez'",
                             [this](sdbus::Message& m) { onBluezSignal(m); });
  } catch (const sdbus::Error& e) {
    log::error("peripheral.bluez_watch_failed", {{"error", e.getMessage()}});
  }
  sync();
}

void BluezPeripheralBackend::stop() {
  if (listener_ == nullptr) return;
  // Fire and forget: BlueZ also drops everything of ours when the connection closes.
  auto tell = [this](const std::string& adapter, const char* interface, const char* method,
                     const std::string& path) {
    try {
      auto proxy = sdbus::createProxy(bus_, kBluez, adapterPath(adapter));
      auto m = proxy->createMethodCall(interface, method);
      m << sdbus::ObjectPath(path);
      m.dontExpectReply();
      proxy->callMethod(m);
    } catch (const sdbus::Error& e) {
      log::debug("peripheral.unregister_on_stop", {{"error", e.getMessage()}});
    }
  };
  if (up_ && app_ && appRegistered_) {
    tell(appAdapter_, kGattManager1, "UnregisterApplication", app_->root());
  }
  for (auto& [id, a] : adverts_) {
    if (up_ && a.registered) tell(a.adapter, kAdvertisingManager1, "UnregisterAdvertisement", a.object->path());
  }
  app_.reset();
  appRegistered_ = false;
  adverts_.clear();
  syncOp_.reset();
  calls_.clear();
  nameWatch_.reset();
  signals_.reset();
  up_ = false;
  listener_ = nullptr;
}

Operation BluezPeripheralBackend::call(const std::string& path, const char* interface,
                                       const char* method,
                                       absl::AnyInvocable<void(sdbus::MethodCall&)> build,
                                       absl::Duration timeout, ReplyHandler onReply) {
  const std::uint64_t id = nextCall_++;
  auto handler = std::make_shared<ReplyHandler>(std::move(onReply));
  try {
    auto proxy = sdbus::createProxy(bus_, kBluez, path);
    auto m = proxy->createMethodCall(interface, method);
    if (build) build(m);
    proxy->callMethod(
        m,
        [this, id, handler](sdbus::MethodReply& reply, const sdbus::Error* error) {
          auto node = calls_.extract(id);
          if (node.empty()) return;  // cancelled
          // The proxy is inside this very callback: let it go on the next turn.
          graveyard_.push_back(std::move(node.mapped()));
          post([this] { graveyard_.clear(); });
          try {
            (*handler)(error == nullptr ? &reply : nullptr, error);
          } catch (const std::exception& e) {
            log::error("peripheral.reply_handler_failed", {{"method", "?"}, {"error", e.what()}});
          }
        },
        static_cast<std::uint64_t>(absl::ToInt64Microseconds(timeout)));
    calls_[id] = std::move(proxy);
  } catch (const sdbus::Error& e) {
    auto error = std::make_shared<sdbus::Error>(e);
    post([handler, error] { (*handler)(nullptr, error.get()); });
    return Operation();
  }
  return Operation([this, id, alive = std::weak_ptr<int>(alive_)] {
    if (alive.expired()) return;
    auto node = calls_.extract(id);
    if (node.empty()) return;
    graveyard_.push_back(std::move(node.mapped()));
    post([this] { graveyard_.clear(); });
  });
}

// --- the mirror -----------------------------------------------------------------------------

void BluezPeripheralBackend::sync() {
  if (syncing_ || listener_ == nullptr) return;
  syncing_ = true;
  syncOp_ = call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", nullptr,
                 kCallTimeout, [this](sdbus::MethodReply* reply, const sdbus::Error* error) {
                   syncing_ = false;
                   if (error != nullptr) {
                     log::debug("peripheral.bluez_absent", {{"error", error->getMessage()}});
                     return;
                   }
                   adapters_.clear();
                   devices_.clear();
                   if (reply->enterContainer("{oa{sa{sv}}}")) {
                     while (reply->enterDictEntry("oa{sa{sv}}")) {
                       sdbus::ObjectPath path;
                       *reply >> path;
                       parseInterfaces(path, *reply, true);
                       reply->exitDictEntry();
                     }
                     reply->clearFlags();
                     reply->exitContainer();
                   }
                   up_ = true;
                   log::info("peripheral.bluez_found", {{"adapters", adapters_.size()}});
                   for (const auto& [name, a] : adapters_) listener_->onAdapterChanged(a);
                   for (const auto& [path, d] : devices_) {
                     if (d.connected) listener_->onCentralConnected(d.adapter, d.address);
                   }
                   listener_->onBackendUp();
                 });
}

void BluezPeripheralBackend::goDown() {
  syncOp_.reset();
  syncing_ = false;
  if (!up_) return;
  up_ = false;
  // bluetoothd forgot our registrations with it; a new generation starts after onBackendUp.
  ++generation_;
  app_.reset();
  appRegistered_ = false;
  adverts_.clear();
  adapters_.clear();
  devices_.clear();
  log::warn("peripheral.bluez_gone");
  listener_->onBackendDown();
}

void BluezPeripheralBackend::onBluezSignal(sdbus::Message& m) {
  if (!up_) return;  // the mirror is rebuilt from GetManagedObjects
  const std::string member = m.getMemberName();
  if (member == "PropertiesChanged") {
    const std::string path = m.getPath();
    std::string adapter;
    Address address;
    if (adapterOfPath(path).empty() && !parseDevicePath(path, adapter, address)) return;
    std::string interface;
    m >> interface;
    parseProperties(path, interface, m, true);
  } else if (member == "InterfacesAdded") {
    sdbus::ObjectPath path;
    m >> path;
    parseInterfaces(path, m, false);
  } else if (member == "InterfacesRemoved") {
    sdbus::ObjectPath path;
    std::vector<std::string> interfaces;
    m >> path >> interfaces;
    interfacesRemoved(path, interfaces);
  }
}

void BluezPeripheralBackend::parseInterfaces(const std::string& path, sdbus::Message& m,
                                             bool initial) {
  if (!m.enterContainer("{sa{sv}}")) return;
  while (m.enterDictEntry("sa{sv}")) {
    std::string interface;
    m >> interface;
    parseProperties(path, interface, m, !initial);
    m.exitDictEntry();
  }
  m.clearFlags();
  m.exitContainer();
}

void BluezPeripheralBackend::parseProperties(const std::string& path, const std::string& interface,
                                             sdbus::Message& m, bool report) {
  const std::string adapterName = adapterOfPath(path);
  if (!adapterName.empty() &&
      (interface == kAdapter1 || interface == kGattManager1 || interface == kAdvertisingManager1)) {
    PeripheralAdapterInfo& a = adapters_[adapterName];
    a.name = adapterName;
    if (interface == kGattManager1) a.gattManager = true;
    if (interface == kAdvertisingManager1) a.advertisingManager = true;
    readProperties(m, [&](const std::string& key) {
      if (interface == kAdapter1 && key == "Powered") {
        a.powered = variantValue<bool>(m);
      } else if (interface == kAdapter1 && key == "Address") {
        if (auto addr = Address::parse(variantValue<std::string>(m)); addr.ok()) a.address = *addr;
      } else if (interface == kAdvertisingManager1 && key == "SupportedInstances") {
        a.advertisingInstancesFree = variantValue<std::uint8_t>(m);
      } else if (interface == kAdvertisingManager1 && key == "SupportedIncludes") {
        a.supportedIncludes = variantValue<std::vector<std::string>>(m);
      } else if (interface == kAdvertisingManager1 && key == "SupportedFeatures") {
        // Present only when bluetoothd runs with experimental features (-E).
        a.experimental = true;
        return false;
      } else {
        return false;
      }
      return true;
    });
    if (report && listener_ != nullptr) listener_->onAdapterChanged(a);
    return;
  }
  std::string adapter;
  Address address;
  if (interface == kDevice1 && parseDevicePath(path, adapter, address)) {
    Device& d = devices_[path];
    const bool was = d.connected;
    d.adapter = adapter;
    d.address = address;
    bool connected = was;
    readProperties(m, [&](const std::string& key) {
      if (key != "Connected") return false;
      connected = variantValue<bool>(m);
      return true;
    });
    if (report) {
      setConnected(path, d, connected);
    } else {
      d.connected = connected;
    }
    return;
  }
  dbus::skip(m, "a{sv}");
}

void BluezPeripheralBackend::setConnected(const std::string&, Device& d, bool connected) {
  if (d.connected == connected) return;
  d.connected = connected;
  if (listener_ == nullptr) return;
  if (connected) {
    listener_->onCentralConnected(d.adapter, d.address);
  } else {
    listener_->onCentralDisconnected(d.adapter, d.address);
  }
}

void BluezPeripheralBackend::interfacesRemoved(const std::string& path,
                                               const std::vector<std::string>& interfaces) {
  for (const std::string& i : interfaces) {
    if (i == kDevice1) {
      auto it = devices_.find(path);
      if (it == devices_.end()) continue;
      setConnected(path, it->second, false);
      devices_.erase(it);
    } else if (i == kAdapter1) {
      const std::string name = adapterOfPath(path);
      if (adapters_.erase(name) > 0 && listener_ != nullptr) listener_->onAdapterRemoved(name);
    } else if (i == kGattManager1 || i == kAdvertisingManager1) {
      auto it = adapters_.find(adapterOfPath(path));
      if (it == adapters_.end()) continue;
      (i == kGattManager1 ? it->second.gattManager : it->second.advertisingManager) = false;
      if (listener_ != nullptr) listener_->onAdapterChanged(it->second);
    }
  }
}

std::vector<PeripheralAdapterInfo> BluezPeripheralBackend::adapters() const {
  std::vector<PeripheralAdapterInfo> out;
  for (const auto& [name, a] : adapters_) out.push_back(a);
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x.name.size() != y.name.size() ? x.name.size() < y.name.size() : x.name < y.name;
  });
  return out;
}

std::vector<Address> BluezPeripheralBackend::connectedCentrals(const std::string& adapter) const {
  std::vector<Address> out;
  for (const auto& [path, d] : devices_) {
    if (d.connected && d.adapter == adapter) out.push_back(d.address);
  }
  return out;
}

// --- the application ------------------------------------------------------------------------

Operation BluezPeripheralBackend::registerApplication(const std::string& adapter,
                                                      const ApplicationSpec& spec,
                                                      Callback<absl::StatusOr<ExportedPaths>> done) {
  auto fail = [this, &done](absl::Status s) {
    post([done = std::move(done), s]() mutable { done(s); });
    return Operation();
  };
  if (!up_) return fail(unavailable());
  if (app_) {
    return fail(err::make(absl::StatusCode::kFailedPrecondition, err::Reason::kBluezError,
                          "an application is registered already; unregister it first"));
  }
  if (!adapters_.contains(adapter)) {
    return fail(err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", adapter),
                          {{err::kMetaAdapter, adapter}}));
  }
  const std::uint64_t gen = ++generation_;
  const std::string root = absl::StrCat(kObjectRoot, "/app", gen);
  auto app = HostedApplication::exportOn(bus_, root, adapter, spec, listener_, alive_);
  if (!app.ok()) return fail(app.status());
  app_ = std::move(*app);
  appAdapter_ = adapter;
  appRegistered_ = false;
  Operation op = call(
      adapterPath(adapter), kGattManager1, "RegisterApplication",
      [root](sdbus::MethodCall& m) {
        m << sdbus::ObjectPath(root) << std::map<std::string, sdbus::Variant>{};
      },
      kRegisterTimeout,
      [this, gen, done = std::move(done)](sdbus::MethodReply*, const sdbus::Error* error) mutable {
        if (gen != generation_ || !app_) {
          return done(up_ ? err::make(absl::StatusCode::kAborted, err::Reason::kInProgress,
                                      "the registration was superseded")
                          : unavailable());
        }
        if (error != nullptr) {
          app_.reset();
          return done(up_ ? err::fromBluez(error->getName(), error->getMessage(),
                                           "RegisterApplication")
                          : unavailable());
        }
        appRegistered_ = true;
        log::info("peripheral.application_registered", {{"adapter", appAdapter_}, {"path", app_->root()}});
        done(app_->paths());
      });
  return Operation([this, gen, op = std::move(op), alive = std::weak_ptr<int>(alive_)]() mutable {
    op.reset();
    // Cancelled before BlueZ took it: withdraw the objects too.
    if (!alive.expired() && gen == generation_ && !appRegistered_) app_.reset();
  });
}

Operation BluezPeripheralBackend::unregisterApplication(StatusCallback done) {
  if (!app_ || !up_ || !appRegistered_) {
    app_.reset();
    appRegistered_ = false;
    post([done = std::move(done)]() mutable { done(absl::OkStatus()); });
    return Operation();
  }
  const std::uint64_t gen = generation_;
  const std::string root = app_->root();
  return call(adapterPath(appAdapter_), kGattManager1, "UnregisterApplication",
              [root](sdbus::MethodCall& m) { m << sdbus::ObjectPath(root); }, kCallTimeout,
              [this, gen, done = std::move(done)](sdbus::MethodReply*, const sdbus::Error* error) mutable {
                if (gen == generation_) {
                  app_.reset();
                  appRegistered_ = false;
                }
                if (error != nullptr && up_ && error->getName() != "org.bluez.Error.DoesNotExist") {
                  return done(err::fromBluez(error->getName(), error->getMessage(),
                                             "UnregisterApplication"));
                }
                done(absl::OkStatus());
              });
}

absl::Status BluezPeripheralBackend::sendValue(AttributeId characteristic,
                                               absl::Span<const std::uint8_t> value) {
  if (!app_ || !appRegistered_) {
    return err::make(err::Reason::kNoDatabase, "the application is not registered with BlueZ");
  }
  return app_->emitValue(characteristic, value);
}

// --- advertisements -------------------------------------------------------------------------

Operation BluezPeripheralBackend::registerAdvertisement(const std::string& adapter,
                                                        const AdvertisementSpec& spec,
                                                        StatusCallback done) {
  auto fail = [this, &done](absl::Status s) {
    post([done = std::move(done), s]() mutable { done(s); });
    return Operation();
  };
  if (!up_) return fail(unavailable());
  if (!adapters_.contains(adapter)) {
    return fail(err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", adapter),
                          {{err::kMetaAdapter, adapter}}));
  }
  const std::string id = spec.id;
  if (adverts_.contains(id)) {
    return fail(err::make(err::Reason::kAlreadyExists,
                          absl::StrCat("advertisement \"", id, "\" is exported already")));
  }
  const std::string path = absl::StrCat(kObjectRoot, "/adv", ++advertCounter_);
  auto object = ExportedAdvertisement::exportOn(bus_, path, spec, [this, id, path] {
    // Runs inside the Release call: drop the object on the next turn.
    post([this, id, path] {
      auto it = adverts_.find(id);
      if (it == adverts_.end() || it->second.object->path() != path) return;
      adverts_.erase(it);
      log::info("peripheral.advertisement_released", {{"id", id}});
      if (listener_ != nullptr) listener_->onAdvertisementReleased(id);
    });
  });
  if (!object.ok()) return fail(object.status());
  adverts_[id] = Advert{adapter, std::move(*object), false};
  auto current = [this, id, path] {
    auto it = adverts_.find(id);
    return it != adverts_.end() && it->second.object->path() == path ? it : adverts_.end();
  };
  Operation op = call(
      adapterPath(adapter), kAdvertisingManager1, "RegisterAdvertisement",
      [path](sdbus::MethodCall& m) {
        m << sdbus::ObjectPath(path) << std::map<std::string, sdbus::Variant>{};
      },
      kCallTimeout,
      [this, current, done = std::move(done)](sdbus::MethodReply*, const sdbus::Error* error) mutable {
        auto it = current();
        if (error != nullptr) {
          if (it != adverts_.end()) adverts_.erase(it);
          return done(up_ ? err::fromBluez(error->getName(), error->getMessage(),
                                           "RegisterAdvertisement")
                          : unavailable());
        }
        if (it == adverts_.end()) {
          return done(err::make(absl::StatusCode::kAborted, err::Reason::kInProgress,
                                "the advertisement was withdrawn before BlueZ accepted it"));
        }
        it->second.registered = true;
        done(absl::OkStatus());
      });
  return Operation([this, current, op = std::move(op), alive = std::weak_ptr<int>(alive_)]() mutable {
    op.reset();
    if (alive.expired()) return;
    if (auto it = current(); it != adverts_.end() && !it->second.registered) adverts_.erase(it);
  });
}

Operation BluezPeripheralBackend::unregisterAdvertisement(const std::string& id, StatusCallback done) {
  auto it = adverts_.find(id);
  if (it == adverts_.end() || !up_ || !it->second.registered) {
    if (it != adverts_.end()) adverts_.erase(it);
    post([done = std::move(done)]() mutable { done(absl::OkStatus()); });
    return Operation();
  }
  // Out of the table at once (the id may be used again right away); the object stays exported
  // until BlueZ has let go of it.
  auto object = std::shared_ptr<ExportedAdvertisement>(std::move(it->second.object));
  const std::string adapter = it->second.adapter;
  adverts_.erase(it);
  const std::string path = object->path();
  return call(adapterPath(adapter), kAdvertisingManager1, "UnregisterAdvertisement",
              [path](sdbus::MethodCall& m) { m << sdbus::ObjectPath(path); }, kCallTimeout,
              [this, object, done = std::move(done)](sdbus::MethodReply*,
                                                     const sdbus::Error* error) mutable {
                object.reset();
                if (error != nullptr && up_ && error->getName() != "org.bluez.Error.DoesNotExist") {
                  return done(err::fromBluez(error->getName(), error->getMessage(),
                                             "UnregisterAdvertisement"));
                }
                done(absl::OkStatus());
              });
}

}  // namespace gattway::bluez
