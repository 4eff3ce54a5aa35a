// What advertising reports do to a Device1 (src/device.c and btd_adapter_update_found_device,
// 5.66; bluez-5.66-api.md §7.2): which properties change, and when that is signalled.
#include <algorithm>
#include <cstdlib>

#include "ble/sim/device.h"
#include "ble/sim/gatt_client.h"

namespace gattway::sim {

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
  if (!adv.manufacturerData.empty()) {
    bool differs = duplicateData;
    for (const auto& [id, bytes] : adv.manufacturerData) {
      auto it = manufacturerData_.find(id);
      if (it == manufacturerData_.end() || it->second != bytes) {
        manufacturerData_[id] = bytes;
        differs = true;
      }
    }
    if (duplicateData) {
      manufacturerData_.clear();
      for (const auto& [id, bytes] : adv.manufacturerData) manufacturerData_[id] = bytes;
    }
    if (differs) changed(kManufacturerData);
  }
  if (!adv.serviceData.empty()) {
    bool differs = duplicateData;
    for (const auto& [uuid, bytes] : adv.serviceData) {
      const std::string key = uuid.toLongString();
      auto it = serviceData_.find(key);
      if (it == serviceData_.end() || it->second != bytes) {
        serviceData_[key] = bytes;
        differs = true;
      }
    }
    if (duplicateData) {
      serviceData_.clear();
      for (const auto& [uuid, bytes] : adv.serviceData) serviceData_[uuid.toLongString()] = bytes;
    }
    if (differs) changed(kServiceData);
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
