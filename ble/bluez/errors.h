// The backend's own errors (those that are not BlueZ's, which go through err::fromBluez).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ble/address.h"

namespace gattway::bluez {

absl::Status bluezUnavailable();
absl::Status adapterNotFound(absl::string_view adapter);
absl::Status deviceNotFound(absl::string_view adapter, const Address& address);
absl::Status attributeNotFound(const Address& address, std::uint16_t handle);
absl::Status notConnected(const Address& address);
absl::Status disconnected(const Address& address, absl::string_view during);
absl::Status shuttingDown();

}  // namespace gattway::bluez
