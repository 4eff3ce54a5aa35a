// What advertising reports do to a Device1 (src/device.c and btd_adapter_update_found_device,
// 5.66; bluez-5.66-api.md §7.2): which properties change, and when that is signalled.
#include <algorithm>
#include <cstdlib>

#include "ble/sim/device.h"
#include "ble/sim/gatt_client.h"

namespace gattway::sim {
namespace {

// Merges one report's records (manufacturer or service data) into what the device has: new keys
// and changed bytes are taken and old keys stay; with `replace` (DuplicateData) the report's
// records replace everything. Returns whether to signal.
template <typename Mine, typename Theirs, typename KeyOf>
bool mergeRecords(Mine& mine, const Theirs& theirs, KeyOf keyOf, bool replace) {
  bool differs = replace;
  if (replace) mine.clear();
  for (const auto& [k, bytes] : theirs) {
    auto key = keyOf(k);
    auto it = mine.find(key);
    if (it == mine.end() || it->second != bytes) {
      mine[key] = bytes;
      differs = true;
    }
  }
  return differs;
}

}  // namespace

void Device::seen(absl::Time now, bool connectable) {
  lastSeen_ = now;
  lastConnectable_ = connectable;
  expiryArmed_ = true;
}

void Device::applyReport(const Report& report, const AdvertisingSpec& adv, bool filtered,
                         bool duplicateData) {
  // RSSI (device_set_rssi_with_delta): in filtered mode the threshold is 0, so every report is
  // signalled, even with the same value; otherwise only a change of 8 dBm or more, or the first.
  const std::int16_t rssi = report.rssi;
  if (rssi_ == 0 || rssi == 0) {
    if (rssi_ != rssi) {
      rssi_ = rssi;
      changed(kRssi);
    }
  } else if (filtered || std::abs(rssi - rssi_) >= 8) {
    rssi_ = rssi;
    changed(kRssi);
  }
  if (adv.txPower && *adv.txPower != txPower_) {
    txPower_ = *adv.txPower;
    changed(kTxPower);
  }
  if (adv.appearance && *adv.appearance != 0 && appearance_ != adv.appearance) {
    appearance_ = adv.appearance;
    changed(kAppearance);
    changed(kIcon);
  }
  if (!adv.name.empty() && name_ != adv.name) {
    name_ = adv.name;
    changed(kName);
    if (!aliasSet_) changed(kAlias);
  }
  // UUIDs from advertising are added until the services have been resolved once.
  if (!gatt_->exported()) {
    bool added = false;
    for (const auto& u : report.uuids) {
      if (std::find(uuids_.begin(), uuids_.end(), u) == uuids_.end()) {
        uuids_.push_back(u);
        added = true;
      }
    }
    if (added) changed(kUuids);
  }
  // Manufacturer and service data accumulate; with DuplicateData they are replaced every time.
  if (!adv.manufacturerData.empty() &&
      mergeRecords(manufacturerData_, adv.manufacturerData, [](std::uint16_t id) { return id; }, duplicateData)) {
    changed(kManufacturerData);
  }
  if (!adv.serviceData.empty() &&
      mergeRecords(serviceData_, adv.serviceData, [](const Uuid& u) { return u.toLongString(); }, duplicateData)) {
    changed(kServiceData);
  }
  // AdvertisingData: only type 0x26 (Transport Discovery) changes are signalled.
  for (const auto& [type, bytes] : adv.other) {
    auto it = advertisingData_.find(type);
    if (it == advertisingData_.end() || it->second != bytes) {
      advertisingData_[type] = bytes;
      if (type == 0x26) changed(kAdvertisingData);
    }
  }
  if (advertisingFlags_ != report.flags) {
    advertisingFlags_ = report.flags;
    changed(kAdvertisingFlags);
  }
}

void Device::invalidateRssi() {
  if (rssi_ != 0) {
    rssi_ = 0;
    changed(kRssi);
  }
  if (txPower_ != 127) {
    txPower_ = 127;
    changed(kTxPower);
  }
}

}  // namespace gattway::sim
