// BlueZ's D-Bus messages → the plain data of properties.h, read by hand with sd-bus's functions
// (the message comes from dbus::rawMessage() or a reply callback). sdbus-c++ 1.2 reads through
// Variants and reads `ay` a byte at a time; these read arrays in one piece and skip what the
// gateway does not use (DBUS-PERF.md). Every function reads from the message's current position
// and returns false when the message does not have the expected shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ble/bluez/properties.h"

struct sd_bus_message;

namespace gattway::bluez {

// One `v`. Types properties.h does not list become Unsupported (and are skipped).
bool readVariant(sd_bus_message* m, PropertyValue& out);
// a{sv}. Appends to `out`.
bool readProperties(sd_bus_message* m, PropertyMap& out);
// a{sa{sv}}. Appends to `out`.
bool readInterfaces(sd_bus_message* m, InterfaceMap& out);
// a{oa{sa{sv}}}, GetManagedObjects' reply. With `under`, only that path and the paths below it
// are kept (the rest is skipped without being decoded).
bool readManagedObjects(sd_bus_message* m, std::vector<ManagedObject>& out,
                        absl::string_view under = {});
// InterfacesAdded: oa{sa{sv}}.
bool readInterfacesAdded(sd_bus_message* m, ManagedObject& out);
// InterfacesRemoved: oas.
bool readInterfacesRemoved(sd_bus_message* m, std::string& path,
                           std::vector<std::string>& interfaces);

// PropertiesChanged: sa{sv}as.
struct PropertiesChange {
  std::string interface;
  PropertyMap changed;
  std::vector<std::string> invalidated;
};
bool readPropertiesChanged(sd_bus_message* m, PropertiesChange& out);

// The notification hot path: reads PropertiesChanged's a{sv} (the interface name already read)
// and returns the `Value` bytes, pointing into the message (valid while it lives), when the change
// carries one. Other entries are skipped; `others` says whether there were any.
std::optional<absl::Span<const std::uint8_t>> findValue(sd_bus_message* m, bool* others);

// Single values of method replies.
bool readString(sd_bus_message* m, std::string& out);      // s
bool readObjectPath(sd_bus_message* m, std::string& out);  // o
// ay, pointing into the message.
bool readByteSpan(sd_bus_message* m, absl::Span<const std::uint8_t>& out);
// ay, copied.
bool readByteArray(sd_bus_message* m, Bytes& out);

// The error a reply carries, if it is one.
struct ReplyError {
  std::string name;
  std::string message;
};
std::optional<ReplyError> replyError(sd_bus_message* m);

}  // namespace gattway::bluez
