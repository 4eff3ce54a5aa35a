// D-Bus property values as plain C++ data, with no sdbus-c++ or sd-bus in sight: what
// message_parsing.h reads out of BlueZ's messages and what object_mirror.h applies. Only the types
// BlueZ's Adapter1, Device1 and GATT interfaces use are kept; anything else is read as
// `Unsupported` and ignored.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"

namespace gattway::bluez {

using Bytes = std::vector<std::uint8_t>;

// An `o` value (Device1.Adapter, GattService1.Device, ...), kept apart from `s`.
struct ObjectPathValue {
  std::string path;
  bool operator==(const ObjectPathValue&) const = default;
};

// A type this code does not read; the value was skipped.
struct Unsupported {
  bool operator==(const Unsupported&) const = default;
};

using PropertyValue = std::variant<Unsupported,
                                   bool,                             // b
                                   std::uint8_t,                     // y
                                   std::int16_t,                     // n
                                   std::uint16_t,                    // q
                                   std::uint32_t,                    // u
                                   std::string,                      // s
                                   ObjectPathValue,                  // o
                                   std::vector<std::string>,         // as
                                   Bytes,                            // ay
                                   std::map<std::uint16_t, Bytes>,   // a{qv} of ay (ManufacturerData)
                                   std::map<std::string, Bytes>,     // a{sv} of ay (ServiceData)
                                   std::map<std::uint8_t, Bytes>>;   // a{yv} of ay (AdvertisingData)

struct Property {
  std::string name;
  PropertyValue value;
};
// a{sv}. A vector: BlueZ sends a handful of entries, and a lookup is a short scan.
using PropertyMap = std::vector<Property>;

// The value of `name` when present and of type T, else nullptr.
template <typename T>
const T* findProperty(const PropertyMap& properties, absl::string_view name) {
  for (const auto& p : properties) {
    if (p.name == name) return std::get_if<T>(&p.value);
  }
  return nullptr;
}

struct InterfaceProperties {
  std::string interface;
  PropertyMap properties;
};
// a{sa{sv}}: an object's interfaces with their properties.
using InterfaceMap = std::vector<InterfaceProperties>;

// One entry of GetManagedObjects (a{oa{sa{sv}}}), or the body of InterfacesAdded (oa{sa{sv}}).
struct ManagedObject {
  std::string path;
  InterfaceMap interfaces;
};

// BlueZ's interface names.
namespace iface {
inline constexpr absl::string_view kAdapter = "org.bluez.Adapter1";
inline constexpr absl::string_view kAdvertisingManager = "org.bluez.LEAdvertisingManager1";
inline constexpr absl::string_view kDevice = "org.bluez.Device1";
inline constexpr absl::string_view kService = "org.bluez.GattService1";
inline constexpr absl::string_view kCharacteristic = "org.bluez.GattCharacteristic1";
inline constexpr absl::string_view kDescriptor = "org.bluez.GattDescriptor1";
inline constexpr absl::string_view kProperties = "org.freedesktop.DBus.Properties";
inline constexpr absl::string_view kObjectManager = "org.freedesktop.DBus.ObjectManager";
}  // namespace iface

}  // namespace gattway::bluez
