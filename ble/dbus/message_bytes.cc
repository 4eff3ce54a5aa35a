#include "ble/dbus/message_bytes.h"

#include <systemd/sd-bus.h>

#include "sdbus-c++/Error.h"

namespace gattway::dbus {
namespace {

// sdbus::Message keeps its sd_bus_message* in a protected member. Naming that member through a
// derived class yields a pointer-to-member of Message, which reads it from any Message: the
// standard way to reach a protected member without casting objects to a type they are not.
struct MessageAccess : sdbus::Message {
  static sd_bus_message* raw(sdbus::Message& m) {
    return static_cast<sd_bus_message*>(m.*(&MessageAccess::msg_));
  }
};

}  // namespace

sd_bus_message* rawMessage(sdbus::Message& message) { return MessageAccess::raw(message); }

bool readBytes(sdbus::Message& message, std::vector<std::uint8_t>& out) {
  out.clear();
  const void* data = nullptr;
  std::size_t size = 0;
  const int r = sd_bus_message_read_array(MessageAccess::raw(message), 'y', &data, &size);
  if (r < 0) return false;
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out.assign(bytes, bytes + size);
  return true;
}

void appendBytes(sdbus::Message& message, const std::uint8_t* data, std::size_t size) {
  const int r = sd_bus_message_append_array(MessageAccess::raw(message), 'y', data, size);
  if (r < 0) throw sdbus::Error("org.freedesktop.DBus.Error.NoMemory", "cannot append byte array");
}

bool skip(sdbus::Message& message, const char* signature) {
  return sd_bus_message_skip(MessageAccess::raw(message), signature) >= 0;
}

}  // namespace gattway::dbus
