#include "ble/sim/advertising.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/log.h"
#include "ble/sim/adapter.h"
#include "ble/sim/errors.h"

namespace gattway::sim {
namespace {

enum Prop {
  kActiveInstances, kSupportedInstances, kSupportedIncludes, kSupportedSecondaryChannels,
  kSupportedFeatures, kSupportedCapabilities,
};
enum Method { kRegister, kUnregister };

const dbus::InterfaceSpec& interfaceSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.LEAdvertisingManager1",
      {{"RegisterAdvertisement", {{"advertisement", "o"}, {"options", "a{sv}"}}, {}},
       {"UnregisterAdvertisement", {{"service", "o"}}, {}}},
      {{"ActiveInstances", "y"},
       {"SupportedInstances", "y"},
       {"SupportedIncludes", "as"},
       {"SupportedSecondaryChannels", "as"},
       {"SupportedFeatures", "as", false, true},
       {"SupportedCapabilities", "a{sv}", false, true}},
      {}};
  return s;
}

constexpr char kAdvertisement[] = "org.bluez.LEAdvertisement1";
constexpr std::size_t kMaxLegacy = 31;  // Core spec Vol 6, Part B, 2.3.1

// AD types bluetoothd builds itself: a Data entry of these fails the registration.
bool managedType(std::uint8_t t) {
  switch (t) {
    case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x07:
    case 0x08: case 0x09: case 0x0a: case 0x0d: case 0x14: case 0x15: case 0x16:
    case 0x17: case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1f: case 0x20:
    case 0x21: case 0xff:
      return true;
    default:
      return false;
  }
}

std::size_t uuidBytes(const Uuid& u) {
  auto s = u.shortValue();
  if (!s) return 16;
  return *s <= 0xFFFF ? 2 : 4;
}

std::size_t uuidListSize(const std::vector<Uuid>& uuids) {
  std::size_t n16 = 0, n32 = 0, n128 = 0;
  for (const auto& u : uuids) {
    const std::size_t b = uuidBytes(u);
    (b == 2 ? n16 : b == 4 ? n32 : n128) += 1;
  }
  return (n16 ? 2 + 2 * n16 : 0) + (n32 ? 2 + 4 * n32 : 0) + (n128 ? 2 + 16 * n128 : 0);
}

bool uuidList(const dbus::Value& v, std::vector<Uuid>& out) {
  if (v.signature != "as") return false;
  for (const auto& s : *v.asStrings()) {
    auto u = Uuid::parse(s);
    if (!u.ok()) return false;
    out.push_back(*u);
  }
  return true;
}

}  // namespace

