#include "ble/bluez/hosted_application.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ble/dbus/message_bytes.h"
#include "ble/error.h"
#include "ble/log.h"
#include "sdbus-c++/Error.h"
#include "sdbus-c++/Types.h"

namespace gattway::bluez {
namespace {

constexpr const char* kService = "org.bluez.GattService1";
constexpr const char* kCharacteristic = "org.bluez.GattCharacteristic1";
constexpr const char* kDescriptor = "org.bluez.GattDescriptor1";

// "read" / "encrypt-read" / "encrypt-authenticated-read" / "secure-read" (and the same for write).
std::string secured(absl::string_view op, AttributeSecurity security) {
  switch (security) {
    case AttributeSecurity::kEncrypted: return absl::StrCat("encrypt-", op);
    case AttributeSecurity::kAuthenticated: return absl::StrCat("encrypt-authenticated-", op);
    case AttributeSecurity::kSecure: return absl::StrCat("secure-", op);
    case AttributeSecurity::kNone: break;
  }
  return std::string(op);
}

// Runs `fn`, turning anything thrown into a log line: nothing escapes into the loop.
template <typename Fn>
void guarded(absl::string_view what, Fn&& fn) {
  try {
    fn();
  } catch (const sdbus::Error& e) {
    log::warn("peripheral.dbus_reply_failed", {{"what", what}, {"error", e.getMessage()}});
  } catch (const std::exception& e) {
    log::warn("peripheral.dbus_reply_failed", {{"what", what}, {"error", e.what()}});
  }
}

}  // namespace

std::vector<std::string> characteristicFlags(const HostedCharacteristicSpec& spec) {
  std::vector<std::string> flags;
  if (spec.properties & gatt_property::kRead) flags.push_back(secured("read", spec.readSecurity));
  if (spec.properties & gatt_property::kWrite) flags.push_back(secured("write", spec.writeSecurity));
  if (spec.properties & gatt_property::kWriteWithoutResponse) {
    flags.push_back("write-without-response");
    // A secured write-only-without-response characteristic: the security flag carries it.
    if (!(spec.properties & gatt_property::kWrite) && spec.writeSecurity != AttributeSecurity::kNone) {
      flags.push_back(secured("write", spec.writeSecurity));
    }
  }
  if (spec.properties & gatt_property::kNotify) flags.push_back("notify");
  if (spec.properties & gatt_property::kIndicate) flags.push_back("indicate");
  return flags;
}

std::vector<std::string> descriptorFlags(const HostedDescriptorSpec& spec) {
  std::vector<std::string> flags;
  if (spec.read) flags.push_back(secured("read", spec.readSecurity));
  if (spec.write) flags.push_back(secured("write", spec.writeSecurity));
  return flags;
}

BluezErrorReply attErrorReply(std::uint8_t code, bool write) {
  switch (code) {
    case 0x02:
      if (!write) return {"org.bluez.Error.NotPermitted", "Read not permitted"};
      break;
    case 0x03:
      if (write) return {"org.bluez.Error.NotPermitted", "Write not permitted"};
      break;
    case 0x06: return {"org.bluez.Error.NotSupported", "Request not supported"};
    case 0x07: return {"org.bluez.Error.InvalidOffset", "Invalid offset"};
    case 0x08: return {"org.bluez.Error.NotAuthorized", "Insufficient authorization"};
    case 0x0D: return {"org.bluez.Error.InvalidValueLength", "Invalid attribute value length"};
    case 0xFE: return {"org.bluez.Error.InProgress", "Procedure already in progress"};
    default: break;
  }
  return {"org.bluez.Error.Failed", absl::StrFormat("0x%02x", code)};
}

bool parseDevicePath(absl::string_view path, std::string& adapter, Address& address) {
  constexpr absl::string_view kPrefix = "/org/bluez/";
  if (!absl::StartsWith(path, kPrefix)) return false;
  absl::string_view rest = path.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == absl::string_view::npos) return false;
  auto parsed = Address::fromBluezPathComponent(rest.substr(slash + 1));
  if (!parsed.ok()) return false;
  adapter = std::string(rest.substr(0, slash));
  address = *parsed;
  return absl::StartsWith(adapter, "hci");
}

std::string adapterOfPath(absl::string_view path) {
  constexpr absl::string_view kPrefix = "/org/bluez/hci";
  if (!absl::StartsWith(path, kPrefix) || path.size() == kPrefix.size()) return "";
  for (char c : path.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return "";
  }
  return std::string(path.substr(std::string_view("/org/bluez/").size()));
}

HostedApplication::HostedApplication(sdbus::IConnection& bus, std::string root, std::string adapter,
                                     PeripheralBackendListener* listener, std::weak_ptr<void> alive)
    : bus_(bus), root_(std::move(root)), adapter_(std::move(adapter)), listener_(listener),
      alive_(std::move(alive)) {}

HostedApplication::~HostedApplication() {
  // Children first, the ObjectManager last.
  objects_.clear();
  rootObject_.reset();
}

