// An in-process PeripheralBackend for unit tests: records what the domain registers and sends,
// answers on a later turn of the executor, and lets a test act for BlueZ and the centrals
// through the listener it was started with.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ble/executor.h"
#include "ble/peripheral_backend.h"

namespace gattway::testing {

class FakePeripheralBackend final : public PeripheralBackend {
 public:
  explicit FakePeripheralBackend(Executor& loop) : loop_(loop) {
    PeripheralAdapterInfo a;
    a.name = "hci0";
    a.powered = a.gattManager = a.advertisingManager = true;
    a.advertisingInstancesFree = 4;
    a.supportedIncludes = {"tx-power", "appearance", "local-name"};
    adapterList.push_back(a);
  }

  // --- scripting ---
  std::vector<PeripheralAdapterInfo> adapterList;
  bool up = true;
  absl::Status nextRegisterResult;  // consumed by the next registerApplication
  PeripheralBackendListener* listener = nullptr;
  std::optional<ApplicationSpec> app;
  std::string appAdapter;
  int applicationRegistrations = 0;
  std::map<std::string, AdvertisementSpec> adverts;
  int advertRegistrations = 0;
  std::vector<std::string> advertsUnregistered;
  std::vector<std::pair<AttributeId, std::vector<std::uint8_t>>> sent;
  std::map<std::string, std::vector<Address>> centrals;

  // bluetoothd leaves the bus and comes back.
  void restart() {
    up = false;
    app.reset();
    adverts.clear();
    listener->onBackendDown();
    up = true;
    loop_.post([this] { listener->onBackendUp(); });
  }

  // The kernel powers adapter `name` off or on (Adapter1.Powered changes).
  void setPowered(const std::string& name, bool on) {
    for (auto& a : adapterList) {
      if (a.name != name) continue;
      a.powered = on;
      listener->onAdapterChanged(a);
    }
  }

  // --- PeripheralBackend ---
  void start(PeripheralBackendListener* l) override {
    listener = l;
    if (up) loop_.post([this] { listener->onBackendUp(); });
  }
  void stop() override { listener = nullptr; }
  bool bluezUp() const override { return up; }
  std::vector<PeripheralAdapterInfo> adapters() const override { return adapterList; }
  std::vector<Address> connectedCentrals(const std::string& adapter) const override {
    auto it = centrals.find(adapter);
    return it == centrals.end() ? std::vector<Address>{} : it->second;
  }
  Operation registerApplication(const std::string& adapter, const ApplicationSpec& spec,
                                Callback<absl::StatusOr<ExportedPaths>> done) override {
    absl::Status result = std::exchange(nextRegisterResult, absl::OkStatus());
    if (result.ok()) {
      app = spec;
      appAdapter = adapter;
      ++applicationRegistrations;
    }
    loop_.post([result, spec, done = std::move(done)]() mutable {
      if (!result.ok()) return done(result);
      ExportedPaths paths;
      for (const auto& s : spec.services) {
        for (const auto& c : s.characteristics) paths[c.id] = "/fake/char" + std::to_string(c.id);
      }
      done(paths);
    });
    return Operation();
  }
  Operation unregisterApplication(StatusCallback done) override {
    app.reset();
    loop_.post([done = std::move(done)]() mutable { done(absl::OkStatus()); });
    return Operation();
  }
  absl::Status sendValue(AttributeId characteristic, absl::Span<const std::uint8_t> value) override {
    sent.emplace_back(characteristic, std::vector<std::uint8_t>(value.begin(), value.end()));
    return absl::OkStatus();
  }
  Operation registerAdvertisement(const std::string&, const AdvertisementSpec& spec,
                                  StatusCallback done) override {
    adverts[spec.id] = spec;
    ++advertRegistrations;
    loop_.post([done = std::move(done)]() mutable { done(absl::OkStatus()); });
    return Operation();
  }
  Operation unregisterAdvertisement(const std::string& id, StatusCallback done) override {
    adverts.erase(id);
    advertsUnregistered.push_back(id);
    loop_.post([done = std::move(done)]() mutable { done(absl::OkStatus()); });
    return Operation();
  }

 private:
  Executor& loop_;
};

}  // namespace gattway::testing
