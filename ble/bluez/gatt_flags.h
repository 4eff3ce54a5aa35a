// GattCharacteristic1.Flags (gatt-api.txt) → the characteristic property bits of the declaration
// (Core spec Vol 3, Part G, 3.3.1.1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gattway::bluez {

// Unknown names are ignored. BlueZ folds the extended properties into Flags as "reliable-write"
// and "writable-auxiliaries"; either implies the Extended Properties bit (0x80).
std::uint8_t propertiesFromFlags(const std::vector<std::string>& flags);

}  // namespace gattway::bluez
