#include "ble/bluez/object_mirror.h"

#include <algorithm>
#include <utility>

#include "ble/bluez/gatt_flags.h"
#include "ble/bluez/paths.h"

namespace gattway::bluez {
namespace {

namespace dc = device_change;

// Sets `out` from `value` when it holds a T; returns whether it did.
template <typename T>
bool read(const PropertyValue& value, T& out) {
  if (const T* v = std::get_if<T>(&value)) {
    out = *v;
    return true;
  }
  return false;
}

// Sets `out` and reports whether the value changed.
template <typename T>
bool update(const PropertyValue& value, T& out) {
  T v{};
  if (!read(value, v) || v == out) return false;
  out = std::move(v);
  return true;
}

std::vector<Uuid> parseUuids(const std::vector<std::string>& texts) {
  std::vector<Uuid> out;
  out.reserve(texts.size());
  for (const auto& t : texts) {
    if (auto u = Uuid::parse(t); u.ok()) out.push_back(*u);
  }
  return out;
}

std::optional<Uuid> uuidOf(const PropertyValue& value) {
  std::string text;
  if (!read(value, text)) return std::nullopt;
  auto u = Uuid::parse(text);
  if (!u.ok()) return std::nullopt;
  return *u;
}

// Adapter1 (adapter-api.txt). Returns whether anything the gateway reports changed.
bool applyAdapter(AdapterInfo& a, const PropertyMap& props) {
  bool changed = false;
  for (const auto& [name, value] : props) {
    if (name == "Address") {
      std::string text;
      if (read(value, text)) {
        if (auto addr = Address::parse(text); addr.ok() && *addr != a.address) {
          a.address = *addr;
          changed = true;
        }
      }
    } else if (name == "AddressType") {
      std::string text;
      if (read(value, text)) {
        if (auto t = parseAddressType(text); t.ok() && *t != a.addressType) {
          a.addressType = *t;
          changed = true;
        }
      }
    } else if (name == "Alias") {
      changed |= update(value, a.alias);
    } else if (name == "Powered") {
      changed |= update(value, a.powered);
    } else if (name == "Discovering") {
      changed |= update(value, a.discovering);
    } else if (name == "UUIDs") {
      std::vector<std::string> texts;
      if (read(value, texts)) {
        a.uuids = parseUuids(texts);
        changed = true;
      }
    }
  }
  return changed;
}

// LEAdvertisingManager1 on the adapter's path.
bool applyAdvertisingManager(AdapterInfo& a, const PropertyMap& props) {
  bool changed = false;
  for (const auto& [name, value] : props) {
    std::uint8_t n = 0;
    if (name == "ActiveInstances" && read(value, n)) {
      changed |= a.advertisingInstancesActive != n;
      a.advertisingInstancesActive = n;
    } else if (name == "SupportedInstances" && read(value, n)) {
      changed |= a.advertisingInstancesSupported != n;
      a.advertisingInstancesSupported = n;
    }
  }
  return changed;
}

// Device1 (device-api.txt): a device_change mask of what the properties touched. Advertising
// properties count whenever BlueZ sends them (it sends them per report); states only on change.
std::uint32_t applyDevice(DeviceInfo& d, const PropertyMap& props,
                          const std::vector<std::string>& invalidated) {
  std::uint32_t mask = 0;
  AdvertisementData& ad = d.advertisement;
  for (const auto& [name, value] : props) {
    if (name == "RSSI") {
      std::int16_t rssi = 0;
      if (read(value, rssi)) {
        d.rssi = rssi;
        mask |= dc::kRssi;
      }
    } else if (name == "Name") {
      if (read(value, ad.name)) mask |= dc::kAdvertisement;
    } else if (name == "ManufacturerData") {
      if (read(value, ad.manufacturerData)) mask |= dc::kAdvertisement;
    } else if (name == "ServiceData") {
      if (const auto* m = std::get_if<std::map<std::string, Bytes>>(&value)) {
        ad.serviceData.clear();
        for (const auto& [key, bytes] : *m) {
          if (auto u = Uuid::parse(key); u.ok()) ad.serviceData[*u] = bytes;
        }
        mask |= dc::kAdvertisement;
      }
    } else if (name == "UUIDs") {
      std::vector<std::string> texts;
      if (read(value, texts)) {
        ad.serviceUuids = parseUuids(texts);
        mask |= dc::kAdvertisement;
      }
    } else if (name == "TxPower") {
      std::int16_t tx = 0;
      if (read(value, tx)) {
        ad.txPower = tx;
        mask |= dc::kAdvertisement;
      }
    } else if (name == "Appearance") {
      std::uint16_t appearance = 0;
      if (read(value, appearance)) {
        ad.appearance = appearance;
        mask |= dc::kAdvertisement;
      }
    } else if (name == "AdvertisingFlags") {
      Bytes flags;
      if (read(value, flags)) {
        ad.flags = flags.empty() ? std::nullopt : std::optional<std::uint8_t>(flags[0]);
        mask |= dc::kAdvertisement;
      }
    } else if (name == "AdvertisingData") {
      if (read(value, ad.adStructures)) mask |= dc::kAdvertisement;
    } else if (name == "Connected") {
      if (update(value, d.connected)) mask |= dc::kConnected;
    } else if (name == "ServicesResolved") {
      if (update(value, d.servicesResolved)) mask |= dc::kServicesResolved;
    } else if (name == "Alias") {
      if (update(value, d.alias)) mask |= dc::kOther;
    } else if (name == "Paired") {
      if (update(value, d.paired)) mask |= dc::kOther;
    } else if (name == "Trusted") {
      if (update(value, d.trusted)) mask |= dc::kOther;
    } else if (name == "Blocked") {
      if (update(value, d.blocked)) mask |= dc::kOther;
    } else if (name == "AddressType") {
      std::string text;
      if (read(value, text)) {
        if (auto t = parseAddressType(text); t.ok() && *t != d.addressType) {
          d.addressType = *t;
          mask |= dc::kOther;
        }
      }
    }
  }
  // BlueZ invalidates RSSI and TxPower when discovery ends (bluez-5.66-api.md §7.2).
  for (const auto& name : invalidated) {
    if (name == "RSSI" && d.rssi) {
      d.rssi.reset();
      mask |= dc::kOther;
    } else if (name == "TxPower" && ad.txPower) {
      ad.txPower.reset();
      mask |= dc::kAdvertisement;
    } else if (name == "Name" || name == "ManufacturerData" || name == "ServiceData" ||
               name == "UUIDs" || name == "Appearance" || name == "AdvertisingFlags" ||
               name == "AdvertisingData") {
      if (name == "Name") ad.name.clear();
      if (name == "ManufacturerData") ad.manufacturerData.clear();
      if (name == "ServiceData") ad.serviceData.clear();
      if (name == "UUIDs") ad.serviceUuids.clear();
      if (name == "Appearance") ad.appearance.reset();
      if (name == "AdvertisingFlags") ad.flags.reset();
      if (name == "AdvertisingData") ad.adStructures.clear();
      mask |= dc::kAdvertisement;
    }
  }
  return mask;
}

void applyService(ServiceNode& s, const PropertyMap& props) {
  for (const auto& [name, value] : props) {
    if (name == "UUID") {
      if (auto u = uuidOf(value)) s.uuid = *u;
    } else if (name == "Primary") {
      read(value, s.primary);
    }
  }
}

void applyCharacteristic(CharacteristicNode& c, const PropertyMap& props,
                         const std::vector<std::string>& invalidated) {
  for (const auto& [name, value] : props) {
    if (name == "UUID") {
      if (auto u = uuidOf(value)) c.info.uuid = *u;
    } else if (name == "Flags") {
      if (read(value, c.info.flags)) c.info.properties = propertiesFromFlags(c.info.flags);
    } else if (name == "Notifying") {
      read(value, c.info.notifying);
    } else if (name == "MTU") {
      std::uint16_t mtu = 0;
      if (read(value, mtu)) c.mtu = mtu;
    }
  }
  for (const auto& name : invalidated) {
    if (name == "MTU") c.mtu.reset();
  }
}

void applyDescriptor(DescriptorNode& d, const PropertyMap& props) {
  for (const auto& [name, value] : props) {
    if (name == "UUID") {
      if (auto u = uuidOf(value)) d.info.uuid = *u;
    }
  }
}

MirrorEvent deviceEvent(MirrorEvent::Kind kind, const DeviceInfo& d, std::uint32_t changes = 0) {
  MirrorEvent e;
  e.kind = kind;
  e.adapter = d.adapter;
  e.address = d.address;
  e.changes = changes;
  return e;
}

MirrorEvent adapterEvent(MirrorEvent::Kind kind, absl::string_view adapter) {
  MirrorEvent e;
  e.kind = kind;
  e.adapter = std::string(adapter);
  return e;
}

bool contains(const std::vector<std::string>& names, absl::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

void ObjectMirror::clear() { adapters_.clear(); }

void ObjectMirror::replaceAll(const std::vector<ManagedObject>& objects, MirrorEvents& events) {
  clear();
  MirrorEvents added;
  // Parents before children, whatever order the dictionary came in: shorter paths first.
  std::vector<const ManagedObject*> ordered;
  ordered.reserve(objects.size());
  for (const auto& o : objects) ordered.push_back(&o);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return a->path.size() < b->path.size();
  });
  for (const auto* o : ordered) interfacesAdded(*o, added);
  // Report adapters first, then devices, each once.
  for (const auto& [name, adapter] : adapters_) {
    events.push_back(adapterEvent(MirrorEvent::Kind::kAdapterChanged, name));
  }
  for (const auto& e : added) {
    if (e.kind == MirrorEvent::Kind::kDeviceChanged && (e.changes & dc::kAdded) != 0) {
      events.push_back(e);
    }
  }
}

void ObjectMirror::interfacesAdded(const ManagedObject& object, MirrorEvents& events) {
  static const std::vector<std::string> kNone;
  for (const auto& [interface, properties] : object.interfaces) {
    apply(object.path, interface, properties, kNone, /*create=*/true, events);
  }
}

void ObjectMirror::propertiesChanged(absl::string_view path, absl::string_view interface,
                                     const PropertyMap& changed,
                                     const std::vector<std::string>& invalidated,
                                     MirrorEvents& events) {
  apply(path, interface, changed, invalidated, /*create=*/false, events);
}

void ObjectMirror::apply(absl::string_view path, absl::string_view interface,
                         const PropertyMap& properties, const std::vector<std::string>& invalidated,
                         bool create, MirrorEvents& events) {
  const auto where = parsePath(path);
  if (!where) return;
  if (where->kind == ObjectKind::kAdapter) {
    const bool isAdapter = interface == iface::kAdapter;
    if (!isAdapter && interface != iface::kAdvertisingManager) return;
    AdapterNode* a = findAdapter(where->adapter);
    bool changed = false;
    if (a == nullptr) {
      if (!create || !isAdapter) return;
      auto [it, inserted] = adapters_.emplace(std::string(where->adapter), AdapterNode{});
      a = &it->second;
      a->path = std::string(path);
      a->info.name = std::string(where->adapter);
      changed = true;
    }
    changed |= isAdapter ? applyAdapter(a->info, properties)
                         : applyAdvertisingManager(a->info, properties);
    if (changed) events.push_back(adapterEvent(MirrorEvent::Kind::kAdapterChanged, a->info.name));
    return;
  }

  if (where->kind == ObjectKind::kDevice) {
    if (interface != iface::kDevice) return;
    AdapterNode* a = findAdapter(where->adapter);
    if (a == nullptr) return;
    auto it = a->devices.find(where->address);
    std::uint32_t mask = 0;
    if (it == a->devices.end()) {
      if (!create) return;
      auto node = std::make_unique<DeviceNode>();
      node->path = std::string(path);
      node->info.adapter = a->info.name;
      node->info.address = where->address;
      it = a->devices.emplace(where->address, std::move(node)).first;
      mask |= dc::kAdded;
    }
    mask |= applyDevice(it->second->info, properties, invalidated);
    if (mask != 0) {
      events.push_back(deviceEvent(MirrorEvent::Kind::kDeviceChanged, it->second->info, mask));
    }
    return;
  }

  DeviceNode* d = findDevice(where->adapter, where->address);
  if (d == nullptr) return;
  switch (where->kind) {
    case ObjectKind::kService: {
      if (interface != iface::kService) return;
      auto it = d->services.find(where->service);
      if (it == d->services.end()) {
        if (!create) return;
        it = d->services.emplace(where->service, ServiceNode{}).first;
        it->second.handle = where->service;
      }
      applyService(it->second, properties);
      return;
    }
    case ObjectKind::kCharacteristic: {
      if (interface != iface::kCharacteristic) return;
      auto it = d->characteristics.find(where->characteristic);
      if (it == d->characteristics.end()) {
        if (!create || d->services.count(where->service) == 0) return;
        it = d->characteristics.emplace(where->characteristic, CharacteristicNode{}).first;
        it->second.service = where->service;
        it->second.info.handle = where->characteristic;
      }
      applyCharacteristic(it->second, properties, invalidated);
      return;
    }
    case ObjectKind::kDescriptor: {
      if (interface != iface::kDescriptor) return;
      auto it = d->descriptors.find(where->descriptor);
      if (it == d->descriptors.end()) {
        if (!create || d->characteristics.count(where->characteristic) == 0) return;
        it = d->descriptors.emplace(where->descriptor, DescriptorNode{}).first;
        it->second.service = where->service;
        it->second.characteristic = where->characteristic;
        it->second.info.handle = where->descriptor;
      }
      applyDescriptor(it->second, properties);
      return;
    }
    case ObjectKind::kAdapter:
    case ObjectKind::kDevice:
      return;
  }
}

void ObjectMirror::interfacesRemoved(absl::string_view path,
                                     const std::vector<std::string>& interfaces,
                                     MirrorEvents& events) {
  const auto where = parsePath(path);
  if (!where) return;
  switch (where->kind) {
    case ObjectKind::kAdapter:
      if (contains(interfaces, iface::kAdapter)) removeAdapter(where->adapter, events);
      return;
    case ObjectKind::kDevice:
      if (contains(interfaces, iface::kDevice)) {
        if (AdapterNode* a = findAdapter(where->adapter)) removeDevice(*a, where->address, events);
      }
      return;
    default:
      break;
  }
  DeviceNode* d = findDevice(where->adapter, where->address);
  if (d == nullptr) return;
  if (where->kind == ObjectKind::kService && contains(interfaces, iface::kService)) {
    removeService(*d, where->service, events);
  } else if (where->kind == ObjectKind::kCharacteristic &&
             contains(interfaces, iface::kCharacteristic)) {
    removeCharacteristic(*d, where->characteristic, events);
  } else if (where->kind == ObjectKind::kDescriptor && contains(interfaces, iface::kDescriptor)) {
    d->descriptors.erase(where->descriptor);
  }
}

void ObjectMirror::syncDevice(absl::string_view adapter, const Address& address,
                              const std::vector<ManagedObject>& objects, MirrorEvents& events) {
  DeviceNode* d = findDevice(adapter, address);
  if (d == nullptr) return;
  const std::string prefix = d->path + "/";
  // Characteristics that disappear are reported (notify sessions end with them).
  std::vector<std::uint16_t> before;
  for (const auto& [handle, c] : d->characteristics) before.push_back(handle);
  d->services.clear();
  d->characteristics.clear();
  d->descriptors.clear();

  std::vector<const ManagedObject*> ordered;
  for (const auto& o : objects) {
    if (o.path == d->path) {
      for (const auto& [interface, properties] : o.interfaces) {
        if (interface == iface::kDevice) propertiesChanged(o.path, interface, properties, {}, events);
      }
    } else if (o.path.compare(0, prefix.size(), prefix) == 0) {
      ordered.push_back(&o);
    }
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return a->path.size() < b->path.size();
  });
  for (const auto* o : ordered) interfacesAdded(*o, events);
  for (std::uint16_t handle : before) {
    if (d->characteristics.count(handle) == 0) {
      MirrorEvent e = deviceEvent(MirrorEvent::Kind::kCharacteristicRemoved, d->info);
      e.handle = handle;
      events.push_back(std::move(e));
    }
  }
}

