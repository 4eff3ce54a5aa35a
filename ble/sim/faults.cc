#include "ble/sim/faults.h"

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

void Faults::clear() {
  connect_.clear();
  gatt_.clear();
}

}  // namespace gattway::sim
