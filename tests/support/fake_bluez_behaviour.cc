// What the scripted org.bluez answers when a test has not scripted a call: Properties
// Get/Set/GetAll, GetManagedObjects, and the default behaviour of Adapter1 (discovery), Device1
// (connect, disconnect) and the GATT interfaces (read, write, notify), as BlueZ 5.66 does it.
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "ble/bluez/message_parsing.h"
#include "ble/bluez/paths.h"
#include "tests/support/bluez_messages.h"
#include "tests/support/bluez_objects.h"
#include "tests/support/fake_bluez.h"

namespace gattway::testing {

using bluez::Bytes;
using bluez::ManagedObject;
using bluez::PropertyMap;
using bluez::PropertyValue;

namespace {
const std::string kDevice(bluez::iface::kDevice);
const std::string kAdapter(bluez::iface::kAdapter);
const std::string kCharacteristic(bluez::iface::kCharacteristic);
const std::string kDescriptor(bluez::iface::kDescriptor);
}  // namespace

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
      if (!absl::StartsWith(device.path, path + "/")) continue;
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
    if (absl::StartsWith(path, devicePath + "/")) sockets.push_back(path);
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
