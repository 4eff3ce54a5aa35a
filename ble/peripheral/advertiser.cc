#include "ble/peripheral/advertiser.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway::peripheral {

void Advertiser::start(const std::string& adapter, AdvertisementSpec spec,
                       Callback<absl::StatusOr<AdvertisingStarted>> done) {
  const std::string id = spec.id;
  if (adverts_.contains(id)) {
    done(err::make(err::Reason::kAlreadyExists,
                   absl::StrCat("advertisement \"", id, "\" is running; stop it first"),
                   {{err::kMetaField, "id"}}));
    return;
  }
  Advert& a = adverts_[id];
  a.adapter = adapter;
  a.spec = std::move(spec);
  a.startDone = std::move(done);
  a.registering = true;
  a.op = backend_.registerAdvertisement(adapter, a.spec, [this, id](absl::Status s) {
    auto it = adverts_.find(id);
    if (it == adverts_.end()) return;
    it->second.registering = false;
    auto startDone = std::move(it->second.startDone);
    it->second.startDone = nullptr;
    if (!s.ok()) {
      adverts_.erase(it);
      startDone(s);
      return;
    }
    Advert& adv = it->second;
    adv.active = true;
    if (adv.spec.timeout) adv.expire = loop_.now() + *adv.spec.timeout;
    arm(id, adv);
    log::info("peripheral.advertising_started", {{"id", id}, {"adapter", adv.adapter}});
    emit(PeripheralEventType::kAdvertisingStarted, id, "");
    startDone(AdvertisingStarted{id, adv.adapter, adv.expire});
    // Powered off and on while BlueZ was taking it: the power-on has been seen already.
    if (adv.lostToPowerOff && powered(adv.adapter)) sendAgain(id);
  });
}

void Advertiser::arm(const std::string& id, Advert& a) {
  if (!a.expire) return;
  const absl::Duration left = *a.expire - loop_.now();
  a.timer = loop_.runAfter(left, [this, id] {
    auto it = adverts_.find(id);
    if (it == adverts_.end()) return;
    it->second.op = backend_.unregisterAdvertisement(id, [](absl::Status) {});
    it->second.op.release();
    ended(id, "timeout");
  });
}

void Advertiser::stop(const std::string& id,
                      Callback<absl::StatusOr<std::vector<std::string>>> done) {
  std::vector<std::string> ids;
  if (id.empty()) {
    ids = this->ids();
  } else if (!adverts_.contains(id)) {
    done(err::make(absl::StatusCode::kNotFound, err::Reason::kInvalidField,
                   absl::StrCat("no advertisement \"", id, "\" is running"),
                   {{err::kMetaField, "id"}}));
    return;
  } else {
    ids.push_back(id);
  }
  // Unregistering is best effort: an advertisement BlueZ no longer has is stopped all the same.
  for (const std::string& each : ids) {
    backend_.unregisterAdvertisement(each, [each](absl::Status s) {
      if (!s.ok()) log::debug("peripheral.unregister_advertisement", {{"id", each}, {"error", s}});
    }).release();
    ended(each, "stopped by StopAdvertising");
  }
  done(std::move(ids));
}

void Advertiser::onReleased(const std::string& id) {
  if (adverts_.contains(id)) ended(id, "released by BlueZ");
}

void Advertiser::onBackendDown() {
  for (auto& [id, a] : adverts_) {
    a.active = false;
    a.registering = false;
    a.lostToPowerOff = false;  // bluetoothd forgot the registration too
    a.op.reset();
  }
}

void Advertiser::onBackendUp() {
  std::vector<std::string> ids = this->ids();
  for (const std::string& id : ids) registerAgain(id, "a BlueZ restart");
}

void Advertiser::onAdapterChanged(const PeripheralAdapterInfo& adapter) {
  std::vector<std::string> ids;
  for (auto& [id, a] : adverts_) {
    if (a.adapter != adapter.name) continue;
    if (!adapter.powered && (a.active || a.registering) && !a.lostToPowerOff) {
      a.lostToPowerOff = true;
      log::info("peripheral.advertising_lost_to_power_off", {{"id", id}, {"adapter", a.adapter}});
    }
    ids.push_back(id);
  }
  for (const std::string& id : ids) {
    auto it = adverts_.find(id);
    if (it == adverts_.end()) continue;
    if (adapter.powered && it->second.lostToPowerOff && it->second.active) {
      sendAgain(id);
    } else {
      registerAgain(id, "a BlueZ restart");
    }
  }
}