bool parseAdvertisement(const dbus::Dict& props, Advertisement& ad) {
  auto find = [&](const char* k) -> const dbus::Value* {
    auto it = props.find(k);
    return it == props.end() ? nullptr : &it->second;
  };
  // Parse order as in src/advertising.c: the first bad property fails the whole registration.
  if (const auto* t = find("Type")) {
    if (t->signature != "s") return false;
    if (*t->asString() == "peripheral") ad.connectable = true;
    else if (*t->asString() != "broadcast") return false;
  }
  if (const auto* v = find("ServiceUUIDs"); v && !uuidList(*v, ad.serviceUuids)) return false;
  if (const auto* v = find("SolicitUUIDs"); v && !uuidList(*v, ad.solicitUuids)) return false;
  if (const auto* v = find("ManufacturerData")) {
    if (v->signature != "a{qv}") return false;
    for (const auto& [k, val] : *v->asDict()) {
      const dbus::Value* content = val.variantContent();
      if (content == nullptr || content->signature != "ay") return false;
      ad.manufacturerData[static_cast<std::uint16_t>(*k.asInt())] = *content->asBytes();
    }
  }
  if (const auto* v = find("ServiceData")) {
    if (v->signature != "a{sv}") return false;
    for (const auto& [k, val] : *v->asDict()) {
      const dbus::Value* content = val.variantContent();
      auto u = Uuid::parse(*k.asString());
      if (!u.ok() || content == nullptr || content->signature != "ay") return false;
      ad.serviceData[*u] = *content->asBytes();
    }
  }
  if (const auto* v = find("Includes")) {
    if (v->signature != "as") return false;
    for (const auto& s : *v->asStrings()) {
      // Unknown or unsupported names are dropped silently.
      if (s == "tx-power" || s == "appearance" || s == "local-name") ad.includes.push_back(s);
    }
  }
  auto included = [&](const char* s) {
    return std::find(ad.includes.begin(), ad.includes.end(), s) != ad.includes.end();
  };
  if (const auto* v = find("LocalName")) {
    if (v->signature != "s" || included("local-name")) return false;
    ad.localName = *v->asString();
  }
  if (const auto* v = find("Appearance")) {
    if (v->signature != "q" || included("appearance")) return false;
    ad.appearance = static_cast<std::uint16_t>(*v->asInt());
  }
  if (const auto* v = find("Duration")) {
    if (v->signature != "q") return false;
    ad.duration = static_cast<std::uint16_t>(*v->asInt());
  }
  if (const auto* v = find("Timeout")) {
    if (v->signature != "q") return false;
    ad.timeout = static_cast<std::uint16_t>(*v->asInt());
  }
  if (const auto* v = find("Data")) {
    if (v->signature != "a{yv}") return false;
    for (const auto& [k, val] : *v->asDict()) {
      const dbus::Value* content = val.variantContent();
      const auto type = static_cast<std::uint8_t>(*k.asInt());
      if (content == nullptr || content->signature != "ay" || managedType(type)) return false;
      ad.data[type] = *content->asBytes();
    }
  }
  if (const auto* v = find("Discoverable")) {
    if (v->signature != "b") return false;
    if (!ad.connectable) return false;  // "Broadcast cannot set flags"
    ad.discoverable = *v->asBool();
  }
  if (const auto* v = find("DiscoverableTimeout")) {
    if (v->signature != "q") return false;
    ad.discoverableTimeout = static_cast<std::uint16_t>(*v->asInt());
    if (ad.timeout != 0 && ad.discoverableTimeout > ad.timeout) return false;
  }
  if (const auto* v = find("SecondaryChannel")) {
    if (v->signature != "s") return false;
    const std::string& c = *v->asString();
    if (c != "1M" && c != "2M" && c != "Coded") return false;
  }
  const auto* minI = find("MinInterval");
  const auto* maxI = find("MaxInterval");
  if ((minI && minI->signature != "u") || (maxI && maxI->signature != "u")) return false;
  if (minI && maxI && *minI->asInt() > *maxI->asInt()) return false;
  for (const auto* v : {minI, maxI}) {
    // 20 ms .. 10485.759 s
    if (v && (*v->asInt() < 20 || *v->asInt() > 10485759)) return false;
  }
  if (const auto* v = find("TxPower")) {
    auto t = v->asInt("n");
    if (!t || *t < -127 || *t > 20) return false;
    ad.txPower = static_cast<std::int16_t>(*t);
  }
  // Everything must fit in the legacy PDUs.
  return advertisingDataSize(ad) <= kMaxLegacy && scanResponseSize(ad) <= kMaxLegacy;
}

std::size_t advertisingDataSize(const Advertisement& ad) {
  std::size_t n = 0;
  if (ad.connectable && ad.discoverable.value_or(false)) n += 3;  // Flags
  n += uuidListSize(ad.serviceUuids) + uuidListSize(ad.solicitUuids);
  for (const auto& [id, bytes] : ad.manufacturerData) n += 4 + bytes.size();
  for (const auto& [u, bytes] : ad.serviceData) n += 2 + uuidBytes(u) + bytes.size();
  for (const auto& inc : ad.includes) {
    if (inc == "tx-power") n += 3;
    if (inc == "appearance") n += 4;
  }
  if (ad.appearance) n += 4;
  for (const auto& [t, bytes] : ad.data) n += 2 + bytes.size();
  return n;
}

