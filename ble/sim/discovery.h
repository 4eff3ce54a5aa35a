// Discovery filters as BlueZ 5.66 parses, merges and applies them (src/adapter.c:
// parse_discovery_filter_dict, merge_discovery_filters, device_is_discoverable, is_filter_match;
// bluez-5.66-api.md §1, §7.1). Pure logic, no D-Bus.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ble/sim/dbus/message.h"
#include "ble/sim/fleet.h"

namespace gattway::sim {

// One client's SetDiscoveryFilter.
struct DiscoveryFilter {
  std::vector<std::string> uuids;  // lower-case 128-bit, as BlueZ compares them (strings)
  std::optional<std::int16_t> rssi;
  std::optional<std::uint16_t> pathloss;
  std::string transport = "auto";
  bool duplicateData = false;  // 5.66's code default (the doc says true)
  bool discoverable = false;
  std::optional<std::string> pattern;
};

// Parses SetDiscoveryFilter's dictionary. nullopt: InvalidArguments (unknown key, wrong type, RSSI
// outside -127..20, Pathloss > 137, bad transport or UUID, RSSI and Pathloss together).
// `empty` is set when the dictionary had no entries (the filter is cleared).
std::optional<DiscoveryFilter> parseDiscoveryFilter(const dbus::Dict& dict, bool& empty);

// What the kernel is asked for (merge_discovery_filters).
struct MergedFilter {
  bool filtered = false;                 // some discovering client has a filter
  std::optional<std::int16_t> rssi;      // the kernel's RSSI threshold
  std::vector<std::string> uuids;        // the kernel's UUID filter; empty: none
  bool duplicateData = false;
  bool discoverable = false;
  bool operator==(const MergedFilter&) const = default;
};

// `filters` has one entry per discovering client: its filter, or null for an unfiltered session.
MergedFilter mergeFilters(const std::vector<const DiscoveryFilter*>& filters);

// What an advertising event carries, as bluetoothd's eir_parse sees it.
struct Report {
  std::string address;  // upper case, for Pattern
  std::uint8_t flags = 0;
  std::string name;
  std::vector<std::string> uuids;  // lower-case 128-bit
  std::optional<std::int8_t> txPower;
  std::int16_t rssi = 0;
};

// Whether the kernel passes the report up (its RSSI threshold and UUID list).
bool kernelPasses(const MergedFilter& merged, const Report& report);
// device_is_discoverable: whether an unknown device gets an object.
bool discoverable(const std::vector<const DiscoveryFilter*>& filters, bool filtered,
                  const Report& report);
// is_filter_match over the discovering clients (only consulted in filtered mode).
bool filterMatch(const std::vector<const DiscoveryFilter*>& filters, const Report& report);

// GetDiscoveryFilters' answer.
const std::vector<std::string>& discoveryFilterKeys();

}  // namespace gattway::sim
