// The gateway's advertisements: started and stopped by id, stopped by their timeout or when BlueZ
// releases them, registered again after a bluetoothd restart and after their adapter was powered
// off and on. Loop thread only.
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
  // `adapter` appeared or changed: what waits for it registers; what its power-off took off the
  // air is registered again once it is powered (see lostToPowerOff).
  void onAdapterChanged(const PeripheralAdapterInfo& adapter);
  // Gateway shutdown: unregister everything without waiting.
  void stopAll();

  std::vector<std::string> ids() const;

 private:
  struct Advert {
    std::string adapter;
    AdvertisementSpec spec;
    bool active = false;       // registered with BlueZ
    bool registering = false;  // (registered again,) BlueZ has not answered yet
    // The adapter was powered off since BlueZ took it. Linux 6.1 removes every advertising
    // instance of an extended-advertising controller at power-off (hci_clear_adv_sets_sync), and
    // bluetoothd 5.66 ignores the mgmt Advertising Removed event: its registration stays, nothing
    // sends it to the controller again at power-on, and no Release() comes (seen in the VM tier,
    // issue 7). So it is unregistered and registered again when the adapter is back.
    bool lostToPowerOff = false;
    std::optional<absl::Time> expire;
    Callback<absl::StatusOr<AdvertisingStarted>> startDone;  // until BlueZ answers the first time
    Operation op;
    Timer timer;
  };
  void arm(const std::string& id, Advert& a);
  void registerAgain(const std::string& id, const std::string& after);
  void sendAgain(const std::string& id);
  bool powered(const std::string& adapter) const;
  void ended(const std::string& id, const std::string& detail);
  void emit(PeripheralEventType type, const std::string& id, const std::string& detail);

  Executor& loop_;
  PeripheralBackend& backend_;
  EventSink events_;
  std::map<std::string, Advert> adverts_;
};

}  // namespace gattway::peripheral
