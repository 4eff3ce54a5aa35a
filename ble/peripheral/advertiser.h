// The gateway's advertisements: started and stopped by id, stopped by their timeout or when BlueZ
// releases them, registered again after a bluetoothd restart. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/executor.h"
#include "ble/peripheral/definitions.h"
#include "ble/peripheral_backend.h"

namespace gattway::peripheral {

class Advertiser {
 public:
  // Reports ADVERTISING_STARTED / ADVERTISING_STOPPED events.
  using EventSink = absl::AnyInvocable<void(PeripheralEvent)>;

  Advertiser(Executor& loop, PeripheralBackend& backend, EventSink events)
      : loop_(loop), backend_(backend), events_(std::move(events)) {}

  // `adapter` has been chosen and checked by the caller. ALREADY_EXISTS for a running id.
  void start(const std::string& adapter, AdvertisementSpec spec,
             Callback<absl::StatusOr<AdvertisingStarted>> done);
  // Stops one (NOT_FOUND for an unknown id) or, with an empty id, every advertisement.
  void stop(const std::string& id, Callback<absl::StatusOr<std::vector<std::string>>> done);

  void onReleased(const std::string& id);
  void onBackendDown();
  void onBackendUp();
  // `adapter` appeared (or changed) with an LEAdvertisingManager1: what waits for it registers.
  void onAdapterUp(const std::string& adapter);
  // Gateway shutdown: unregister everything without waiting.
  void stopAll();

  std::vector<std::string> ids() const;

 private:
  struct Advert {
    std::string adapter;
    AdvertisementSpec spec;
    bool active = false;       // registered with BlueZ
    bool registering = false;  // (registered again,) BlueZ has not answered yet
    std::optional<absl::Time> expire;
    Callback<absl::StatusOr<AdvertisingStarted>> startDone;  // until BlueZ answers the first time
    Operation op;
    Timer timer;
  };
  void arm(const std::string& id, Advert& a);
  void registerAgain(const std::string& id);
  void ended(const std::string& id, const std::string& detail);
  void emit(PeripheralEventType type, const std::string& id, const std::string& detail);

  Executor& loop_;
  PeripheralBackend& backend_;
  EventSink events_;
  std::map<std::string, Advert> adverts_;
};

}  // namespace gattway::peripheral
