#include "ble/sim/fleet.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ble/error.h"

namespace gattway::sim {
namespace {

const std::set<std::string>& knownModels() {
  static const std::set<std::string> k = {"static",  "temperature", "humidity",
                                          "heart_rate", "battery", "counter",
                                          "blob",    "camera_control", "camera_status",
                                          "sink"};
  return k;
}

// Walks YAML with the path of the current node, so errors can name the key.
struct Ctx {
  std::string path;
  Ctx operator[](absl::string_view key) const {
    return Ctx{path.empty() ? std::string(key) : absl::StrCat(path, ".", key)};
  }
  Ctx at(std::size_t i) const { return Ctx{absl::StrCat(path, "[", i, "]")}; }
  absl::Status error(absl::string_view message) const {
    return err::invalidField(path.empty() ? "fleet" : path, message);
  }
};

absl::StatusOr<std::string> scalar(const YAML::Node& n, const Ctx& c) {
  if (!n.IsScalar()) return c.error("expected a single value");
  return n.Scalar();
}

absl::StatusOr<std::int64_t> integer(const YAML::Node& n, const Ctx& c, std::int64_t lo,
                                     std::int64_t hi) {
  auto s = scalar(n, c);
  if (!s.ok()) return s.status();
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s->c_str(), &end, 0);
  if (s->empty() || end == nullptr || *end != '\0' || errno != 0) {
    return c.error(absl::StrCat("\"", *s, "\" is not an integer (decimal or 0x hex)"));
  }
  if (v < lo || v > hi) return c.error(absl::StrCat(v, " is outside ", lo, "..", hi));
  return static_cast<std::int64_t>(v);
}

absl::StatusOr<double> number(const YAML::Node& n, const Ctx& c) {
  auto s = scalar(n, c);
  if (!s.ok()) return s.status();
  double v = 0;
  if (!absl::SimpleAtod(*s, &v)) return c.error(absl::StrCat("\"", *s, "\" is not a number"));
  return v;
}

absl::StatusOr<bool> boolean(const YAML::Node& n, const Ctx& c) {
  auto s = scalar(n, c);
  if (!s.ok()) return s.status();
  bool v = false;
  if (!absl::SimpleAtob(*s, &v)) return c.error(absl::StrCat("\"", *s, "\" is not true or false"));
  return v;
}

absl::StatusOr<absl::Duration> duration(const YAML::Node& n, const Ctx& c) {
  auto s = scalar(n, c);
  if (!s.ok()) return s.status();
  absl::Duration d;
  if (!absl::ParseDuration(*s, &d) || d < absl::ZeroDuration()) {
    return c.error(absl::StrCat("\"", *s, "\" is not a duration such as 200ms or 2s"));
  }
  return d;
}

absl::StatusOr<Uuid> uuid(const YAML::Node& n, const Ctx& c) {
  auto s = scalar(n, c);
  if (!s.ok()) return s.status();
  return Uuid::parse(*s, c.path);
}

// Bytes: a hex string ("0a 0b") or a list of integers.
absl::StatusOr<Bytes> bytes(const YAML::Node& n, const Ctx& c) {
  if (n.IsSequence()) {
    Bytes out;
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto v = integer(n[i], c.at(i), 0, 255);
      if (!v.ok()) return v.status();
      out.push_back(static_cast<std::uint8_t>(*v));
    }
    return out;
  }
  auto s = scalar(n, c);
  if (!s.ok()) return s.status();
  auto b = parseHex(*s);
  if (!b.ok()) return c.error(b.status().message());
  return b;
}

// `value` (hex or list) or `text` (UTF-8) in `n`.
absl::StatusOr<Bytes> valueOf(const YAML::Node& n, const Ctx& c) {
  if (n["text"]) {
    auto s = scalar(n["text"], c["text"]);
    if (!s.ok()) return s.status();
    return Bytes(s->begin(), s->end());
  }
  if (n["value"]) return bytes(n["value"], c["value"]);
  return Bytes{};
}

absl::StatusOr<std::vector<std::string>> flags(const YAML::Node& n, const Ctx& c,
                                               bool characteristic) {
  if (!n.IsSequence()) return c.error("expected a list of flag names");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto s = scalar(n[i], c.at(i));
    if (!s.ok()) return s.status();
    if (characteristic && !knownCharacteristicFlag(*s)) {
      return c.at(i).error(absl::StrCat("unknown flag \"", *s, "\" (gatt-api.txt names)"));
    }
    out.push_back(*s);
  }
  return out;
}

