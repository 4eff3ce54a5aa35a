// org.bluez.LEAdvertisingManager1 on /org/bluez/hciN: advertisements registered by applications,
// read with Properties.GetAll("org.bluez.LEAdvertisement1") as bluetoothd does and parsed with
// 5.66's rules and errors (src/advertising.c; bluez-5.66-api.md §5). Registered advertisements
// are what simulated remote centrals find and connect to. Loop thread only.
//
// Power: as with Linux 6.1 on an extended-advertising controller (seen in the VM tier, btvirt),
// powering the adapter off removes every advertising instance from the controller (mgmt
// Advertising Removed), and bluetoothd 5.66 has no handler for that event: the registration
// stays (ActiveInstances counts it, no Release()), but the advertisement is off the air after
// power on until bluetoothd sends it to the kernel again — a new registration, or a property
// change of the advertisement (properties_changed → refresh_advertisement). Not modelled: 5.66
// also refreshes every advertisement when the adapter's Discoverable setting changes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ble/event_loop.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/fleet.h"

namespace gattway::sim {

class Adapter;

// One parsed LEAdvertisement1.
struct Advertisement {
  std::string owner;
  std::string path;
  bool connectable = false;  // Type "peripheral"
  std::vector<Uuid> serviceUuids;
  std::vector<Uuid> solicitUuids;
  std::map<std::uint16_t, Bytes> manufacturerData;
  std::map<Uuid, Bytes> serviceData;
  std::vector<std::string> includes;
  std::string localName;
  std::optional<std::uint16_t> appearance;
  std::uint16_t duration = 0;
  std::uint16_t timeout = 0;
  std::map<std::uint8_t, Bytes> data;
  std::optional<bool> discoverable;
  std::uint16_t discoverableTimeout = 0;
  std::optional<std::int16_t> txPower;
};

// Parses LEAdvertisement1's properties. False: "Failed to parse advertisement." (5.66 gives that
// one error for every problem, oversize data included).
bool parseAdvertisement(const dbus::Dict& props, Advertisement& out);
// Bytes the advertising data and the scan response take (legacy PDUs: 31 each).
std::size_t advertisingDataSize(const Advertisement& ad);
std::size_t scanResponseSize(const Advertisement& ad);

class AdvertisingManager final : public dbus::Interface {
 public:
  explicit AdvertisingManager(Adapter& adapter);
  ~AdvertisingManager() override;

  // The advertisements on the air: registered, and not lost to a power-off since.
  std::vector<const Advertisement*> advertisements() const;
  // Whether a connectable advertisement is on the air (a remote central can connect).
  bool connectable() const;
  // Powered off: every registered advertisement leaves the controller (see above).
  void poweredChanged(bool on);

  bool has(int property) const override;
  void get(int property, dbus::Writer& out) const override;
  void invoke(int method, dbus::Call call) override;

 private:
  struct Entry {
    Advertisement ad;
    bool registered = false;  // the reply went out
    bool lost = false;        // the controller dropped it at power-off; bluetoothd still has it
    dbus::Slot changes;
    Timer timeout;
  };
  void registerAdvertisement(dbus::Call call);
  void unregisterAdvertisement(dbus::Call call);
  void fetch(Entry* entry, dbus::Call call);
  void release(Entry* entry, bool callRelease);
  int active() const { return static_cast<int>(entries_.size()); }

  Adapter& adapter_;
  std::vector<std::unique_ptr<Entry>> entries_;
  dbus::CallSet calls_;
  dbus::Bus::NameLostToken nameLost_;
};

}  // namespace gattway::sim
