#include "ble/bluez/errors.h"

#include "absl/strings/str_cat.h"
#include "ble/bluez/paths.h"
#include "ble/error.h"

namespace gattway::bluez {

absl::Status bluezUnavailable() {
  return err::make(err::Reason::kBluezUnavailable, "BlueZ (org.bluez) is not on the bus");
}

absl::Status adapterNotFound(absl::string_view adapter) {
  return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", adapter),
                   {{err::kMetaAdapter, adapter}});
}

absl::Status deviceNotFound(absl::string_view adapter, const Address& address) {
  const std::string a = address.toString();
  return err::make(err::Reason::kDeviceNotFound,
                   absl::StrCat("BlueZ does not know ", a, " on ", adapter),
                   {{err::kMetaAdapter, adapter}, {err::kMetaAddress, a}});
}

absl::Status attributeNotFound(const Address& address, std::uint16_t handle) {
  const std::string a = address.toString();
  const std::string h = handleText(handle);
  return err::make(err::Reason::kAttributeNotFound,
                   absl::StrCat(a, " has no characteristic or descriptor with handle ", h),
                   {{err::kMetaAddress, a}, {err::kMetaAttribute, h}});
}

absl::Status notConnected(const Address& address) {
  const std::string a = address.toString();
  return err::make(err::Reason::kNotConnected, absl::StrCat(a, " is not connected"),
                   {{err::kMetaAddress, a}});
}

absl::Status disconnected(const Address& address, absl::string_view during) {
  const std::string a = address.toString();
  return err::make(err::Reason::kDisconnected, absl::StrCat(a, " disconnected during ", during),
                   {{err::kMetaAddress, a}});
}

absl::Status shuttingDown() {
  return err::make(err::Reason::kShuttingDown, "the BlueZ backend is stopping");
}

}  // namespace gattway::bluez
