// A fleet: the simulated peripherals in the air, as described by a fleet file (YAML; the format is
// documented in docs/simulator.md, the demo fleet is ble/sim/fleets/demo.yaml).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/uuid.h"

namespace gattway::sim {

using Bytes = std::vector<std::uint8_t>;

struct DescriptorSpec {
  Uuid uuid;
  std::vector<std::string> flags = {"read"};  // BlueZ's descriptor flag names
  Bytes value;
};

struct CharacteristicSpec {
  Uuid uuid;
  std::vector<std::string> flags;  // BlueZ's flag names: read, write, notify, ...
  Bytes value;                     // the initial value
  // How the value behaves (value_model.h): static, temperature, humidity, heart_rate, battery,
  // counter, blob, camera_control, camera_status, sink.
  std::string model = "static";
  std::map<std::string, double> params;
  // How often a subscribed characteristic notifies or indicates; zero: only when the value changes
  // through a write or a control point.
  absl::Duration notifyInterval = absl::ZeroDuration();
  std::vector<DescriptorSpec> descriptors;  // the CCC (0x2902) is added when notify/indicate is set
};

struct ServiceSpec {
  Uuid uuid;
  bool primary = true;
  std::vector<CharacteristicSpec> characteristics;
};

// What the device puts in its advertising PDUs and scan responses (Core spec Supp. Part A).
struct AdvertisingSpec {
  absl::Duration interval = absl::Milliseconds(200);
  bool connectable = true;
  std::uint8_t flags = 0x06;  // LE General Discoverable, BR/EDR not supported
  std::string name;           // complete local name; empty: none
  bool nameInScanResponse = false;
  std::vector<Uuid> serviceUuids;
  std::map<std::uint16_t, Bytes> manufacturerData;
  std::map<Uuid, Bytes> serviceData;
  std::optional<std::int8_t> txPower;
  std::optional<std::uint16_t> appearance;
  std::map<std::uint8_t, Bytes> other;  // further AD structures by type (e.g. 0x26)
  // Load generation: the first manufacturer data record starts with a little-endian uint32 that
  // counts advertising events, so every report carries new data.
  bool countInManufacturerData = false;
};

struct DeviceSpec {
  std::string name;  // GAP Device Name
  Address address;
  AddressType addressType = AddressType::kPublic;
  AdvertisingSpec advertising;
  int rssi = -60;            // mean RSSI at the adapters, dBm
  double rssiJitter = 3.0;   // standard deviation, dBm
  std::uint16_t mtu = 247;   // the largest ATT MTU the device accepts
  absl::Duration connectLatency = absl::Milliseconds(20);
  absl::Duration linkDropInterval = absl::ZeroDuration();  // mean time between drops; 0: never
  std::uint16_t appearance = 0;  // GAP Appearance characteristic
  std::vector<ServiceSpec> services;
};

struct Fleet {
  std::vector<DeviceSpec> devices;
};

// Parses fleet YAML. Errors name the offending key ("devices[2].services[0].uuid: ...").
absl::StatusOr<Fleet> parseFleet(const std::string& yaml);
absl::StatusOr<Fleet> loadFleet(const std::string& path);
// Devices (a `devices:` list or a single device mapping) in the same format, for the control
// interface's AddDevices.
absl::StatusOr<std::vector<DeviceSpec>> parseDevices(const std::string& yaml);

// `count` load devices ("Load-1", ... at F0:00:00:xx:xx:xx, random static): a counter
// characteristic that notifies `size`-byte values, and `size` bytes of manufacturer data that
// change with every advertising event. `timestamps`: bytes 4..11 of each counter value carry the
// wall clock when it was made (Unix ns, little-endian; sizes of 12 and more), for latency benchmarks.
std::vector<DeviceSpec> loadDevices(int count, int size, bool timestamps = false);

// Whether `flag` is a characteristic flag name BlueZ accepts (gatt-api.txt, 5.66).
bool knownCharacteristicFlag(const std::string& flag);

// Hex bytes, with optional spaces, colons or dashes: "0a 0b", "0A:0B", "0a0b".
absl::StatusOr<Bytes> parseHex(const std::string& text);

}  // namespace gattway::sim