std::size_t scanResponseSize(const Advertisement& ad) {
  // The name goes in the scan response; a long one is shortened to fit, so it never fails.
  return ad.localName.empty() ? 0 : std::min<std::size_t>(2 + ad.localName.size(), kMaxLegacy);
}

AdvertisingManager::AdvertisingManager(Adapter& adapter)
    : dbus::Interface(interfaceSpec()), adapter_(adapter), calls_(adapter.context().bus) {
  nameLost_ = adapter_.context().bus.onNameLost([this](const std::string& owner) {
    // The owner left: its advertisements go, without Release().
    std::vector<Entry*> gone;
    for (auto& e : entries_) {
      if (e->ad.owner == owner) gone.push_back(e.get());
    }
    for (Entry* e : gone) release(e, false);
  });
}

AdvertisingManager::~AdvertisingManager() { adapter_.context().bus.removeNameLost(nameLost_); }

std::vector<const Advertisement*> AdvertisingManager::advertisements() const {
  std::vector<const Advertisement*> out;
  for (const auto& e : entries_) {
    if (e->registered && !e->lost) out.push_back(&e->ad);
  }
  return out;
}

bool AdvertisingManager::connectable() const {
  if (!adapter_.powered()) return false;
  return std::any_of(entries_.begin(), entries_.end(),
                     [](const auto& e) { return e->registered && !e->lost && e->ad.connectable; });
}

void AdvertisingManager::poweredChanged(bool on) {
  if (!on) {
    for (auto& e : entries_) {
      if (e->registered && !e->lost) {
        e->lost = true;
        log::info("sim.advertising.lost_at_power_off", {{"adapter", adapter_.name()}, {"path", e->ad.path}});
      }
    }
  }
  adapter_.hostedChanged();
}

bool AdvertisingManager::has(int property) const {
  // Extended advertising (the kernel uses it, BLUEZ-VM.md): secondary channels are listed.
  (void)property;
  return true;
}

void AdvertisingManager::get(int property, dbus::Writer& w) const {
  const int max = adapter_.context().options.advertisingInstances;
  switch (property) {
    case kActiveInstances: w.y(static_cast<std::uint8_t>(active())); break;
    // The number of free slots, not the total (5.66).
    case kSupportedInstances: w.y(static_cast<std::uint8_t>(std::max(0, max - active()))); break;
    case kSupportedIncludes: w.strings({"tx-power", "appearance", "local-name"}); break;
    case kSupportedSecondaryChannels: w.strings({"1M", "2M", "Coded"}); break;
    case kSupportedFeatures: w.strings({"CanSetTxPower"}); break;
    case kSupportedCapabilities:
      w.open('a', "{sv}");
      w.entry("MaxAdvLen", "y", [](dbus::Writer& x) { x.y(31); });
      w.entry("MaxScnRspLen", "y", [](dbus::Writer& x) { x.y(31); });
      w.entry("MinTxPower", "n", [](dbus::Writer& x) { x.n(-34); });
      w.entry("MaxTxPower", "n", [](dbus::Writer& x) { x.n(10); });
      w.close();
      break;
  }
}

void AdvertisingManager::invoke(int method, dbus::Call call) {
  if (method == kRegister) return registerAdvertisement(std::move(call));
  if (method == kUnregister) return unregisterAdvertisement(std::move(call));
}

void AdvertisingManager::registerAdvertisement(dbus::Call call) {
  std::string path;
  dbus::Value options;
  dbus::Reader args = call.args();
  args.o(path);
  args.value(options);
  const std::string owner = call.sender();
  for (const auto& e : entries_) {
    if (e->ad.owner == owner && e->ad.path == path) {
      return call.error(bluez::kAlreadyExists, bluez::kMsgAlreadyExists);
    }
  }
  if (active() >= adapter_.context().options.advertisingInstances) {
    return call.error(bluez::kNotPermitted, "Maximum advertisements reached");
  }
  // The slot is taken now (ActiveInstances counts a pending registration).
  auto entry = std::make_unique<Entry>();
  entry->ad.owner = owner;
  entry->ad.path = path;
  Entry* raw = entry.get();
  entries_.push_back(std::move(entry));
  fetch(raw, std::move(call));
}

