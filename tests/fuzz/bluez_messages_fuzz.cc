// What bluetoothd (or anything else owning org.bluez) sends the gateway, as D-Bus messages built
// from the fuzzer's input: InterfacesAdded, PropertiesChanged (advertisement data: RSSI,
// ManufacturerData, ServiceData, AdvertisingData, UUIDs, ... and notification Values),
// InterfacesRemoved and GetManagedObjects replies, with well-formed and ill-typed values, valid and
// odd object paths, in any order. Each is read the way BluezWatcher reads it and applied to an
// ObjectMirror, which is then queried. Nothing may crash, hang or leak.
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "ble/bluez/message_parsing.h"
#include "ble/bluez/object_mirror.h"

namespace {

using namespace gattway;
using namespace gattway::bluez;

// sd-bus makes messages only for a started bus: a peer connection on a socket pair that never
// carries anything.
sd_bus* messageFactory() {
  static sd_bus* bus = [] {
    sd_bus* b = nullptr;
    int fds[2];
    if (sd_bus_new(&b) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0 ||
        sd_bus_set_fd(b, fds[0], fds[0]) < 0 || sd_bus_start(b) < 0) {
      abort();
    }
    return b;
  }();
  return bus;
}

class MessageBuilder {
 public:
  explicit MessageBuilder(FuzzedDataProvider& in) : in_(in) {}

