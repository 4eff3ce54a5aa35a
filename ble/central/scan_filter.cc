#include "ble/central/scan_filter.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace gattway {

std::optional<bool> inferConnectable(std::optional<std::uint8_t> flags, bool everConnected) {
  if (everConnected) return true;
  if (!flags) return std::nullopt;
  constexpr std::uint8_t kDiscoverable = 0x01 | 0x02;  // LE limited | LE general discoverable
  return (*flags & kDiscoverable) != 0;
}

void ScanFilter::normalize() {
  auto sortUnique = [](auto& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  sortUnique(serviceUuids);
  sortUnique(addresses);
  sortUnique(manufacturerIds);
}

namespace {

bool advertisesService(const AdvertisementData& data, const std::vector<Uuid>& wanted) {
  for (const Uuid& u : data.serviceUuids) {
    if (std::binary_search(wanted.begin(), wanted.end(), u)) return true;
  }
  for (const auto& [u, bytes] : data.serviceData) {
    if (std::binary_search(wanted.begin(), wanted.end(), u)) return true;
  }
  return false;
}

bool advertisesManufacturer(const AdvertisementData& data,
                            const std::vector<std::uint16_t>& wanted) {
  for (const auto& [id, bytes] : data.manufacturerData) {
    if (std::binary_search(wanted.begin(), wanted.end(), id)) return true;
  }
  return false;
}

}  // namespace

bool matches(const ScanFilter& filter, const ScanRecord& record) {
  if (!filter.addresses.empty() &&
      !std::binary_search(filter.addresses.begin(), filter.addresses.end(), record.address)) {
    return false;
  }
  if (filter.minRssi && (!record.rssi || *record.rssi < *filter.minRssi)) return false;
  // Unknown connectability passes: BlueZ cannot always tell (see inferConnectable).
  if (filter.connectableOnly && record.connectable == false) return false;
  const AdvertisementData& data = record.data();
  if (!filter.namePrefix.empty() && !absl::StartsWith(data.name, filter.namePrefix)) return false;
  if (!filter.serviceUuids.empty() && !advertisesService(data, filter.serviceUuids)) return false;
  if (!filter.manufacturerIds.empty() && !advertisesManufacturer(data, filter.manufacturerIds)) {
    return false;
  }
  return true;
}

DiscoveryFilter mergeDiscoveryFilters(absl::Span<const DiscoveryNeed> needs) {
  DiscoveryFilter merged;
  merged.duplicateData = false;
  bool everyHasRssi = !needs.empty();
  std::int16_t lowest = 20;
  for (const DiscoveryNeed& need : needs) {
    if (need.mode == ScanMode::kAll) merged.duplicateData = true;
    if (need.filter == nullptr || !need.filter->minRssi) {
      everyHasRssi = false;
    } else {
      lowest = std::min(lowest, *need.filter->minRssi);
    }
  }
  if (everyHasRssi) merged.rssi = lowest;
  return merged;
}

}  // namespace gattway
