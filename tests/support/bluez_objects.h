// BlueZ 5.66-shaped objects as plain data (ble/bluez/properties.h): what GetManagedObjects and
// InterfacesAdded carry for an adapter, a device and its GATT database. For mirror unit tests and
// the scripted fake org.bluez.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ble/address.h"
#include "ble/bluez/properties.h"

namespace gattway::testing {

bluez::ManagedObject adapterObject(const std::string& name, const std::string& address,
                                   bool powered = true);
// Device1 with Address, AddressType, Alias, Adapter, Paired, Trusted, Blocked, Connected,
// ServicesResolved, and `extra` (RSSI, Name, ManufacturerData, ...).
bluez::ManagedObject deviceObject(const std::string& adapter, const Address& address,
                                  bluez::PropertyMap extra = {}, bool random = false);
bluez::ManagedObject serviceObject(const std::string& adapter, const Address& address,
                                   std::uint16_t handle, const std::string& uuid);
bluez::ManagedObject characteristicObject(const std::string& adapter, const Address& address,
                                          std::uint16_t service, std::uint16_t handle,
                                          const std::string& uuid,
                                          std::vector<std::string> flags,
                                          std::optional<std::uint16_t> mtu = std::nullopt);
bluez::ManagedObject descriptorObject(const std::string& adapter, const Address& address,
                                      std::uint16_t service, std::uint16_t characteristic,
                                      std::uint16_t handle, const std::string& uuid);

// The short UUID in BlueZ's spelling: "0000180d-0000-1000-8000-00805f9b34fb".
std::string bluezUuid(std::uint16_t shortUuid);

// A heart-rate sensor's database: service 0x000a (180D), Heart Rate Measurement 0x000b (notify)
// with its CCC 0x000d, Body Sensor Location 0x000e (read), control point 0x0010 (write).
std::vector<bluez::ManagedObject> heartRateDatabase(const std::string& adapter,
                                                    const Address& address,
                                                    std::uint16_t mtu = 247);

}  // namespace gattway::testing