void ObjectMirror::removeAdapter(absl::string_view name, MirrorEvents& events) {
  auto it = adapters_.find(name);
  if (it == adapters_.end()) return;
  std::vector<Address> addresses;
  for (const auto& [address, device] : it->second.devices) addresses.push_back(address);
  std::sort(addresses.begin(), addresses.end());
  for (const auto& address : addresses) removeDevice(it->second, address, events);
  events.push_back(adapterEvent(MirrorEvent::Kind::kAdapterRemoved, name));
  adapters_.erase(it);
}

void ObjectMirror::removeDevice(AdapterNode& adapter, const Address& address,
                                MirrorEvents& events) {
  auto it = adapter.devices.find(address);
  if (it == adapter.devices.end()) return;
  DeviceNode& d = *it->second;
  while (!d.services.empty()) removeService(d, d.services.begin()->first, events);
  while (!d.characteristics.empty()) removeCharacteristic(d, d.characteristics.begin()->first, events);
  events.push_back(deviceEvent(MirrorEvent::Kind::kDeviceRemoved, d.info));
  adapter.devices.erase(it);
}

void ObjectMirror::removeService(DeviceNode& device, std::uint16_t handle, MirrorEvents& events) {
  std::vector<std::uint16_t> characteristics;
  for (const auto& [h, c] : device.characteristics) {
    if (c.service == handle) characteristics.push_back(h);
  }
  for (std::uint16_t h : characteristics) removeCharacteristic(device, h, events);
  device.services.erase(handle);
}

