#include "ble/bluez/message_parsing.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <map>
#include <type_traits>
#include <utility>

namespace gattway::bluez {
namespace {

bool readBasicString(sd_bus_message* m, char type, std::string& out) {
  const char* s = nullptr;
  if (sd_bus_message_read_basic(m, type, &s) <= 0) return false;
  out.assign(s);
  return true;
}

template <typename T>
bool readBasic(sd_bus_message* m, char type, T& out) {
  return sd_bus_message_read_basic(m, type, &out) > 0;
}

bool readStrings(sd_bus_message* m, std::vector<std::string>& out) {
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "s") <= 0) return false;
  const char* s = nullptr;
  int r = 0;
  while ((r = sd_bus_message_read_basic(m, 's', &s)) > 0) out.emplace_back(s);
  return r == 0 && sd_bus_message_exit_container(m) >= 0;
}

// A `v` holding `ay`, as the values of ManufacturerData, ServiceData and AdvertisingData are. Any
// other contents are skipped and leave `out` empty.
bool readBytesVariant(sd_bus_message* m, Bytes& out) {
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != SD_BUS_TYPE_VARIANT) {
    return false;
  }
  if (std::strcmp(contents, "ay") != 0) return sd_bus_message_skip(m, "v") >= 0;
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, "ay") <= 0) return false;
  return readByteArray(m, out) && sd_bus_message_exit_container(m) >= 0;
}

// a{Kv} with `ay` values: ManufacturerData (q), ServiceData (s), AdvertisingData (y).
template <typename Key>
bool readByteMap(sd_bus_message* m, char keyType, const char* entrySignature,
                 const char* arraySignature, std::map<Key, Bytes>& out) {
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, arraySignature) <= 0) return false;
  int r = 0;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, entrySignature)) > 0) {
    Key key{};
    if constexpr (std::is_same_v<Key, std::string>) {
      if (!readBasicString(m, keyType, key)) return false;
    } else {
      if (!readBasic(m, keyType, key)) return false;
    }
    Bytes bytes;
    if (!readBytesVariant(m, bytes)) return false;
    out[std::move(key)] = std::move(bytes);
    if (sd_bus_message_exit_container(m) < 0) return false;
  }
  return r == 0 && sd_bus_message_exit_container(m) >= 0;
}

// Reads the contents of a variant already entered, whose signature is `contents`.
bool readVariantContents(sd_bus_message* m, const char* contents, PropertyValue& out) {
  if (contents[0] != '\0' && contents[1] == '\0') {
    switch (contents[0]) {
      case 'b': {
        int v = 0;
        if (!readBasic(m, 'b', v)) return false;
        out = v != 0;
        return true;
      }
      case 'y': {
        std::uint8_t v = 0;
        if (!readBasic(m, 'y', v)) return false;
        out = v;
        return true;
      }
      case 'n': {
        std::int16_t v = 0;
        if (!readBasic(m, 'n', v)) return false;
        out = v;
        return true;
      }
      case 'q': {
        std::uint16_t v = 0;
        if (!readBasic(m, 'q', v)) return false;
        out = v;
        return true;
      }
      case 'u': {
        std::uint32_t v = 0;
        if (!readBasic(m, 'u', v)) return false;
        out = v;
        return true;
      }
      case 's': {
        std::string v;
        if (!readBasicString(m, 's', v)) return false;
        out = std::move(v);
        return true;
      }
      case 'o': {
        ObjectPathValue v;
        if (!readBasicString(m, 'o', v.path)) return false;
        out = std::move(v);
        return true;
      }
      default:
        break;
    }
  }
  if (std::strcmp(contents, "ay") == 0) {
    Bytes v;
    if (!readByteArray(m, v)) return false;
    out = std::move(v);
    return true;
  }
  if (std::strcmp(contents, "as") == 0) {
    std::vector<std::string> v;
    if (!readStrings(m, v)) return false;
    out = std::move(v);
    return true;
  }
  if (std::strcmp(contents, "a{qv}") == 0) {
    std::map<std::uint16_t, Bytes> v;
    if (!readByteMap(m, 'q', "qv", "{qv}", v)) return false;
    out = std::move(v);
    return true;
  }
  if (std::strcmp(contents, "a{sv}") == 0) {
    std::map<std::string, Bytes> v;
    if (!readByteMap(m, 's', "sv", "{sv}", v)) return false;
    out = std::move(v);
    return true;
  }
  if (std::strcmp(contents, "a{yv}") == 0) {
    std::map<std::uint8_t, Bytes> v;
    if (!readByteMap(m, 'y', "yv", "{yv}", v)) return false;
    out = std::move(v);
    return true;
  }
  out = Unsupported{};
  return sd_bus_message_skip(m, contents) >= 0;
}

}  // namespace

bool readVariant(sd_bus_message* m, PropertyValue& out) {
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != SD_BUS_TYPE_VARIANT) {
    return false;
  }
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents) <= 0) return false;
  return readVariantContents(m, contents, out) && sd_bus_message_exit_container(m) >= 0;
}