bool Advertiser::powered(const std::string& adapter) const {
  const auto adapters = backend_.adapters();
  return std::any_of(adapters.begin(), adapters.end(),
                     [&](const auto& a) { return a.name == adapter && a.powered; });
}

void Advertiser::sendAgain(const std::string& id) {
  auto it = adverts_.find(id);
  if (it == adverts_.end()) return;
  Advert& a = it->second;
  a.lostToPowerOff = false;
  a.active = false;
  log::info("peripheral.advertising_register_again", {{"id", id}, {"adapter", a.adapter}});
  // bluetoothd's stale registration goes first (it holds an instance slot, and 5.66 would send it
  // to the controller again at its next refresh); the call order on the bus keeps the two apart.
  backend_.unregisterAdvertisement(id, [id](absl::Status s) {
    if (!s.ok()) log::debug("peripheral.unregister_advertisement", {{"id", id}, {"error", s}});
  }).release();
  registerAgain(id, absl::StrCat(a.adapter, " was powered on"));
}

void Advertiser::registerAgain(const std::string& id, const std::string& after) {
  auto it = adverts_.find(id);
  if (it == adverts_.end() || it->second.active || it->second.registering) return;
  // A restarted bluetoothd takes its name before its adapters appear (it reads the controller
  // list from the kernel afterwards): an advertisement waits for its adapter rather than fail.
  const auto adapters = backend_.adapters();
  const bool present = std::any_of(adapters.begin(), adapters.end(), [&](const auto& a) {
    return a.name == it->second.adapter && a.advertisingManager;
  });
  if (!present) return;
  it->second.registering = true;
  if (it->second.expire) {
    // BlueZ's own Timeout counts from registration: give it what is left.
    it->second.spec.timeout = std::max(absl::Seconds(1), *it->second.expire - loop_.now());
  }
  it->second.op = backend_.registerAdvertisement(
      it->second.adapter, it->second.spec, [this, id, after](absl::Status s) {
        auto found = adverts_.find(id);
        if (found == adverts_.end()) return;
        found->second.registering = false;
        if (!s.ok()) {
          log::warn("peripheral.advertising_lost", {{"id", id}, {"error", s}});
          ended(id, absl::StrCat("BlueZ refused it again after ", after, ": ", s.message()));
          return;
        }
        found->second.active = true;
        log::info("peripheral.advertising_restored", {{"id", id}, {"after", after}});
        emit(PeripheralEventType::kAdvertisingStarted, id, absl::StrCat("registered again after ", after));
        if (found->second.lostToPowerOff && powered(found->second.adapter)) sendAgain(id);
      });
}

void Advertiser::stopAll() {
  for (auto& [id, a] : adverts_) {
    a.op.reset();
    if (a.startDone) {
      auto startDone = std::move(a.startDone);
      a.startDone = nullptr;
      startDone(err::make(err::Reason::kShuttingDown, "the gateway is stopping"));
    }
    backend_.unregisterAdvertisement(id, [](absl::Status) {}).release();
  }
  adverts_.clear();
}

void Advertiser::ended(const std::string& id, const std::string& detail) {
  auto it = adverts_.find(id);
  if (it == adverts_.end()) return;
  auto startDone = std::move(it->second.startDone);
  const bool wasActive = it->second.active || !startDone;
  adverts_.erase(it);
  if (startDone) {
    startDone(err::make(absl::StatusCode::kAborted, err::Reason::kInProgress,
                        absl::StrCat("advertisement \"", id, "\" ended before BlueZ accepted it (",
                                     detail, ")")));
  }
  if (!wasActive) return;
  log::info("peripheral.advertising_stopped", {{"id", id}, {"reason", detail}});
  emit(PeripheralEventType::kAdvertisingStopped, id, detail);
}

void Advertiser::emit(PeripheralEventType type, const std::string& id, const std::string& detail) {
  PeripheralEvent e;
  e.type = type;
  e.time = loop_.now();
  e.advertisementId = id;
  e.detail = detail;
  events_(std::move(e));
}

std::vector<std::string> Advertiser::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, a] : adverts_) out.push_back(id);
  return out;
}

}  // namespace gattway::peripheral

