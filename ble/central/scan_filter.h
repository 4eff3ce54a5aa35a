// Scan filters: what one Scan stream asks for, whether a device matches it, and the one BlueZ
// discovery filter that serves every stream on an adapter at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "ble/address.h"
#include "ble/central/scan_record.h"
#include "ble/central_backend.h"
#include "ble/uuid.h"

namespace gattway {

// Every condition that is set must hold; within a list any element may match; empty matches all
// (scan.proto, ScanFilter).
struct ScanFilter {
  std::vector<Uuid> serviceUuids;
  std::string namePrefix;
  std::vector<Address> addresses;  // kept sorted (normalize()) for binary search
  std::vector<std::uint16_t> manufacturerIds;
  std::optional<std::int16_t> minRssi;
  bool connectableOnly = false;

  // Sorts and de-duplicates the lists; call once after filling them.
  void normalize();
};

bool matches(const ScanFilter& filter, const ScanRecord& record);

// Every advertisement, or only changes of the advertised data (scan.proto, ScanMode).
enum class ScanMode : std::uint8_t { kAll, kChanges };

// What one subscriber needs from the adapter's discovery session.
struct DiscoveryNeed {
  const ScanFilter* filter = nullptr;
  ScanMode mode = ScanMode::kChanges;
};

// The BlueZ discovery filter that lets through everything each subscriber needs; the hub filters
// precisely per subscriber afterwards. BlueZ merges this with other clients' filters, so it only
// ever narrows what the gateway asked for, never what others get.
//
// - RSSI: the lowest min_rssi, and only when every subscriber sets one.
// - DuplicateData: on when any subscriber wants every advertisement (SCAN_MODE_ALL); off
//   otherwise, so BlueZ signals only changes (adapter-api.txt, DuplicateData).
// - UUIDs are not passed: BlueZ 5.66 matches them against the advertised UUID lists only, while a
//   stream's service_uuids also match service data, so a BlueZ UUID filter would hide devices
//   some subscriber asked for.
// - Pattern is not used: in 5.66 it also lifts the "LE devices must be discoverable" rule for every
//   client, so one stream's name prefix would change what the other streams see.
DiscoveryFilter mergeDiscoveryFilters(absl::Span<const DiscoveryNeed> needs);

}  // namespace gattway