// Checks that `n` has only `allowed` keys: a typo must not pass silently.
absl::Status onlyKeys(const YAML::Node& n, const Ctx& c, std::initializer_list<const char*> allowed) {
  if (!n.IsMap()) return c.error("expected a mapping");
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    bool ok = false;
    for (const char* a : allowed) ok = ok || key == a;
    if (!ok) return c[key].error("unknown key");
  }
  return absl::OkStatus();
}

#define GW_ASSIGN(lhs, expr)           \
  do {                                 \
    auto _v = (expr);                  \
    if (!_v.ok()) return _v.status();  \
    lhs = *std::move(_v);              \
  } while (0)
#define GW_RETURN_IF_ERROR(expr)       \
  do {                                 \
    absl::Status _s = (expr);          \
    if (!_s.ok()) return _s;           \
  } while (0)

absl::StatusOr<DescriptorSpec> descriptor(const YAML::Node& n, const Ctx& c) {
  GW_RETURN_IF_ERROR(onlyKeys(n, c, {"uuid", "flags", "value", "text"}));
  DescriptorSpec d;
  if (!n["uuid"]) return c["uuid"].error("required");
  GW_ASSIGN(d.uuid, uuid(n["uuid"], c["uuid"]));
  if (d.uuid == Uuid::fromShort(0x2902)) {
    return c["uuid"].error("the CCC (2902) is added for notify/indicate; do not list it");
  }
  if (n["flags"]) GW_ASSIGN(d.flags, flags(n["flags"], c["flags"], false));
  GW_ASSIGN(d.value, valueOf(n, c));
  return d;
}

absl::StatusOr<CharacteristicSpec> characteristic(const YAML::Node& n, const Ctx& c) {
  GW_RETURN_IF_ERROR(onlyKeys(n, c, {"uuid", "flags", "value", "text", "model", "params",
                                     "notify_interval", "descriptors"}));
  CharacteristicSpec ch;
  if (!n["uuid"]) return c["uuid"].error("required");
  GW_ASSIGN(ch.uuid, uuid(n["uuid"], c["uuid"]));
  if (!n["flags"]) return c["flags"].error("required (e.g. [read, notify])");
  GW_ASSIGN(ch.flags, flags(n["flags"], c["flags"], true));
  GW_ASSIGN(ch.value, valueOf(n, c));
  if (ch.value.size() > 512) return c["value"].error("longer than 512 bytes");
  if (n["model"]) {
    GW_ASSIGN(ch.model, scalar(n["model"], c["model"]));
    if (!knownModels().contains(ch.model)) {
      return c["model"].error(absl::StrCat("unknown model \"", ch.model, "\""));
    }
  }
  if (n["params"]) {
    if (!n["params"].IsMap()) return c["params"].error("expected a mapping of numbers");
    for (const auto& kv : n["params"]) {
      const std::string key = kv.first.Scalar();
      GW_ASSIGN(ch.params[key], number(kv.second, c["params"][key]));
    }
  }
  if (n["notify_interval"]) {
    GW_ASSIGN(ch.notifyInterval, duration(n["notify_interval"], c["notify_interval"]));
  }
  if (n["descriptors"]) {
    const auto& ds = n["descriptors"];
    if (!ds.IsSequence()) return c["descriptors"].error("expected a list");
    for (std::size_t i = 0; i < ds.size(); ++i) {
      DescriptorSpec d;
      GW_ASSIGN(d, descriptor(ds[i], c["descriptors"].at(i)));
      ch.descriptors.push_back(std::move(d));
    }
  }
  return ch;
}

absl::StatusOr<ServiceSpec> service(const YAML::Node& n, const Ctx& c) {
  GW_RETURN_IF_ERROR(onlyKeys(n, c, {"uuid", "primary", "characteristics"}));
  ServiceSpec s;
  if (!n["uuid"]) return c["uuid"].error("required");
  GW_ASSIGN(s.uuid, uuid(n["uuid"], c["uuid"]));
  if (s.uuid == Uuid::fromShort(0x1800) || s.uuid == Uuid::fromShort(0x1801)) {
    return c["uuid"].error("GAP (1800) and GATT (1801) are built in; do not list them");
  }
  if (n["primary"]) GW_ASSIGN(s.primary, boolean(n["primary"], c["primary"]));
  if (n["characteristics"]) {
    const auto& cs = n["characteristics"];
    if (!cs.IsSequence()) return c["characteristics"].error("expected a list");
    for (std::size_t i = 0; i < cs.size(); ++i) {
      CharacteristicSpec ch;
      GW_ASSIGN(ch, characteristic(cs[i], c["characteristics"].at(i)));
      s.characteristics.push_back(std::move(ch));
    }
  }
  return s;
}

