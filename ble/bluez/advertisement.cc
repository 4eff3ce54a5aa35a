#include "ble/bluez/advertisement.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "ble/dbus/message_bytes.h"
#include "ble/error.h"
#include "ble/log.h"
#include "sdbus-c++/Error.h"

namespace gattway::bluez {
namespace {

constexpr const char* kInterface = "org.bluez.LEAdvertisement1";

std::vector<std::string> longUuids(const std::vector<Uuid>& uuids) {
  std::vector<std::string> out;
  for (const Uuid& u : uuids) out.push_back(u.toLongString());
  return out;
}

std::uint16_t seconds(absl::Duration d) {
  const double s = std::ceil(absl::ToDoubleSeconds(d));
  return static_cast<std::uint16_t>(std::clamp(s, 1.0, double{kMaxBluezTimeoutSeconds}));
}

std::uint32_t milliseconds(absl::Duration d) {
  return static_cast<std::uint32_t>(absl::ToInt64Milliseconds(d));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExportedAdvertisement>> ExportedAdvertisement::exportOn(
    sdbus::IConnection& bus, const std::string& path, const AdvertisementSpec& spec,
    absl::AnyInvocable<void()> released) {
  std::unique_ptr<ExportedAdvertisement> ad(new ExportedAdvertisement(path, spec));
  try {
    ad->build(bus, std::move(released));
  } catch (const sdbus::Error& e) {
    return err::make(absl::StatusCode::kInternal, err::Reason::kBluezError,
                     absl::StrCat("cannot export the advertisement at ", path, ": ",
                                  e.getMessage()));
  }
  return ad;
}

ExportedAdvertisement::~ExportedAdvertisement() = default;

void ExportedAdvertisement::build(sdbus::IConnection& bus, absl::AnyInvocable<void()> released) {
  object_ = sdbus::createObject(bus, path_);
  const AdvertisementSpec& s = spec_;
  // Only what the caller set is exported: BlueZ treats a missing property as "not in the
  // advertisement" (advertising.c parses each one it finds).
  const std::string type = s.connectable ? "peripheral" : "broadcast";
  object_->registerProperty(kInterface, "Type", "s", [type](sdbus::PropertyGetReply& r) { r << type; });
  if (!s.serviceUuids.empty()) {
    object_->registerProperty(kInterface, "ServiceUUIDs", "as",
                              [v = longUuids(s.serviceUuids)](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (!s.solicitUuids.empty()) {
    object_->registerProperty(kInterface, "SolicitUUIDs", "as",
                              [v = longUuids(s.solicitUuids)](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (!s.manufacturerData.empty()) {
    object_->registerProperty(kInterface, "ManufacturerData", "a{qv}", [this](sdbus::PropertyGetReply& r) {
      r.openContainer("{qv}");
      for (const auto& [company, bytes] : spec_.manufacturerData) {
        r.openDictEntry("qv");
        r << company;
        r.openVariant("ay");
        dbus::appendBytes(r, bytes);
        r.closeVariant();
        r.closeDictEntry();
      }
      r.closeContainer();
    });
  }
  if (!s.serviceData.empty()) {
    object_->registerProperty(kInterface, "ServiceData", "a{sv}", [this](sdbus::PropertyGetReply& r) {
      r.openContainer("{sv}");
      for (const auto& [uuid, bytes] : spec_.serviceData) {
        r.openDictEntry("sv");
        r << uuid.toLongString();
        r.openVariant("ay");
        dbus::appendBytes(r, bytes);
        r.closeVariant();
        r.closeDictEntry();
      }
      r.closeContainer();
    });
  }
  if (s.includeTxPower) {
    object_->registerProperty(kInterface, "Includes", "as", [](sdbus::PropertyGetReply& r) {
      r << std::vector<std::string>{"tx-power"};
    });
  }
  if (!s.localName.empty()) {
    object_->registerProperty(kInterface, "LocalName", "s",
                              [v = s.localName](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (s.appearance) {
    object_->registerProperty(kInterface, "Appearance", "q",
                              [v = *s.appearance](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (s.timeout && *s.timeout <= absl::Seconds(kMaxBluezTimeoutSeconds)) {
    object_->registerProperty(kInterface, "Timeout", "q",
                              [v = seconds(*s.timeout)](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (s.connectable) {
    // A broadcast advertisement may carry no flags at all (5.66: "Broadcast cannot set flags").
    const bool discoverable = s.discoverability != Discoverability::kNone;
    object_->registerProperty(kInterface, "Discoverable", "b",
                              [discoverable](sdbus::PropertyGetReply& r) { r << discoverable; });
    if (s.discoverability == Discoverability::kLimited) {
      // DiscoverableTimeout sets the Limited flag; it must not exceed Timeout.
      std::uint16_t limit = kLimitedDiscoverableSeconds;
      if (s.timeout) limit = std::min(limit, seconds(*s.timeout));
      object_->registerProperty(kInterface, "DiscoverableTimeout", "q",
                                [limit](sdbus::PropertyGetReply& r) { r << limit; });
    }
  }
  if (s.minInterval) {
    object_->registerProperty(kInterface, "MinInterval", "u",
                              [v = milliseconds(*s.minInterval)](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (s.maxInterval) {
    object_->registerProperty(kInterface, "MaxInterval", "u",
                              [v = milliseconds(*s.maxInterval)](sdbus::PropertyGetReply& r) { r << v; });
  }
  if (s.txPower) {
    txPowerSet_ = *s.txPower;
    // With extended advertising BlueZ writes the power it chose back (Properties.Set).
    object_->registerProperty(
        kInterface, "TxPower", "n", [this](sdbus::PropertyGetReply& r) { r << txPowerSet_; },
        [this](sdbus::PropertySetCall& call) { call >> txPowerSet_; });
  }
  auto shared = std::make_shared<absl::AnyInvocable<void()>>(std::move(released));
  object_->registerMethod(kInterface, "Release", "", "", [shared](sdbus::MethodCall call) {
    if (!call.doesntExpectReply()) call.createReply().send();
    (*shared)();
  });
  object_->finishRegistration();
}

}  // namespace gattway::bluez
