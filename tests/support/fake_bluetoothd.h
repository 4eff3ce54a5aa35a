// Plays bluetoothd's part for a hosted application on a private bus, until the simulated BlueZ
// (ble/sim) does: owns org.bluez with adapters (Adapter1, GattManager1, LEAdvertisingManager1)
// and Device1 objects, reads a registered application back with GetManagedObjects as 5.66 does,
// reads an advertisement with Properties.GetAll, and calls ReadValue / WriteValue / StartNotify /
// StopNotify / Confirm / Release on the caller's objects with BlueZ's option dicts. Its own loop
// thread; every public method blocks and is for the test thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
#include "sdbus-c++/IObject.h"
#include "sdbus-c++/IProxy.h"

namespace gattway::testing {

class FakeBluetoothd {
 public:
  struct Attribute {
    std::string path;
    std::string interface;  // org.bluez.GattService1 / GattCharacteristic1 / GattDescriptor1
    std::string uuid;
    std::vector<std::string> flags;
    std::string parent;     // Service / Characteristic property
    bool primary = false;
  };
  struct Advertisement {
    std::string path;
    std::string type;
    std::string localName;
    std::vector<std::string> serviceUuids, solicitUuids, includes;
    std::map<std::uint16_t, std::vector<std::uint8_t>> manufacturerData;
    std::map<std::string, std::vector<std::uint8_t>> serviceData;
    std::optional<std::uint16_t> appearance, timeout, discoverableTimeout;
    std::optional<bool> discoverable;
    std::optional<std::uint32_t> minInterval, maxInterval;
    std::optional<std::int16_t> txPower;
  };
  struct CallResult {
    std::string error;    // D-Bus error name; empty on success
    std::string message;  // error message
    std::vector<std::uint8_t> value;
  };

  struct Options {
    std::vector<std::string> adapters = {"hci0"};
    // bluetoothd -E: LEAdvertisingManager1.SupportedFeatures present.
    bool experimental = false;
    std::uint8_t advertisingSlots = 4;
  };
  FakeBluetoothd(const std::string& busAddress, Options options);
  explicit FakeBluetoothd(const std::string& busAddress) : FakeBluetoothd(busAddress, Options()) {}
  ~FakeBluetoothd();

  // The registered application (empty until one is).
  std::vector<Attribute> application() const;
  bool waitForApplication(absl::Duration timeout) const;
  std::string pathOf(const std::string& uuid128, const std::string& interface =
                                                     "org.bluez.GattCharacteristic1") const;
  std::vector<Advertisement> advertisements() const;

  // What a central does, as bluetoothd forwards it.
  CallResult readValue(const std::string& path, const std::string& central, std::uint16_t offset = 0,
                       std::uint16_t mtu = 517);
  // `noReply`: BlueZ does not wait for the answer (write-without-response characteristics).
  CallResult writeValue(const std::string& path, const std::vector<std::uint8_t>& value,
                        const std::string& central, std::uint16_t offset = 0, bool noReply = false);
  void callNoReply(const std::string& path, const char* method);  // StartNotify, StopNotify, Confirm
  CallResult callMethod(const std::string& path, const char* interface, const char* method);
  // Values emitted by the application (PropertiesChanged of Value), per characteristic path.
  std::vector<std::vector<std::uint8_t>> values(const std::string& path) const;
  bool waitForValues(const std::string& path, std::size_t count, absl::Duration timeout) const;
  void release(const std::string& advertisementPath);

  // A central connecting to / leaving an adapter (Device1 appears with Connected).
  void connectCentral(const std::string& adapter, const std::string& address);
  void disconnectCentral(const std::string& adapter, const std::string& address);

  // bluetoothd stops (org.bluez leaves the bus with everything registered) and comes back.
  void restart();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace gattway::testing
