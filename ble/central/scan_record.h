// What the gateway knows of one advertising device on one adapter: the latest report BlueZ gave,
// plus what the gateway adds (first/last seen, the connectable inference). Copying one is cheap:
// the advertised data is shared and immutable, so a scan result can be handed to many streams.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/central_backend.h"

namespace gattway {

struct ScanRecord {
  std::string adapter;
  Address address;
  AddressType addressType = AddressType::kPublic;
  std::optional<std::int16_t> rssi;  // absent: known, but not heard since discovery (re)started
  std::shared_ptr<const AdvertisementData> advertisement;  // never null
  std::optional<bool> connectable;                          // see inferConnectable()
  bool connected = false;
  absl::Time firstSeen = absl::InfinitePast();  // InfinitePast: never heard by this process
  absl::Time lastSeen = absl::InfinitePast();

  const AdvertisementData& data() const { return *advertisement; }
};

// BlueZ 5.66 does not report the advertising PDU type (docs/notes/bluez-5.66-api.md, Device1:
// "There is no Connectable property"), so connectability is inferred as the API documents
// (scan.proto, ScanResult.connectable): a device whose Flags say neither limited (0x01) nor
// general (0x02) discoverable and that was never connected is taken as not connectable; one that
// advertises either flag, or was connected before, as connectable; without flags it is unknown.
std::optional<bool> inferConnectable(std::optional<std::uint8_t> flags, bool everConnected);

}  // namespace gattway
