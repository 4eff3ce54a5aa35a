#include "ble/sim/discovery.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "ble/uuid.h"

namespace gattway::sim {
namespace {
constexpr std::uint16_t kPathlossMax = 137;  // src/adapter.c PATHLOSS_MAX
}  // namespace

std::optional<DiscoveryFilter> parseDiscoveryFilter(const dbus::Dict& dict, bool& empty) {
  empty = dict.empty();
  DiscoveryFilter f;
  for (const auto& [key, v] : dict) {
    if (key == "UUIDs") {
      // BlueZ only checks that it is an array of strings (an empty array is fine).
      if (v.signature != "as") return std::nullopt;
      for (const auto& s : *v.asStrings()) {
        auto u = Uuid::parse(s);
        if (!u.ok()) return std::nullopt;
        f.uuids.push_back(u->toLongString());
      }
    } else if (key == "RSSI") {
      auto r = v.asInt("n");
      if (!r || *r > 20 || *r < -127) return std::nullopt;
      f.rssi = static_cast<std::int16_t>(*r);
    } else if (key == "Pathloss") {
      auto p = v.asInt("q");
      if (!p || *p > kPathlossMax) return std::nullopt;
      f.pathloss = static_cast<std::uint16_t>(*p);
    } else if (key == "Transport") {
      const std::string* t = v.signature == "s" ? v.asString() : nullptr;
      if (t == nullptr || (*t != "bredr" && *t != "le" && *t != "auto")) return std::nullopt;
      f.transport = *t;
    } else if (key == "DuplicateData") {
      if (v.signature != "b") return std::nullopt;
      f.duplicateData = *v.asBool();
    } else if (key == "Discoverable") {
      if (v.signature != "b") return std::nullopt;
      f.discoverable = *v.asBool();
    } else if (key == "Pattern") {
      if (v.signature != "s") return std::nullopt;
      f.pattern = *v.asString();
    } else {
      return std::nullopt;
    }
  }
  if (f.rssi && f.pathloss) return std::nullopt;  // only one of the two
  return f;
}

MergedFilter mergeFilters(const std::vector<const DiscoveryFilter*>& filters) {
  MergedFilter m;
  bool regular = false, filtered = false, emptyUuids = false;
  // RSSI: none if any filtered client lacks one (or uses Pathloss); else the lowest.
  bool rssiDisabled = false;
  std::optional<std::int16_t> rssi;
  std::vector<std::string> uuids;
  for (const DiscoveryFilter* f : filters) {
    if (f != nullptr && f->duplicateData) m.duplicateData = true;
    if (f != nullptr && f->discoverable) m.discoverable = true;
    if (f == nullptr) {
      regular = true;
      continue;
    }
    filtered = true;
    if (!f->rssi) {
      rssiDisabled = true;
    } else if (!rssiDisabled && (!rssi || *rssi >= *f->rssi)) {
      rssi = f->rssi;
    }
    if (f->uuids.empty()) emptyUuids = true;
    for (const auto& u : f->uuids) {
      if (std::find(uuids.begin(), uuids.end(), u) == uuids.end()) uuids.push_back(u);
    }
  }
  if (!filtered) return m;  // plain discovery
  m.filtered = true;
  std::sort(uuids.begin(), uuids.end());
  if (!emptyUuids) m.uuids = std::move(uuids);
  if (!rssiDisabled) m.rssi = rssi;
  if (regular) {
    // A regular and a filtered session together: report everything (but still "filtered").
    m.rssi.reset();
    m.uuids.clear();
  }
  return m;
}

bool kernelPasses(const MergedFilter& merged, const Report& report) {
  if (merged.rssi && report.rssi < *merged.rssi) return false;
  if (!merged.uuids.empty()) {
    bool any = false;
    for (const auto& u : report.uuids) {
      any = any || std::binary_search(merged.uuids.begin(), merged.uuids.end(), u);
    }
    if (!any) return false;
  }
  return true;
}

bool discoverable(const std::vector<const DiscoveryFilter*>& filters, bool filtered,
                  const Report& report) {
  // LE General (0x02) or Limited (0x01) Discoverable, unless some client filters.
  bool result = filtered || (report.flags & 0x03) != 0;
  if (filters.empty() && !result) return false;
  for (const DiscoveryFilter* f : filters) {
    if (f == nullptr || !f->pattern) continue;
    result = false;  // a Pattern replaces the flag rule for everyone
    if (f->pattern->empty()) return true;
    if (absl::StartsWith(report.address, *f->pattern)) return true;
    if (!report.name.empty() && absl::StartsWith(report.name, *f->pattern)) return true;
  }
  return result;
}

bool filterMatch(const std::vector<const DiscoveryFilter*>& filters, const Report& report) {
  for (const DiscoveryFilter* f : filters) {
    if (f == nullptr) return true;  // a regular session wants everything
    bool match = f->uuids.empty();
    for (const auto& u : f->uuids) {
      match = match || std::find(report.uuids.begin(), report.uuids.end(), u) != report.uuids.end();
    }
    if (!match) continue;
    // Proximity, exactly as 5.66 tests it: an unset Pathloss passes every RSSI-only filter.
    if (!f->rssi || *f->rssi <= report.rssi || !f->pathloss ||
        (report.txPower && report.txPower.value() - report.rssi <= *f->pathloss)) {
      return true;
    }
  }
  return false;
}

const std::vector<std::string>& discoveryFilterKeys() {
  static const std::vector<std::string> k = {"UUIDs", "RSSI", "Pathloss", "Transport",
                                             "DuplicateData", "Discoverable", "Pattern"};
  return k;
}

}  // namespace gattway::sim