void ObjectMirror::removeCharacteristic(DeviceNode& device, std::uint16_t handle,
                                        MirrorEvents& events) {
  if (device.characteristics.erase(handle) == 0) return;
  std::erase_if(device.descriptors, [&](const auto& entry) {
    return entry.second.characteristic == handle;
  });
  MirrorEvent e = deviceEvent(MirrorEvent::Kind::kCharacteristicRemoved, device.info);
  e.handle = handle;
  events.push_back(std::move(e));
}

AdapterNode* ObjectMirror::findAdapter(absl::string_view name) {
  auto it = adapters_.find(name);
  return it == adapters_.end() ? nullptr : &it->second;
}

DeviceNode* ObjectMirror::findDevice(absl::string_view adapter, const Address& address) {
  AdapterNode* a = findAdapter(adapter);
  if (a == nullptr) return nullptr;
  auto it = a->devices.find(address);
  return it == a->devices.end() ? nullptr : it->second.get();
}

const AdapterNode* ObjectMirror::adapter(absl::string_view name) const {
  auto it = adapters_.find(name);
  return it == adapters_.end() ? nullptr : &it->second;
}

std::vector<const AdapterNode*> ObjectMirror::adapters() const {
  std::vector<const AdapterNode*> out;
  for (const auto& [name, a] : adapters_) out.push_back(&a);
  return out;
}