  std::string path() {
    static const char* const kPaths[] = {
        "/org/bluez/hci0",
        "/org/bluez/hci1",
        "/org/bluez/hci0/dev_C0_FF_EE_00_01_01",
        "/org/bluez/hci0/dev_C0_FF_EE_00_01_01/service000a",
        "/org/bluez/hci0/dev_C0_FF_EE_00_01_01/service000a/char000b",
        "/org/bluez/hci0/dev_C0_FF_EE_00_01_01/service000a/char000b/desc000d",
        "/org/bluez/hci1/dev_00_00_00_00_00_00/service0001/char0002",
        "/",
    };
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0:
        return kPaths[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kPaths) - 1)];
      case 1:  // a well-shaped path with odd numbers
        return "/org/bluez/hci" + std::to_string(in_.ConsumeIntegral<std::uint8_t>()) + "/dev_" +
               hexAddress() + "/service" + hex4() + "/char" + hex4();
      default:
        return "/org/bluez/" + in_.ConsumeRandomLengthString(40);
    }
  }

  std::string interface() {
    static const char* const kInterfaces[] = {
        "org.bluez.Adapter1",        "org.bluez.Device1",         "org.bluez.GattService1",
        "org.bluez.GattCharacteristic1", "org.bluez.GattDescriptor1", "org.bluez.LEAdvertisingManager1",
        "org.freedesktop.DBus.Properties",
    };
    if (in_.ConsumeBool()) return in_.ConsumeRandomLengthString(30);
    return kInterfaces[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kInterfaces) - 1)];
  }

  std::string propertyName() {
    static const char* const kNames[] = {
        "Address", "AddressType", "Name", "Alias", "RSSI", "TxPower", "ManufacturerData",
        "ServiceData", "AdvertisingData", "AdvertisingFlags", "UUIDs", "Connected",
        "ServicesResolved", "Paired", "Bonded", "Adapter", "Appearance", "Powered",
        "Discovering", "UUID", "Device", "Service", "Characteristic", "Flags", "Handle", "MTU",
        "Value", "Notifying", "NotifyAcquired", "Primary", "Class", "Icon", "Blocked", "Trusted",
    };
    if (in_.ConsumeIntegralInRange(0, 7) == 0) return in_.ConsumeRandomLengthString(20);
    return kNames[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kNames) - 1)];
  }

  // One value inside a `v`, of a type BlueZ uses or not.
  bool variant(sd_bus_message* m, int depth) {
    static const char* const kTypes[] = {"b", "y", "n", "q", "i", "u", "x", "t", "d", "s", "o",
                                         "as", "ay", "a{qv}", "a{sv}", "a{yv}", "ao", "(ii)"};
    const char* type = kTypes[in_.ConsumeIntegralInRange<std::size_t>(0, std::size(kTypes) - 1)];
    if (depth > 3 && type[0] == 'a' && type[1] == '{') type = "ay";
    if (sd_bus_message_open_container(m, 'v', type) < 0) return false;
    if (!value(m, type, depth)) return false;
    return sd_bus_message_close_container(m) >= 0;
  }

  bool value(sd_bus_message* m, const char* type, int depth) {
    if (std::strcmp(type, "as") == 0 || std::strcmp(type, "ao") == 0) {
      if (sd_bus_message_open_container(m, 'a', type + 1) < 0) return false;
      for (int i = in_.ConsumeIntegralInRange(0, 4); i > 0; --i) {
        const std::string s = type[1] == 'o' ? path() : in_.ConsumeRandomLengthString(40);
        if (sd_bus_message_append_basic(m, type[1], s.c_str()) < 0) return false;
      }
      return sd_bus_message_close_container(m) >= 0;
    }
    if (std::strcmp(type, "ay") == 0) {
      const auto bytes = in_.ConsumeBytes<std::uint8_t>(in_.ConsumeIntegralInRange(0, 600));
      return sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size()) >= 0;
    }
    if (type[0] == 'a' && type[1] == '{') {
      const char key = type[2];
      const std::string entry = std::string("{") + key + "v}";
      if (sd_bus_message_open_container(m, 'a', entry.c_str()) < 0) return false;
      for (int i = in_.ConsumeIntegralInRange(0, 4); i > 0; --i) {
        if (sd_bus_message_open_container(m, 'e', entry.substr(1, 2).c_str()) < 0) return false;
        bool ok = false;
        if (key == 's') {
          const std::string k = key == 's' && depth == 0 ? propertyName()
                                                         : in_.ConsumeRandomLengthString(36);
          ok = sd_bus_message_append_basic(m, 's', k.c_str()) >= 0;
        } else if (key == 'q') {
          const auto k = in_.ConsumeIntegral<std::uint16_t>();
          ok = sd_bus_message_append_basic(m, 'q', &k) >= 0;
        } else {
          const auto k = in_.ConsumeIntegral<std::uint8_t>();
          ok = sd_bus_message_append_basic(m, 'y', &k) >= 0;
        }
        if (!ok || !variant(m, depth + 1)) return false;
        if (sd_bus_message_close_container(m) < 0) return false;
      }
      return sd_bus_message_close_container(m) >= 0;
    }
    if (std::strcmp(type, "(ii)") == 0) {
      const std::int32_t a = in_.ConsumeIntegral<std::int32_t>(), b = in_.ConsumeIntegral<std::int32_t>();
      return sd_bus_message_append(m, "(ii)", a, b) >= 0;
    }
    if (type[0] == 's' || type[0] == 'o') {
      const std::string s = type[0] == 'o' ? path() : in_.ConsumeRandomLengthString(60);
      return sd_bus_message_append_basic(m, type[0], s.c_str()) >= 0;
    }
    std::uint64_t raw = in_.ConsumeIntegral<std::uint64_t>();
    if (type[0] == 'b') raw &= 1;
    return sd_bus_message_append_basic(m, type[0], &raw) >= 0;
  }

  // a{sv}, the first level of which names properties.
  bool properties(sd_bus_message* m) {
    if (sd_bus_message_open_container(m, 'a', "{sv}") < 0) return false;
    for (int i = in_.ConsumeIntegralInRange(0, 8); i > 0; --i) {
      const std::string name = propertyName();
      if (sd_bus_message_open_container(m, 'e', "sv") < 0 ||
          sd_bus_message_append_basic(m, 's', name.c_str()) < 0 || !variant(m, 1) ||
          sd_bus_message_close_container(m) < 0) {
        return false;
      }
    }
    return sd_bus_message_close_container(m) >= 0;
  }

  // a{sa{sv}}.
  bool interfaces(sd_bus_message* m) {
    if (sd_bus_message_open_container(m, 'a', "{sa{sv}}") < 0) return false;
    for (int i = in_.ConsumeIntegralInRange(0, 3); i > 0; --i) {
      const std::string name = interface();
      if (sd_bus_message_open_container(m, 'e', "sa{sv}") < 0 ||
          sd_bus_message_append_basic(m, 's', name.c_str()) < 0 || !properties(m) ||
          sd_bus_message_close_container(m) < 0) {
        return false;
      }
    }
    return sd_bus_message_close_container(m) >= 0;
  }

 private:
  std::string hexAddress() {
    static const char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (int i = 0; i < 6; ++i) {
      const auto b = in_.ConsumeIntegral<std::uint8_t>();
      if (i > 0) out += '_';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    return out;
  }
  std::string hex4() {
    static const char kHex[] = "0123456789abcdef";
    const auto v = in_.ConsumeIntegral<std::uint16_t>();
    return {kHex[v >> 12], kHex[(v >> 8) & 15], kHex[(v >> 4) & 15], kHex[v & 15]};
  }

  FuzzedDataProvider& in_;
};

