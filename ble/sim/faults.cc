#include "ble/sim/faults.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::sim {

absl::StatusOr<ConnectFault> parseConnectFault(const std::string& name) {
  if (name == "abort-by-local") return ConnectFault::kAbortByLocal;
  if (name == "timeout") return ConnectFault::kTimeout;
  if (name == "failed") return ConnectFault::kFailed;
  if (name == "in-progress") return ConnectFault::kInProgress;
  if (name == "hang") return ConnectFault::kHang;
  return err::invalidField(
      "fault", absl::StrCat("unknown connect fault \"", name,
                            "\"; expected abort-by-local, timeout, failed, in-progress or hang"));
}

const char* connectFaultName(ConnectFault fault) {
  switch (fault) {
    case ConnectFault::kAbortByLocal: return "abort-by-local";
    case ConnectFault::kTimeout: return "timeout";
    case ConnectFault::kFailed: return "failed";
    case ConnectFault::kInProgress: return "in-progress";
    case ConnectFault::kHang: return "hang";
  }
  return "?";
}

void Faults::addConnect(std::optional<Address> address, ConnectFaultSpec spec, int count) {
  for (int i = 0; i < count; ++i) connect_.emplace_back(address, spec);
}

std::optional<ConnectFaultSpec> Faults::takeConnect(const Address& address) {
  for (auto it = connect_.begin(); it != connect_.end(); ++it) {
    if (!it->first || *it->first == address) {
      ConnectFaultSpec s = it->second;
      connect_.erase(it);
      return s;
    }
  }
  return std::nullopt;
}

void Faults::addGatt(std::optional<Address> address, GattFaultSpec spec, int count) {
  for (int i = 0; i < count; ++i) gatt_.emplace_back(address, spec);
}

std::optional<GattFaultSpec> Faults::takeGatt(const Address& address, std::uint16_t handle) {
  for (auto it = gatt_.begin(); it != gatt_.end(); ++it) {
    if ((!it->first || *it->first == address) && (it->second.handle == 0 || it->second.handle == handle)) {
      GattFaultSpec s = it->second;
      gatt_.erase(it);
      return s;
    }
  }
  return std::nullopt;
}

absl::StatusOr<WedgeCure> parseWedgeCure(const std::string& name) {
  if (name.empty() || name == "power-cycle") return WedgeCure::kPowerCycle;
  if (name == "restart-discovery") return WedgeCure::kRestartDiscovery;
  return err::invalidField(
      "cure", absl::StrCat("unknown cure \"", name, "\"; expected power-cycle or restart-discovery"));
}

void Faults::wedgeDiscovery(const std::string& adapter, DiscoveryWedge wedge) {
  wedge.restarts = std::max(wedge.restarts, 1);
  discoveryWedges_[adapter] = wedge;
}

bool Faults::discoveryWedged(const std::string& adapter) const {
  return discoveryWedges_.contains(adapter);
}

bool Faults::discoveryStopped(const std::string& adapter) {
  auto it = discoveryWedges_.find(adapter);
  if (it == discoveryWedges_.end() || it->second.cure != WedgeCure::kRestartDiscovery) return false;
  if (--it->second.restarts > 0) return false;
  discoveryWedges_.erase(it);
  return true;
}

void Faults::wedgeConnects(const std::string& adapter) { connectWedges_.insert(adapter); }

bool Faults::connectsWedged(const std::string& adapter) const {
  return connectWedges_.contains(adapter);
}

void Faults::powerCycled(const std::string& adapter) {
  discoveryWedges_.erase(adapter);
  connectWedges_.erase(adapter);
}

void Faults::clear() {
  connect_.clear();
  gatt_.clear();
  discoveryWedges_.clear();
  connectWedges_.clear();
}

}  // namespace gattway::sim
