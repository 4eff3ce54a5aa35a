#include "tests/support/bluez_messages.h"

#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <stdexcept>
#include <type_traits>

namespace gattway::testing {
namespace {

template <typename Map>
bool appendByteMap(sd_bus_message* m, char keyType, const char* entry, const char* array,
                   const Map& map) {
  if (sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, array) < 0) return false;
  for (const auto& [key, bytes] : map) {
    if (sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, entry) < 0) return false;
    if constexpr (std::is_same_v<std::decay_t<decltype(key)>, std::string>) {
      if (sd_bus_message_append_basic(m, keyType, key.c_str()) < 0) return false;
    } else {
      if (sd_bus_message_append_basic(m, keyType, &key) < 0) return false;
    }
    if (sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, "ay") < 0 ||
        sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size()) < 0 ||
        sd_bus_message_close_container(m) < 0 || sd_bus_message_close_container(m) < 0) {
      return false;
    }
  }
  return sd_bus_message_close_container(m) >= 0;
}

}  // namespace

bool appendStrings(sd_bus_message* m, const std::vector<std::string>& strings) {
  if (sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "s") < 0) return false;
  for (const auto& s : strings) {
    if (sd_bus_message_append_basic(m, 's', s.c_str()) < 0) return false;
  }
  return sd_bus_message_close_container(m) >= 0;
}

bool appendVariant(sd_bus_message* m, const bluez::PropertyValue& value) {
  using namespace bluez;
  struct Visitor {
    sd_bus_message* m;
    bool open(const char* sig) { return sd_bus_message_open_container(m, 'v', sig) >= 0; }
    bool close() { return sd_bus_message_close_container(m) >= 0; }
    bool operator()(const Unsupported&) { return open("i") && sd_bus_message_append(m, "i", 0) >= 0 && close(); }
    bool operator()(bool v) { return sd_bus_message_append(m, "v", "b", static_cast<int>(v)) >= 0; }
    bool operator()(std::uint8_t v) { return sd_bus_message_append(m, "v", "y", v) >= 0; }
    bool operator()(std::int16_t v) { return sd_bus_message_append(m, "v", "n", v) >= 0; }
    bool operator()(std::uint16_t v) { return sd_bus_message_append(m, "v", "q", v) >= 0; }
    bool operator()(std::uint32_t v) { return sd_bus_message_append(m, "v", "u", v) >= 0; }
    bool operator()(const std::string& v) { return sd_bus_message_append(m, "v", "s", v.c_str()) >= 0; }
    bool operator()(const ObjectPathValue& v) {
      return sd_bus_message_append(m, "v", "o", v.path.c_str()) >= 0;
    }
    bool operator()(const std::vector<std::string>& v) { return open("as") && appendStrings(m, v) && close(); }
    bool operator()(const Bytes& v) {
      return open("ay") && sd_bus_message_append_array(m, 'y', v.data(), v.size()) >= 0 && close();
    }
    bool operator()(const std::map<std::uint16_t, Bytes>& v) {
      return open("a{qv}") && appendByteMap(m, 'q', "qv", "{qv}", v) && close();
    }
    bool operator()(const std::map<std::string, Bytes>& v) {
      return open("a{sv}") && appendByteMap(m, 's', "sv", "{sv}", v) && close();
    }
    bool operator()(const std::map<std::uint8_t, Bytes>& v) {
      return open("a{yv}") && appendByteMap(m, 'y', "yv", "{yv}", v) && close();
    }
  };
  return std::visit(Visitor{m}, value);
}

bool appendProperties(sd_bus_message* m, const bluez::PropertyMap& properties) {
  if (sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}") < 0) return false;
  for (const auto& p : properties) {
    if (sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv") < 0 ||
        sd_bus_message_append_basic(m, 's', p.name.c_str()) < 0 || !appendVariant(m, p.value) ||
        sd_bus_message_close_container(m) < 0) {
      return false;
    }
  }
  return sd_bus_message_close_container(m) >= 0;
}

bool appendInterfaces(sd_bus_message* m, const bluez::InterfaceMap& interfaces) {
  if (sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sa{sv}}") < 0) return false;
  for (const auto& i : interfaces) {
    if (sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sa{sv}") < 0 ||
        sd_bus_message_append_basic(m, 's', i.interface.c_str()) < 0 ||
        !appendProperties(m, i.properties) || sd_bus_message_close_container(m) < 0) {
      return false;
    }
  }
  return sd_bus_message_close_container(m) >= 0;
}

OfflineMessages::OfflineMessages() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::runtime_error("socketpair failed");
  }
  peer_ = fds[1];
  // A started (direct, unauthenticated) connection: sd-bus builds messages only for those.
  if (sd_bus_new(&bus_) < 0 || sd_bus_set_fd(bus_, fds[0], fds[0]) < 0 || sd_bus_start(bus_) < 0) {
    throw std::runtime_error("cannot set up an offline sd-bus");
  }
}

OfflineMessages::~OfflineMessages() {
  sd_bus_close_unref(bus_);
  ::close(peer_);
}

bluez::MessagePtr OfflineMessages::signal(const std::string& path, const std::string& interface,
                                          const std::string& member) {
  sd_bus_message* m = nullptr;
  if (sd_bus_message_new_signal(bus_, &m, path.c_str(), interface.c_str(), member.c_str()) < 0) {
    throw std::runtime_error("cannot build a signal");
  }
  return bluez::MessagePtr(m);
}

void OfflineMessages::seal(sd_bus_message* m) {
  if (sd_bus_message_seal(m, cookie_++, 0) < 0 || sd_bus_message_rewind(m, 1) < 0) {
    throw std::runtime_error("cannot seal a message");
  }
}

}  // namespace gattway::testing