void AdvertisingManager::fetch(Entry* entry, dbus::Call call) {
  dbus::Bus& bus = adapter_.context().bus;
  const std::string owner = entry->ad.owner, path = entry->ad.path;
  // bluetoothd's client first tries GetManagedObjects (errors ignored), then reads the properties.
  calls_.call(bus.newCall(owner, path, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"),
              [](sd_bus_message*, const dbus::Error&) {});
  dbus::Message getAll = bus.newCall(owner, path, "org.freedesktop.DBus.Properties", "GetAll");
  dbus::Writer(getAll.get()).s(kAdvertisement);
  calls_.call(getAll, [this, entry, c = std::move(call)](sd_bus_message* reply, const dbus::Error& e) mutable {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& x) { return x.get() == entry; });
    if (it == entries_.end()) return;
    dbus::Dict props;
    Advertisement parsed;
    parsed.owner = entry->ad.owner;
    parsed.path = entry->ad.path;
    const bool ok = e.empty() && dbus::Reader(reply).dict(props) && parseAdvertisement(props, parsed);
    if (!entry->registered) {
      if (!ok) {
        entries_.erase(it);
        return c.error(bluez::kFailed, "Failed to parse advertisement.");
      }
      entry->ad = std::move(parsed);
      entry->registered = true;
      c.reply();
      changed(kActiveInstances);
      changed(kSupportedInstances);
      log::info("sim.advertising.registered", {{"adapter", adapter_.name()}, {"path", entry->ad.path},
                                               {"connectable", entry->ad.connectable}});
      // Property changes after registration are applied (5.66 watches them).
      dbus::Bus& b = adapter_.context().bus;
      entry->changes = b.match(
          absl::StrCat("type='signal',sender='", entry->ad.owner, "',path='", entry->ad.path,
                       "',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'"),
          [this, entry](sd_bus_message*) { fetch(entry, dbus::Call()); });
      if (entry->ad.timeout != 0) {
        entry->timeout = adapter_.context().loop.runAfter(absl::Seconds(entry->ad.timeout),
                                                          [this, entry] { release(entry, true); });
      }
      adapter_.hostedChanged();
      return;
    }
    if (ok) {
      // An update; a bad one leaves the old data. bluetoothd sends the advertisement to the
      // kernel again, which also brings back one lost at a power-off.
      entry->ad = std::move(parsed);
      entry->lost = false;
    }
    adapter_.hostedChanged();
  });
}

void AdvertisingManager::unregisterAdvertisement(dbus::Call call) {
  std::string path;
  call.args().o(path);
  const std::string owner = call.sender();
  for (auto& e : entries_) {
    if (e->ad.owner == owner && e->ad.path == path) {
      release(e.get(), false);  // no Release() on an explicit unregister
      return call.reply();
    }
  }
  call.error(bluez::kDoesNotExist, bluez::kMsgDoesNotExist);
}

void AdvertisingManager::release(Entry* entry, bool callRelease) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& x) { return x.get() == entry; });
  if (it == entries_.end()) return;
  if (callRelease) {
    dbus::Bus& bus = adapter_.context().bus;
    bus.callNoReply(bus.newCall(entry->ad.owner, entry->ad.path, kAdvertisement, "Release"));
  }
  const bool wasRegistered = entry->registered;
  entries_.erase(it);
  changed(kActiveInstances);
  changed(kSupportedInstances);
  if (wasRegistered) {
    log::info("sim.advertising.removed", {{"adapter", adapter_.name()}});
    adapter_.hostedChanged();
  }
}

}  // namespace gattway::sim