struct Message {
  sd_bus_message* m = nullptr;
  ~Message() { sd_bus_message_unref(m); }
  bool seal() { return sd_bus_message_seal(m, 1, 0) >= 0 && sd_bus_message_rewind(m, 1) >= 0; }
};

void query(const ObjectMirror& mirror) {
  for (const AdapterNode* adapter : mirror.adapters()) {
    for (const DeviceNode* device : mirror.devices(adapter->info.name)) {
      (void)ObjectMirror::serviceTree(*device);
      (void)ObjectMirror::mtu(*device);
      for (std::uint16_t handle : {0x0001, 0x000b, 0x000d, 0xffff}) {
        (void)ObjectMirror::attribute(*device, handle);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  MessageBuilder build(in);
  ObjectMirror mirror;
  for (int step = 0; step < 32 && in.remaining_bytes() > 0; ++step) {
    Message msg;
    if (sd_bus_message_new_signal(messageFactory(), &msg.m, "/", "org.freedesktop.DBus.ObjectManager",
                                  "InterfacesAdded") < 0) {
      abort();
    }
    MirrorEvents events;
    const std::string path = build.path();
    switch (in.ConsumeIntegralInRange(0, 4)) {
      case 0: {  // InterfacesAdded: oa{sa{sv}}
        if (sd_bus_message_append_basic(msg.m, 'o', path.c_str()) < 0 ||
            !build.interfaces(msg.m) || !msg.seal()) {
          continue;
        }
        ManagedObject object;
        if (readInterfacesAdded(msg.m, object)) mirror.interfacesAdded(object, events);
        break;
      }
      case 1: {  // PropertiesChanged: sa{sv}as, read as BluezWatcher reads it
        const std::string iface = build.interface();
        if (sd_bus_message_append_basic(msg.m, 's', iface.c_str()) < 0 ||
            !build.properties(msg.m) || !build.value(msg.m, "as", 0) || !msg.seal()) {
          continue;
        }
        const char* name = nullptr;
        if (sd_bus_message_read_basic(msg.m, 's', &name) > 0 &&
            std::strcmp(name, "org.bluez.GattCharacteristic1") == 0) {
          bool others = false;
          (void)findValue(msg.m, &others);
        }
        if (sd_bus_message_rewind(msg.m, 1) < 0) continue;
        PropertiesChange change;
        if (readPropertiesChanged(msg.m, change)) {
          mirror.propertiesChanged(path, change.interface, change.changed, change.invalidated,
                                   events);
        }
        break;
      }
      case 2: {  // InterfacesRemoved: oas
        if (sd_bus_message_append_basic(msg.m, 'o', path.c_str()) < 0 ||
            !build.value(msg.m, "as", 0) || !msg.seal()) {
          continue;
        }
        std::string removedPath;
        std::vector<std::string> interfaces;
        if (readInterfacesRemoved(msg.m, removedPath, interfaces)) {
          mirror.interfacesRemoved(removedPath, interfaces, events);
        }
        break;
      }
      default: {  // GetManagedObjects' reply, applied whole or to one device
        if (sd_bus_message_open_container(msg.m, 'a', "{oa{sa{sv}}}") < 0) continue;
        bool ok = true;
        for (int i = in.ConsumeIntegralInRange(0, 6); ok && i > 0; --i) {
          const std::string objectPath = build.path();
          ok = sd_bus_message_open_container(msg.m, 'e', "oa{sa{sv}}") >= 0 &&
               sd_bus_message_append_basic(msg.m, 'o', objectPath.c_str()) >= 0 &&
               build.interfaces(msg.m) && sd_bus_message_close_container(msg.m) >= 0;
        }
        if (!ok || sd_bus_message_close_container(msg.m) < 0 || !msg.seal()) continue;
        std::vector<ManagedObject> objects;
        if (!readManagedObjects(msg.m, objects, in.ConsumeBool() ? "/org/bluez" : "")) break;
        if (in.ConsumeBool()) {
          mirror.replaceAll(objects, events);
        } else if (auto address = Address::parse("C0:FF:EE:00:01:01"); address.ok()) {
          mirror.syncDevice("hci0", *address, objects, events);
        }
        break;
      }
    }
    query(mirror);
  }
  return 0;
}