absl::StatusOr<std::unique_ptr<HostedApplication>> HostedApplication::exportOn(
    sdbus::IConnection& bus, const std::string& root, const std::string& adapter,
    const ApplicationSpec& spec, PeripheralBackendListener* listener, std::weak_ptr<void> alive) {
  std::unique_ptr<HostedApplication> app(
      new HostedApplication(bus, root, adapter, listener, std::move(alive)));
  try {
    app->build(spec);
  } catch (const sdbus::Error& e) {
    return err::make(absl::StatusCode::kInternal, err::Reason::kBluezError,
                     absl::StrCat("cannot export the GATT application at ", root, ": ",
                                  e.getMessage()));
  }
  return app;
}

void HostedApplication::build(const ApplicationSpec& spec) {
  rootObject_ = sdbus::createObject(bus_, root_);
  rootObject_->addObjectManager();
  rootObject_->finishRegistration();
  for (std::size_t s = 0; s < spec.services.size(); ++s) {
    const HostedServiceSpec& svc = spec.services[s];
    const std::string servicePath = absl::StrCat(root_, "/service", s);
    auto service = sdbus::createObject(bus_, servicePath);
    const std::string serviceUuid = svc.uuid.toLongString();
    const bool primary = svc.primary;
    service->registerProperty(kService, "UUID", "s",
                              [serviceUuid](sdbus::PropertyGetReply& r) { r << serviceUuid; });
    service->registerProperty(kService, "Primary", "b",
                              [primary](sdbus::PropertyGetReply& r) { r << primary; });
    service->finishRegistration();
    objects_.push_back(std::move(service));
    for (std::size_t c = 0; c < svc.characteristics.size(); ++c) {
      const HostedCharacteristicSpec& ch = svc.characteristics[c];
      const std::string charPath = absl::StrCat(servicePath, "/char", c);
      auto object = sdbus::createObject(bus_, charPath);
      const std::string uuid = ch.uuid.toLongString();
      const std::vector<std::string> flags = characteristicFlags(ch);
      const sdbus::ObjectPath parent(servicePath);
      object->registerProperty(kCharacteristic, "UUID", "s",
                               [uuid](sdbus::PropertyGetReply& r) { r << uuid; });
      object->registerProperty(kCharacteristic, "Service", "o",
                               [parent](sdbus::PropertyGetReply& r) { r << parent; });
      object->registerProperty(kCharacteristic, "Flags", "as",
                               [flags](sdbus::PropertyGetReply& r) { r << flags; });
      addAttributeMethods(*object, kCharacteristic, ch.id, true);
      const AttributeId id = ch.id;
      // StartNotify/StopNotify/Confirm: BlueZ sends them without waiting (gatt-database.c);
      // answer only when a reply is expected.
      auto simple = [this, id](void (PeripheralBackendListener::*event)(AttributeId)) {
        return [this, id, event](sdbus::MethodCall call) {
          if (!call.doesntExpectReply()) guarded("notify reply", [&] { call.createReply().send(); });
          (listener_->*event)(id);
        };
      };
      object->registerMethod(kCharacteristic, "StartNotify", "", "",
                             simple(&PeripheralBackendListener::onNotifyStarted));
      object->registerMethod(kCharacteristic, "StopNotify", "", "",
                             simple(&PeripheralBackendListener::onNotifyStopped));
      object->registerMethod(kCharacteristic, "Confirm", "", "",
                             simple(&PeripheralBackendListener::onIndicationConfirmed));
      // Not offered (no WriteAcquired/NotifyAcquired property), refused if called anyway.
      for (const char* acquire : {"AcquireWrite", "AcquireNotify"}) {
        object->registerMethod(kCharacteristic, acquire, "a{sv}", "hq", [](sdbus::MethodCall call) {
          guarded("acquire", [&] {
            call.createErrorReply(sdbus::Error("org.bluez.Error.NotSupported",
                                               "The gateway serves values through ReadValue, "
                                               "WriteValue and PropertiesChanged"))
                .send();
          });
        });
      }
      object->finishRegistration();
      characteristics_[ch.id] = object.get();
      paths_[ch.id] = charPath;
      objects_.push_back(std::move(object));
      for (std::size_t d = 0; d < ch.descriptors.size(); ++d) {
        const HostedDescriptorSpec& de = ch.descriptors[d];
        const std::string descPath = absl::StrCat(charPath, "/desc", d);
        auto desc = sdbus::createObject(bus_, descPath);
        const std::string duuid = de.uuid.toLongString();
        const std::vector<std::string> dflags = descriptorFlags(de);
        const sdbus::ObjectPath owner(charPath);
        desc->registerProperty(kDescriptor, "UUID", "s",
                               [duuid](sdbus::PropertyGetReply& r) { r << duuid; });
        desc->registerProperty(kDescriptor, "Characteristic", "o",
                               [owner](sdbus::PropertyGetReply& r) { r << owner; });
        desc->registerProperty(kDescriptor, "Flags", "as",
                               [dflags](sdbus::PropertyGetReply& r) { r << dflags; });
        addAttributeMethods(*desc, kDescriptor, de.id, false);
        desc->finishRegistration();
        paths_[de.id] = descPath;
        objects_.push_back(std::move(desc));
      }
    }
  }
}

