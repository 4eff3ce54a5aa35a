#include "ble/dbus/message_bytes.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <string>

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

namespace {

// Element types sd_bus_message_read_array takes in one piece (fixed size, no fds).
bool isTrivial(char type) { return type != 0 && std::strchr("ybnqiuxtd", type) != nullptr; }

// The complete signature of the value a peek found: "ay", "v", "(su)", "{sv}", "s", ...
std::string signatureOf(char type, const char* contents) {
  switch (type) {
    case SD_BUS_TYPE_ARRAY: return std::string("a") + contents;
    case SD_BUS_TYPE_STRUCT: return std::string("(") + contents + ")";
    case SD_BUS_TYPE_DICT_ENTRY: return std::string("{") + contents + "}";
    default: return std::string(1, type);
  }
}

// Skips the next value. sd_bus_message_skip walks arrays element by element (a 244-byte `ay` is
// 244 steps, each rescanning the signature); arrays of fixed-size elements are taken here in one
// read instead, at any depth (ManufacturerData's a{qv} of ay, a Value's ay inside a variant).
bool skipValue(sd_bus_message* m) {
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m, &type, &contents) <= 0) return false;
  if (type == SD_BUS_TYPE_ARRAY && isTrivial(contents[0]) && contents[1] == 0) {
    const void* data = nullptr;
    std::size_t size = 0;
    return sd_bus_message_read_array(m, contents[0], &data, &size) >= 0;
  }
  if (contents == nullptr) return sd_bus_message_skip(m, signatureOf(type, "").c_str()) >= 0;
  if (sd_bus_message_enter_container(m, type, contents) <= 0) return false;
  for (;;) {
    const int more = sd_bus_message_at_end(m, false);
    if (more < 0) return false;
    if (more > 0) break;
    if (!skipValue(m)) return false;
  }
  return sd_bus_message_exit_container(m) >= 0;
}

}  // namespace

bool skip(sdbus::Message& message, const char* signature) {
  sd_bus_message* m = MessageAccess::raw(message);
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m, &type, &contents) <= 0) return false;
  if (signatureOf(type, contents != nullptr ? contents : "") != signature) return false;
  return skipValue(m);
}

}  // namespace gattway::dbus
