// The gateway's copy of org.bluez's object tree (adapters, devices, GATT services, characteristics,
// descriptors), as plain structs. It is fed the contents of GetManagedObjects, InterfacesAdded,
// InterfacesRemoved and PropertiesChanged (already parsed, see message_parsing.h) and knows nothing
// of D-Bus, so it is tested from synthetic data. Every apply function appends what it changed to
// `events`; the caller reports those once the tree is consistent again.
//
// Objects are placed by their paths (paths.h): a characteristic belongs to the service its path
// names. Objects whose parent is not mirrored, or whose path BlueZ would not produce, are ignored.
// Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "ble/address.h"
#include "ble/bluez/properties.h"
#include "ble/central_backend.h"
#include "ble/uuid.h"

namespace gattway::bluez {

struct ServiceNode {
  std::uint16_t handle = 0;
  Uuid uuid;
  bool primary = true;
};

struct CharacteristicNode {
  std::uint16_t service = 0;
  GattCharacteristicInfo info;  // `descriptors` stays empty here; see DescriptorNode
  std::optional<std::uint16_t> mtu;  // GattCharacteristic1.MTU, present while connected
};

struct DescriptorNode {
  std::uint16_t service = 0;
  std::uint16_t characteristic = 0;
  GattDescriptorInfo info;
};

struct DeviceNode {
  DeviceInfo info;
  std::string path;
  // By handle. A device's ATT handles are unique across the three kinds.
  std::map<std::uint16_t, ServiceNode> services;
  std::map<std::uint16_t, CharacteristicNode> characteristics;
  std::map<std::uint16_t, DescriptorNode> descriptors;
};

struct AdapterNode {
  AdapterInfo info;
  std::string path;
  // unique_ptr: DeviceInfo pointers handed out stay valid while the device exists.
  absl::flat_hash_map<Address, std::unique_ptr<DeviceNode>> devices;
};

struct MirrorEvent {
  enum class Kind {
    kAdapterChanged,         // added or changed
    kAdapterRemoved,
    kDeviceChanged,          // `changes`: a device_change mask (kAdded when it appeared)
    kDeviceRemoved,
    kCharacteristicRemoved,  // `handle`: its declaration handle
  };
  Kind kind = Kind::kAdapterChanged;
  std::string adapter;
  Address address;
  std::uint32_t changes = 0;
  std::uint16_t handle = 0;
};
using MirrorEvents = std::vector<MirrorEvent>;

// A characteristic or descriptor found by handle.
struct AttributeRef {
  bool isDescriptor = false;
  std::string path;
  const CharacteristicNode* characteristic = nullptr;  // set when !isDescriptor
};

class ObjectMirror {
 public:
  // GetManagedObjects: replaces everything mirrored (without events for what it drops) and reports
  // every adapter, then every device, as added.
  void replaceAll(const std::vector<ManagedObject>& objects, MirrorEvents& events);
  // Forgets everything, silently (org.bluez left the bus; the caller says so once).
  void clear();

  void interfacesAdded(const ManagedObject& object, MirrorEvents& events);
  // Removing Adapter1, Device1, GattService1 or GattCharacteristic1 removes what lies below too.
  void interfacesRemoved(absl::string_view path, const std::vector<std::string>& interfaces,
                         MirrorEvents& events);
  void propertiesChanged(absl::string_view path, absl::string_view interface,
                         const PropertyMap& changed, const std::vector<std::string>& invalidated,
                         MirrorEvents& events);
  // A fresh GetManagedObjects for one device (`objects` may hold others; they are ignored): its
  // GATT objects are replaced by those listed, its Device1 properties applied. For
  // ServicesResolved=true that came before the GATT objects' InterfacesAdded (BLUEZ-VM.md).
  void syncDevice(absl::string_view adapter, const Address& address,
                  const std::vector<ManagedObject>& objects, MirrorEvents& events);

  const AdapterNode* adapter(absl::string_view name) const;
  std::vector<const AdapterNode*> adapters() const;  // by name
  const DeviceNode* device(absl::string_view adapter, const Address& address) const;
  std::vector<const DeviceNode*> devices(absl::string_view adapter) const;  // by address

  // The device's services with their characteristics and descriptors, each level by handle.
  static std::vector<GattServiceInfo> serviceTree(const DeviceNode& device);
  // The characteristic (declaration handle) or descriptor with `handle`.
  static std::optional<AttributeRef> attribute(const DeviceNode& device, std::uint16_t handle);
  // The ATT MTU BlueZ reports on any of the device's characteristics.
  static std::optional<std::uint16_t> mtu(const DeviceNode& device);

 private:
  AdapterNode* findAdapter(absl::string_view name);
  DeviceNode* findDevice(absl::string_view adapter, const Address& address);
  void removeAdapter(absl::string_view name, MirrorEvents& events);
  void removeDevice(AdapterNode& adapter, const Address& address, MirrorEvents& events);
  static void removeService(DeviceNode& device, std::uint16_t handle, MirrorEvents& events);
  static void removeCharacteristic(DeviceNode& device, std::uint16_t handle, MirrorEvents& events);
  // Applies one interface's properties to the object at `path` (created when `create`).
  void apply(absl::string_view path, absl::string_view interface, const PropertyMap& properties,
             const std::vector<std::string>& invalidated, bool create, MirrorEvents& events);

  std::map<std::string, AdapterNode, std::less<>> adapters_;
};

}  // namespace gattway::bluez