absl::Status advertising(const YAML::Node& n, const Ctx& c, AdvertisingSpec& a) {
  GW_RETURN_IF_ERROR(onlyKeys(n, c, {"interval", "connectable", "discoverable", "flags", "name",
                                     "name_in", "service_uuids", "manufacturer_data",
                                     "service_data", "tx_power", "appearance", "data",
                                     "count_in_manufacturer_data"}));
  if (n["interval"]) {
    GW_ASSIGN(a.interval, duration(n["interval"], c["interval"]));
    if (a.interval < absl::Milliseconds(1)) return c["interval"].error("must be at least 1ms");
  }
  if (n["connectable"]) GW_ASSIGN(a.connectable, boolean(n["connectable"], c["connectable"]));
  if (n["discoverable"]) {
    std::string d;
    GW_ASSIGN(d, scalar(n["discoverable"], c["discoverable"]));
    if (d == "general") a.flags = 0x06;
    else if (d == "limited") a.flags = 0x05;
    else if (d == "none") a.flags = 0x04;
    else return c["discoverable"].error("expected general, limited or none");
  }
  if (n["flags"]) {
    std::int64_t f = 0;
    GW_ASSIGN(f, integer(n["flags"], c["flags"], 0, 255));
    a.flags = static_cast<std::uint8_t>(f);
  }
  if (n["name"]) GW_ASSIGN(a.name, scalar(n["name"], c["name"]));
  if (n["name_in"]) {
    std::string w;
    GW_ASSIGN(w, scalar(n["name_in"], c["name_in"]));
    if (w != "advertising" && w != "scan_response") {
      return c["name_in"].error("expected advertising or scan_response");
    }
    a.nameInScanResponse = w == "scan_response";
  }
  if (n["service_uuids"]) {
    const auto& us = n["service_uuids"];
    if (!us.IsSequence()) return c["service_uuids"].error("expected a list");
    for (std::size_t i = 0; i < us.size(); ++i) {
      Uuid u;
      GW_ASSIGN(u, uuid(us[i], c["service_uuids"].at(i)));
      a.serviceUuids.push_back(u);
    }
  }
  if (n["manufacturer_data"]) {
    const auto& md = n["manufacturer_data"];
    if (!md.IsMap()) return c["manufacturer_data"].error("expected company id: hex bytes");
    for (const auto& kv : md) {
      const Ctx kc = c["manufacturer_data"][kv.first.Scalar()];
      std::int64_t id = 0;
      GW_ASSIGN(id, integer(kv.first, kc, 0, 0xFFFF));
      GW_ASSIGN(a.manufacturerData[static_cast<std::uint16_t>(id)], bytes(kv.second, kc));
    }
  }
  if (n["service_data"]) {
    const auto& sd = n["service_data"];
    if (!sd.IsMap()) return c["service_data"].error("expected service uuid: hex bytes");
    for (const auto& kv : sd) {
      const Ctx kc = c["service_data"][kv.first.Scalar()];
      Uuid u;
      GW_ASSIGN(u, uuid(kv.first, kc));
      GW_ASSIGN(a.serviceData[u], bytes(kv.second, kc));
    }
  }
  if (n["tx_power"]) {
    std::int64_t t = 0;
    GW_ASSIGN(t, integer(n["tx_power"], c["tx_power"], -127, 20));
    a.txPower = static_cast<std::int8_t>(t);
  }
  if (n["appearance"]) {
    std::int64_t v = 0;
    GW_ASSIGN(v, integer(n["appearance"], c["appearance"], 0, 0xFFFF));
    a.appearance = static_cast<std::uint16_t>(v);
  }
  if (n["count_in_manufacturer_data"]) {
    GW_ASSIGN(a.countInManufacturerData,
              boolean(n["count_in_manufacturer_data"], c["count_in_manufacturer_data"]));
  }
  if (n["data"]) {
    const auto& d = n["data"];
    if (!d.IsMap()) return c["data"].error("expected AD type: hex bytes");
    for (const auto& kv : d) {
      const Ctx kc = c["data"][kv.first.Scalar()];
      std::int64_t type = 0;
      GW_ASSIGN(type, integer(kv.first, kc, 0, 255));
      GW_ASSIGN(a.other[static_cast<std::uint8_t>(type)], bytes(kv.second, kc));
    }
  }
  return absl::OkStatus();
}