void HostedApplication::addAttributeMethods(sdbus::IObject& object, const std::string& interface,
                                            AttributeId id, bool) {
  object.registerMethod(interface, "ReadValue", "a{sv}", "ay",
                        [this, id](sdbus::MethodCall call) { onReadValue(id, std::move(call)); });
  object.registerMethod(interface, "WriteValue", "aya{sv}", "",
                        [this, id](sdbus::MethodCall call) { onWriteValue(id, std::move(call)); });
}

bool HostedApplication::parseOptions(sdbus::MethodCall& call, AttributeId id, AttRequest& out,
                                     bool* prepareAuthorize) {
  out.attribute = id;
  out.adapter = adapter_;
  try {
    std::map<std::string, sdbus::Variant> options;
    call >> options;
    for (auto& [key, value] : options) {
      if (key == "device") {
        std::string adapter;
        if (!parseDevicePath(value.get<sdbus::ObjectPath>(), adapter, out.central)) {
          throw sdbus::Error("org.bluez.Error.InvalidArguments", "device is not a BlueZ device path");
        }
        out.adapter = adapter;
      } else if (key == "offset") {
        out.offset = value.get<std::uint16_t>();
      } else if (key == "mtu") {
        out.mtu = value.get<std::uint16_t>();
      } else if (key == "link") {
        out.link = value.get<std::string>();
      } else if (key == "prepare-authorize" && prepareAuthorize != nullptr) {
        *prepareAuthorize = value.get<bool>();
      }
      // "type" (sent by later BlueZ versions) is not needed.
    }
    return true;
  } catch (const sdbus::Error& e) {
    guarded("options", [&] {
      call.createErrorReply(sdbus::Error("org.bluez.Error.InvalidArguments", e.getMessage())).send();
    });
    return false;
  }
}

AttResponder HostedApplication::responder(sdbus::MethodCall call, bool write, bool withValue) {
  return AttResponder([call = std::move(call), alive = alive_,
                       exported = std::weak_ptr<void>(exported_), write,
                       withValue](std::uint8_t code, std::vector<std::uint8_t> value) {
    if (alive.expired() || exported.expired() || call.doesntExpectReply()) return;
    guarded(write ? "WriteValue reply" : "ReadValue reply", [&] {
      if (code != 0) {
        const BluezErrorReply e = attErrorReply(code, write);
        call.createErrorReply(sdbus::Error(e.name, e.message)).send();
        return;
      }
      auto reply = call.createReply();
      if (withValue) dbus::appendBytes(reply, value);
      reply.send();
    });
  });
}

void HostedApplication::onReadValue(AttributeId id, sdbus::MethodCall call) {
  AttRequest request;
  if (!parseOptions(call, id, request)) return;
  listener_->onRead(request, responder(std::move(call), false, true));
}

void HostedApplication::onWriteValue(AttributeId id, sdbus::MethodCall call) {
  std::vector<std::uint8_t> value;
  if (!dbus::readBytes(call, value)) {
    guarded("WriteValue", [&] {
      call.createErrorReply(sdbus::Error("org.bluez.Error.InvalidArguments", "value is not ay"))
          .send();
    });
    return;
  }
  AttRequest request;
  bool prepareAuthorize = false;
  if (!parseOptions(call, id, request, &prepareAuthorize)) return;
  const bool responseExpected = !call.doesntExpectReply();
  AttResponder answer = responder(std::move(call), true, false);
  // "prepare-authorize" only asks whether a prepared write may go ahead; its data comes again
  // with the execute. Attributes here never ask for authorization, so it may.
  if (prepareAuthorize) return answer.succeed();
  listener_->onWrite(request, std::move(value), responseExpected, std::move(answer));
}

absl::Status HostedApplication::emitValue(AttributeId characteristic,
                                          absl::Span<const std::uint8_t> value) {
  auto it = characteristics_.find(characteristic);
  if (it == characteristics_.end()) {
    return err::make(err::Reason::kAttributeNotFound, "no such hosted characteristic");
  }
  try {
    auto signal = it->second->createSignal("org.freedesktop.DBus.Properties", "PropertiesChanged");
    signal << std::string(kCharacteristic);
    signal.openContainer("{sv}");
    signal.openDictEntry("sv");
    signal << std::string("Value");
    signal.openVariant("ay");
    dbus::appendBytes(signal, value.data(), value.size());
    signal.closeVariant();
    signal.closeDictEntry();
    signal.closeContainer();
    signal << std::vector<std::string>{};
    it->second->emitSignal(signal);
  } catch (const sdbus::Error& e) {
    return err::make(absl::StatusCode::kUnavailable, err::Reason::kBluezError,
                     absl::StrCat("cannot send the value: ", e.getMessage()));
  }
  return absl::OkStatus();
}

}  // namespace gattway::bluez
