// The shared radio: every simulated peripheral, advertising at its own interval (plus the 0-10 ms
// advDelay of Core spec Vol 6, Part B, 4.4.2.2) to every adapter that is scanning. A peripheral
// holding a link does not advertise. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/sim/peripheral.h"
#include "ble/sim/ticker.h"

namespace gattway::sim {

class AirListener {
 public:
  virtual ~AirListener() = default;
  // One advertising event (advertising data and, for a scannable device, the scan response) as
  // heard by this listener at `rssi`.
  virtual void onAdvertisement(Peripheral& peripheral, std::int16_t rssi) = 0;
  // The peripheral left the air (removed): links to it are gone.
  virtual void onPeripheralRemoved(Peripheral& peripheral) = 0;
};

class Air {
 public:
  explicit Air(Ticker& ticker) : ticker_(ticker) {}
  ~Air();
  Air(const Air&) = delete;
  Air& operator=(const Air&) = delete;

  Peripheral* add(std::unique_ptr<Peripheral> peripheral);
  // Listeners hear onPeripheralRemoved first. Returns false if unknown.
  bool remove(const Address& address);
  Peripheral* find(const Address& address) const;
  std::vector<Peripheral*> all() const;
  std::size_t size() const { return peripherals_.size(); }

  void addListener(AirListener* listener);
  void removeListener(AirListener* listener);
  // Whether `listener` scans; peripherals advertise only while someone scans.
  void setScanning(AirListener* listener, bool scanning);

  // Every device advertises at this interval instead of its own (load generation); nullopt: each
  // its own.
  void setIntervalOverride(std::optional<absl::Duration> interval);
  std::uint64_t advertisingEvents() const { return events_; }

 private:
  struct Entry {
    std::unique_ptr<Peripheral> peripheral;
    std::uint64_t job = 0;  // ticker job while advertising
  };
  void start(Entry& e, bool randomPhase);
  void stop(Entry& e);
  void restartAll();
  absl::Duration interval(Peripheral& p);
  std::optional<absl::Duration> onEvent(Peripheral& p);

  Ticker& ticker_;
  std::map<Address, Entry> peripherals_;
  std::vector<AirListener*> listeners_;
  std::vector<AirListener*> scanning_;
  std::optional<absl::Duration> intervalOverride_;
  std::uint64_t events_ = 0;
};

}  // namespace gattway::sim