// One `devices:` entry, expanded `count` times.
absl::Status device(const YAML::Node& n, const Ctx& c, std::vector<DeviceSpec>& out) {
  GW_RETURN_IF_ERROR(onlyKeys(n, c, {"name", "address", "address_type", "count", "rssi",
                                     "rssi_jitter", "mtu", "connect_latency",
                                     "link_drop_interval", "appearance", "advertising",
                                     "services"}));
  DeviceSpec d;
  if (n["name"]) GW_ASSIGN(d.name, scalar(n["name"], c["name"]));
  if (!n["address"]) return c["address"].error("required (AA:BB:CC:DD:EE:FF)");
  {
    std::string a;
    GW_ASSIGN(a, scalar(n["address"], c["address"]));
    GW_ASSIGN(d.address, Address::parse(a, c["address"].path));
  }
  if (n["address_type"]) {
    std::string t;
    GW_ASSIGN(t, scalar(n["address_type"], c["address_type"]));
    auto type = parseAddressType(t);
    if (!type.ok()) return c["address_type"].error("expected public or random");
    d.addressType = *type;
  }
  std::int64_t count = 1;
  if (n["count"]) GW_ASSIGN(count, integer(n["count"], c["count"], 1, 100000));
  if (n["rssi"]) {
    std::int64_t r = 0;
    GW_ASSIGN(r, integer(n["rssi"], c["rssi"], -127, 20));
    d.rssi = static_cast<int>(r);
  }
  if (n["rssi_jitter"]) GW_ASSIGN(d.rssiJitter, number(n["rssi_jitter"], c["rssi_jitter"]));
  if (n["mtu"]) {
    std::int64_t m = 0;
    GW_ASSIGN(m, integer(n["mtu"], c["mtu"], 23, 517));
    d.mtu = static_cast<std::uint16_t>(m);
  }
  if (n["connect_latency"]) {
    GW_ASSIGN(d.connectLatency, duration(n["connect_latency"], c["connect_latency"]));
  }
  if (n["link_drop_interval"]) {
    GW_ASSIGN(d.linkDropInterval, duration(n["link_drop_interval"], c["link_drop_interval"]));
  }
  if (n["appearance"]) {
    std::int64_t v = 0;
    GW_ASSIGN(v, integer(n["appearance"], c["appearance"], 0, 0xFFFF));
    d.appearance = static_cast<std::uint16_t>(v);
  }
  d.advertising.name = d.name;
  if (n["advertising"]) GW_RETURN_IF_ERROR(advertising(n["advertising"], c["advertising"], d.advertising));
  if (n["services"]) {
    const auto& ss = n["services"];
    if (!ss.IsSequence()) return c["services"].error("expected a list");
    for (std::size_t i = 0; i < ss.size(); ++i) {
      ServiceSpec s;
      GW_ASSIGN(s, service(ss[i], c["services"].at(i)));
      d.services.push_back(std::move(s));
    }
  }
  // Copies: the address counts up as a 48-bit number, "{n}" in names becomes 1..count.
  std::uint64_t base = 0;
  for (std::uint8_t b : d.address.bytes()) base = (base << 8) | b;
  for (std::int64_t k = 0; k < count; ++k) {
    DeviceSpec copy = d;
    std::array<std::uint8_t, 6> a{};
    std::uint64_t v = base + static_cast<std::uint64_t>(k);
    for (int i = 5; i >= 0; --i) {
      a[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v & 0xFF);
      v >>= 8;
    }
    copy.address = Address(a);
    const std::string num = absl::StrCat(k + 1);
    copy.name = absl::StrReplaceAll(d.name, {{"{n}", num}});
    copy.advertising.name = absl::StrReplaceAll(d.advertising.name, {{"{n}", num}});
    out.push_back(std::move(copy));
  }
  return absl::OkStatus();
}

