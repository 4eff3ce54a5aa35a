// One advertisement as BlueZ reads it: an org.bluez.LEAdvertisement1 object whose properties
// BlueZ fetches with Properties.GetAll when it is registered (advertising-api.txt). Loop thread
// only.
#pragma once

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "ble/peripheral_backend.h"
#include "sdbus-c++/IConnection.h"
#include "sdbus-c++/IObject.h"

namespace gattway::bluez {

// Limited discoverable mode lasts at most TGAP(lim_adv_timeout) = 180 s (Core spec Vol 3,
// Part C, Appendix A).
inline constexpr int kLimitedDiscoverableSeconds = 180;
// LEAdvertisement1.Timeout is a uint16 of seconds.
inline constexpr int kMaxBluezTimeoutSeconds = 65535;

class ExportedAdvertisement {
 public:
  // `released` runs (on the loop thread, after the method call returned) when BlueZ calls Release.
  static absl::StatusOr<std::unique_ptr<ExportedAdvertisement>> exportOn(
      sdbus::IConnection& bus, const std::string& path, const AdvertisementSpec& spec,
      absl::AnyInvocable<void()> released);
  ~ExportedAdvertisement();
  ExportedAdvertisement(const ExportedAdvertisement&) = delete;
  ExportedAdvertisement& operator=(const ExportedAdvertisement&) = delete;

  const std::string& path() const { return path_; }

 private:
  ExportedAdvertisement(std::string path, const AdvertisementSpec& spec)
      : path_(std::move(path)), spec_(spec) {}
  void build(sdbus::IConnection& bus, absl::AnyInvocable<void()> released);

  std::string path_;
  AdvertisementSpec spec_;
  std::int16_t txPowerSet_ = 0;
  std::unique_ptr<sdbus::IObject> object_;
};

}  // namespace gattway::bluez