const DeviceNode* ObjectMirror::device(absl::string_view adapter, const Address& address) const {
  const AdapterNode* a = this->adapter(adapter);
  if (a == nullptr) return nullptr;
  auto it = a->devices.find(address);
  return it == a->devices.end() ? nullptr : it->second.get();
}

std::vector<const DeviceNode*> ObjectMirror::devices(absl::string_view adapter) const {
  std::vector<const DeviceNode*> out;
  const AdapterNode* a = this->adapter(adapter);
  if (a == nullptr) return out;
  out.reserve(a->devices.size());
  for (const auto& [address, d] : a->devices) out.push_back(d.get());
  std::sort(out.begin(), out.end(),
            [](const auto* x, const auto* y) { return x->info.address < y->info.address; });
  return out;
}

std::vector<GattServiceInfo> ObjectMirror::serviceTree(const DeviceNode& device) {
  std::vector<GattServiceInfo> out;
  out.reserve(device.services.size());
  std::map<std::uint16_t, std::size_t> serviceIndex;
  for (const auto& [handle, s] : device.services) {
    serviceIndex[handle] = out.size();
    GattServiceInfo info;
    info.handle = handle;
    info.uuid = s.uuid;
    info.primary = s.primary;
    out.push_back(std::move(info));
  }
  std::map<std::uint16_t, GattCharacteristicInfo*> charIndex;
  for (const auto& [handle, c] : device.characteristics) {
    auto it = serviceIndex.find(c.service);
    if (it == serviceIndex.end()) continue;
    auto& chars = out[it->second].characteristics;
    chars.push_back(c.info);
    chars.back().descriptors.clear();
  }
  // Pointers only once the vectors stop growing.
  for (auto& s : out) {
    for (auto& c : s.characteristics) charIndex[c.handle] = &c;
  }
  for (const auto& [handle, d] : device.descriptors) {
    auto it = charIndex.find(d.characteristic);
    if (it != charIndex.end()) it->second->descriptors.push_back(d.info);
  }
  return out;
}

std::optional<AttributeRef> ObjectMirror::attribute(const DeviceNode& device,
                                                    std::uint16_t handle) {
  if (auto c = device.characteristics.find(handle); c != device.characteristics.end()) {
    AttributeRef ref;
    ref.path = characteristicPath(device.info.adapter, device.info.address, c->second.service,
                                  handle);
    ref.characteristic = &c->second;
    return ref;
  }
  if (auto d = device.descriptors.find(handle); d != device.descriptors.end()) {
    AttributeRef ref;
    ref.isDescriptor = true;
    ref.path = descriptorPath(device.info.adapter, device.info.address, d->second.service,
                              d->second.characteristic, handle);
    return ref;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> ObjectMirror::mtu(const DeviceNode& device) {
  for (const auto& [handle, c] : device.characteristics) {
    if (c.mtu) return c.mtu;
  }
  return std::nullopt;
}

}  // namespace gattway::bluez