absl::Status devicesFrom(const YAML::Node& list, const Ctx& c, std::vector<DeviceSpec>& out) {
  if (!list.IsSequence()) return c.error("expected a list of devices");
  for (std::size_t i = 0; i < list.size(); ++i) {
    GW_RETURN_IF_ERROR(device(list[i], c.at(i), out));
  }
  std::set<Address> seen;
  for (const auto& d : out) {
    if (!seen.insert(d.address).second) {
      return c.error(absl::StrCat("address ", d.address.toString(), " is used twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<YAML::Node> load(const std::string& yaml) {
  try {
    return YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return err::invalidField("fleet", absl::StrCat("not valid YAML: ", e.what()));
  }
}

}  // namespace

std::vector<DeviceSpec> loadDevices(int count, int size, bool timestamps) {
  DeviceSpec d;
  d.addressType = AddressType::kRandom;
  d.rssi = -60;
  d.advertising.interval = absl::Milliseconds(100);
  d.advertising.manufacturerData[0xFFFF] = Bytes(static_cast<std::size_t>(size), 0);
  d.advertising.countInManufacturerData = true;
  ServiceSpec s;
  s.uuid = *Uuid::parse("67617474-7761-7900-0000-006c6f616400");
  CharacteristicSpec c;
  c.uuid = *Uuid::parse("67617474-7761-7900-0000-006c6f616401");
  c.flags = {"read", "notify"};
  c.model = "counter";
  c.params["size"] = size;
  if (timestamps) c.params["timestamp"] = 1;
  c.notifyInterval = absl::Milliseconds(100);
  s.characteristics.push_back(c);
  d.services.push_back(s);
  std::vector<DeviceSpec> out;
  for (int i = 0; i < count; ++i) {
    const auto n = static_cast<std::uint32_t>(i + 1);
    d.address = Address({0xF0, 0x00, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                         static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    d.name = d.advertising.name = absl::StrCat("Load-", n);
    out.push_back(d);
  }
  return out;
}

bool knownCharacteristicFlag(const std::string& flag) {
  static const std::set<std::string> k = {
      "broadcast", "read", "write-without-response", "write", "notify", "indicate",
      "authenticated-signed-writes", "extended-properties", "reliable-write",
      "writable-auxiliaries", "encrypt-read", "encrypt-write", "encrypt-notify",
      "encrypt-indicate", "encrypt-authenticated-read", "encrypt-authenticated-write",
      "encrypt-authenticated-notify", "encrypt-authenticated-indicate", "secure-read",
      "secure-write", "secure-notify", "secure-indicate", "authorize"};
  return k.contains(flag);
}

absl::StatusOr<Bytes> parseHex(const std::string& text) {
  Bytes out;
  int hi = -1;
  for (char ch : text) {
    if (ch == ' ' || ch == ':' || ch == '-') continue;
    int v = -1;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    else if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    else if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
    if (v < 0) {
      return err::invalidField("bytes", absl::StrCat("\"", text, "\" is not hex bytes such as \"0a 0b\""));
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  if (hi >= 0) return err::invalidField("bytes", absl::StrCat("\"", text, "\" has an odd number of hex digits"));
  return out;
}

absl::StatusOr<Fleet> parseFleet(const std::string& yaml) {
  auto root = load(yaml);
  if (!root.ok()) return root.status();
  const Ctx c;
  if (!root->IsMap()) return c.error("expected a mapping with a devices list");
  GW_RETURN_IF_ERROR(onlyKeys(*root, c, {"devices"}));
  Fleet fleet;
  if ((*root)["devices"]) {
    GW_RETURN_IF_ERROR(devicesFrom((*root)["devices"], c["devices"], fleet.devices));
  }
  return fleet;
}

absl::StatusOr<Fleet> loadFleet(const std::string& path) {
  std::ifstream in(path);
  if (!in) return err::invalidField("fleet", absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  auto fleet = parseFleet(text.str());
  if (!fleet.ok()) {
    return absl::Status(fleet.status().code(), absl::StrCat(path, ": ", fleet.status().message()));
  }
  return fleet;
}

absl::StatusOr<std::vector<DeviceSpec>> parseDevices(const std::string& yaml) {
  auto root = load(yaml);
  if (!root.ok()) return root.status();
  std::vector<DeviceSpec> out;
  const Ctx c;
  if (root->IsMap() && (*root)["devices"]) {
    GW_RETURN_IF_ERROR(devicesFrom((*root)["devices"], c["devices"], out));
  } else if (root->IsSequence()) {
    GW_RETURN_IF_ERROR(devicesFrom(*root, c["devices"], out));
  } else {
    GW_RETURN_IF_ERROR(device(*root, c, out));
  }
  return out;
}

}  // namespace gattway::sim
