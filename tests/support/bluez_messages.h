// Writing BlueZ-shaped D-Bus messages in tests: property values as variants (the reverse of
// ble/bluez/message_parsing.h), and an sd-bus that builds messages without any bus running.
#pragma once

#include <string>

#include "ble/bluez/bus.h"
#include "ble/bluez/properties.h"

struct sd_bus;
struct sd_bus_message;

namespace gattway::testing {

bool appendVariant(sd_bus_message* m, const bluez::PropertyValue& value);
bool appendProperties(sd_bus_message* m, const bluez::PropertyMap& properties);  // a{sv}
bool appendInterfaces(sd_bus_message* m, const bluez::InterfaceMap& interfaces);  // a{sa{sv}}
bool appendStrings(sd_bus_message* m, const std::vector<std::string>& strings);   // as

// Builds messages on an sd-bus connected to nothing (a socketpair nobody reads), for parser tests.
class OfflineMessages {
 public:
  OfflineMessages();
  ~OfflineMessages();
  OfflineMessages(const OfflineMessages&) = delete;
  OfflineMessages& operator=(const OfflineMessages&) = delete;

  bluez::MessagePtr signal(const std::string& path, const std::string& interface,
                           const std::string& member);
  // Seals `m` and rewinds it, so it reads as a received message does.
  void seal(sd_bus_message* m);

 private:
  sd_bus* bus_ = nullptr;
  int peer_ = -1;
  std::uint64_t cookie_ = 1;
};

}  // namespace gattway::testing