bool readProperties(sd_bus_message* m, PropertyMap& out) {
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}") <= 0) return false;
  int r = 0;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
    Property p;
    if (!readBasicString(m, 's', p.name) || !readVariant(m, p.value)) return false;
    out.push_back(std::move(p));
    if (sd_bus_message_exit_container(m) < 0) return false;
  }
  return r == 0 && sd_bus_message_exit_container(m) >= 0;
}

bool readInterfaces(sd_bus_message* m, InterfaceMap& out) {
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sa{sv}}") <= 0) return false;
  int r = 0;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sa{sv}")) > 0) {
    InterfaceProperties i;
    if (!readBasicString(m, 's', i.interface) || !readProperties(m, i.properties)) return false;
    out.push_back(std::move(i));
    if (sd_bus_message_exit_container(m) < 0) return false;
  }
  return r == 0 && sd_bus_message_exit_container(m) >= 0;
}

bool readManagedObjects(sd_bus_message* m, std::vector<ManagedObject>& out,
                        absl::string_view under) {
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{oa{sa{sv}}}") <= 0) return false;
  int r = 0;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "oa{sa{sv}}")) > 0) {
    const char* path = nullptr;
    if (sd_bus_message_read_basic(m, 'o', &path) <= 0) return false;
    const absl::string_view p(path);
    const bool wanted = under.empty() || p == under ||
                        (p.size() > under.size() && p.substr(0, under.size()) == under &&
                         p[under.size()] == '/');
    if (wanted) {
      ManagedObject o;
      o.path.assign(path);
      if (!readInterfaces(m, o.interfaces)) return false;
      out.push_back(std::move(o));
    } else if (sd_bus_message_skip(m, "a{sa{sv}}") < 0) {
      return false;
    }
    if (sd_bus_message_exit_container(m) < 0) return false;
  }
  return r == 0 && sd_bus_message_exit_container(m) >= 0;
}

bool readInterfacesAdded(sd_bus_message* m, ManagedObject& out) {
  return readBasicString(m, 'o', out.path) && readInterfaces(m, out.interfaces);
}

bool readInterfacesRemoved(sd_bus_message* m, std::string& path,
                           std::vector<std::string>& interfaces) {
  return readBasicString(m, 'o', path) && readStrings(m, interfaces);
}

bool readPropertiesChanged(sd_bus_message* m, PropertiesChange& out) {
  return readBasicString(m, 's', out.interface) && readProperties(m, out.changed) &&
         readStrings(m, out.invalidated);
}

std::optional<absl::Span<const std::uint8_t>> findValue(sd_bus_message* m, bool* others) {
  *others = false;
  if (sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}") <= 0) return std::nullopt;
  std::optional<absl::Span<const std::uint8_t>> value;
  while (sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv") > 0) {
    const char* key = nullptr;
    if (sd_bus_message_read_basic(m, 's', &key) <= 0) return std::nullopt;
    char type = 0;
    const char* contents = nullptr;
    if (sd_bus_message_peek_type(m, &type, &contents) <= 0) return std::nullopt;
    if (std::strcmp(key, "Value") == 0 && std::strcmp(contents, "ay") == 0) {
      if (sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, "ay") <= 0) return std::nullopt;
      absl::Span<const std::uint8_t> span;
      if (!readByteSpan(m, span)) return std::nullopt;
      value = span;
      if (sd_bus_message_exit_container(m) < 0) return std::nullopt;
    } else {
      *others = true;
      if (sd_bus_message_skip(m, "v") < 0) return std::nullopt;
    }
    if (sd_bus_message_exit_container(m) < 0) return std::nullopt;
  }
  return value;
}

bool readByteArray(sd_bus_message* m, Bytes& out) {
  absl::Span<const std::uint8_t> span;
  if (!readByteSpan(m, span)) return false;
  out.assign(span.begin(), span.end());
  return true;
}

bool readString(sd_bus_message* m, std::string& out) { return readBasicString(m, 's', out); }

bool readObjectPath(sd_bus_message* m, std::string& out) { return readBasicString(m, 'o', out); }

bool readByteSpan(sd_bus_message* m, absl::Span<const std::uint8_t>& out) {
  const void* data = nullptr;
  std::size_t size = 0;
  if (sd_bus_message_read_array(m, 'y', &data, &size) <= 0) return false;
  out = absl::Span<const std::uint8_t>(static_cast<const std::uint8_t*>(data), size);
  return true;
}

std::optional<ReplyError> replyError(sd_bus_message* m) {
  const sd_bus_error* e = sd_bus_message_get_error(m);
  if (e == nullptr || !sd_bus_error_is_set(e)) return std::nullopt;
  ReplyError out;
  out.name = e->name;
  if (e->message != nullptr) out.message = e->message;
  return out;
}

}  // namespace gattway::bluez
