// A simulated peripheral in the air: what it advertises, its GATT database with handles laid out
// as a real device's, and its ATT server (permissions, offsets, lengths). It knows nothing of
// D-Bus; each adapter's Device object reaches it over a simulated link. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/sim/discovery.h"
#include "ble/sim/fleet.h"
#include "ble/sim/value_model.h"

namespace gattway::sim {

// A peripheral whose ATT server is somewhere else: a hosted application on another adapter of
// this simulator (hosted_air.h). Device and RemoteCharacteristic send it the link and every ATT
// operation instead of using the Peripheral's own database; handles are the Peripheral's.
class AttBridge {
 public:
  virtual ~AttBridge() = default;
  // The link came up from `adapter` ("hci0"), or went down ("").
  virtual void linkChanged(const std::string& adapter) = 0;
  // A long read from `offset`: 0 and the bytes from `offset` on, or an ATT error code.
  virtual void read(std::uint16_t valueHandle, std::uint16_t offset,
                    absl::AnyInvocable<void(std::uint8_t att, Bytes value)> done) = 0;
  // A Write Request (long ones prepared) or a Write Command (`command`, whose result is dropped).
  virtual void write(std::uint16_t valueHandle, const Bytes& value, bool command,
                     absl::AnyInvocable<void(std::uint8_t att)> done) = 0;
  // The CCC written: 0x0001 notifications, 0x0002 indications, 0 off.
  virtual void setCcc(std::uint16_t valueHandle, std::uint16_t ccc) = 0;
};

// Whether BlueZ's flags give the attribute read or write permission (src/gatt-database.c).
bool readable(const std::vector<std::string>& flags);
bool writable(const std::vector<std::string>& flags);

// GATT characteristic property bits (Core spec Vol 3, Part G, 3.3.1.1).
std::uint8_t propertiesFromFlags(const std::vector<std::string>& flags);

class Peripheral {
 public:
  struct Descriptor {
    std::uint16_t handle = 0;
    Uuid uuid;
    std::vector<std::string> flags;
    Bytes value;
  };
  struct Characteristic {
    std::uint16_t declHandle = 0;  // BlueZ's "charXXXX"
    std::uint16_t valueHandle = 0;
    Uuid uuid;
    std::vector<std::string> flags;
    std::uint8_t properties = 0;
    std::string modelName;
    std::unique_ptr<ValueModel> model;
    absl::Duration notifyInterval;
    std::vector<Descriptor> descriptors;  // by handle; the CCC first when present
    std::uint16_t ccc = 0;  // the connected central's Client Characteristic Configuration
    bool has(absl::string_view flag) const;
    const Descriptor* cccDescriptor() const;
  };
  struct Service {
    std::uint16_t start = 0, end = 0;
    Uuid uuid;
    bool primary = true;
    bool internal = false;  // claimed by a bluetoothd plugin (GAP 0x1800): not exported
    std::vector<Characteristic> characteristics;
  };

  // Lays out the database: GAP at 0x0001, GATT at 0x0006, then the fleet's services from 0x000a.
  static absl::StatusOr<std::unique_ptr<Peripheral>> create(const DeviceSpec& spec,
                                                           std::uint64_t seed);

  const DeviceSpec& spec() const { return spec_; }
  const Address& address() const { return spec_.address; }
  AddressType addressType() const { return spec_.addressType; }
  // Mutable through the control interface (RSSI, advertising data); call advertisingChanged()
  // after a change.
  AdvertisingSpec& advertising() { return spec_.advertising; }
  void advertisingChanged() { report_.reset(); }
  // What bluetoothd parses from one advertising event plus scan response, heard at `rssi`. The
  // same object each time (reports are the hot path): valid until the next call.
  const Report& report(std::int16_t rssi);
  int& rssiMean() { return spec_.rssi; }
  // One RSSI sample: the mean plus Gaussian jitter, clamped to -127..20.
  std::int16_t sampleRssi();
  std::mt19937_64& rng() { return rng_; }

  std::vector<Service>& services() { return services_; }
  // By declaration or value handle.
  Characteristic* characteristic(std::uint16_t handle);
  Descriptor* descriptor(std::uint16_t handle, Characteristic** owner = nullptr);
  // Every service UUID, GAP and GATT included (Device1.UUIDs once resolved).
  std::vector<Uuid> serviceUuids() const;

  // --- the link (one central at a time) ---
  // The adapter that holds the link ("hci0"), or "".
  const std::string& connectedTo() const { return connectedTo_; }
  void setConnectedTo(const std::string& adapter);
  // Whether it advertises now (not while connected).
  bool advertisingNow() const { return connectedTo_.empty(); }

  // --- the ATT server ---
  struct ReadResult {
    std::uint8_t att = 0;  // 0 or an ATT error code
    Bytes value;
  };
  // The whole value of a characteristic (a long read is Read + Read Blob over it).
  ReadResult read(Characteristic& c, absl::Time now);
  ReadResult read(Descriptor& d, const Characteristic& owner);
  // Write Request / Prepare+Execute (command=false) or Write Command (command=true), at `offset`.
  // A command's result is never reported to the client.
  std::uint8_t write(Characteristic& c, const Bytes& data, std::uint16_t offset, bool command,
                     absl::Time now);
  std::uint8_t write(Descriptor& d, Characteristic& owner, const Bytes& data, std::uint16_t offset);
  // The next notification payload of `c`.
  Bytes notification(Characteristic& c, absl::Time now);

  // Told when a model pushes a value by itself (the camera's status after a command).
  void setPushHandler(std::function<void(Characteristic&)> handler) { push_ = std::move(handler); }

  // Set for a hosted application's advertisement (not owned): ATT goes through it.
  AttBridge* bridge() const { return bridge_; }
  void setBridge(AttBridge* bridge) { bridge_ = bridge; }

 private:
  explicit Peripheral(const DeviceSpec& spec, std::uint64_t seed);
  DeviceSpec spec_;
  std::mt19937_64 rng_;
  ModelContext context_;
  std::vector<Service> services_;
  std::string connectedTo_;
  std::function<void(Characteristic&)> push_;
  std::optional<Report> report_;
  AttBridge* bridge_ = nullptr;
};

}  // namespace gattway::sim
