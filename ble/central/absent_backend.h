// The backend of a gateway built without one: BlueZ is never up, every call fails with
// UNAVAILABLE. gattwayd uses it until the BlueZ backend (ble/bluez) is wired in, so the gRPC API
// still answers with the right code instead of crashing or hanging.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ble/central_backend.h"
#include "ble/executor.h"

namespace gattway {

class AbsentBackend final : public CentralBackend {
 public:
  AbsentBackend(Executor& executor, std::string why);

  void start(CentralBackendListener* listener) override;
  void stop() override;
  bool bluezUp() const override { return false; }
  std::vector<AdapterInfo> adapters() const override { return {}; }
  const DeviceInfo* device(const std::string&, const Address&) const override { return nullptr; }
  std::vector<const DeviceInfo*> devices(const std::string&) const override { return {}; }
  Operation setPowered(const std::string&, bool, StatusCallback done) override;
  Operation startDiscovery(const std::string&, const DiscoveryFilter&, StatusCallback done) override;
  Operation stopDiscovery(const std::string&, StatusCallback done) override;
  Operation connect(const std::string&, const Address&, AddressType, absl::Duration,
                    StatusCallback done) override;
  Operation disconnect(const std::string&, const Address&, StatusCallback done) override;
  Operation resolveServices(const std::string&, const Address&, absl::Duration,
                            Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done) override;
  std::optional<std::uint16_t> mtu(const std::string&, const Address&) const override {
    return std::nullopt;
  }
  Operation read(const std::string&, const Address&, std::uint16_t, std::uint16_t, absl::Duration,
                 Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) override;
  Operation write(const std::string&, const Address&, std::uint16_t, std::vector<std::uint8_t>,
                  WriteType, std::uint16_t, absl::Duration, StatusCallback done) override;
  Operation startNotify(const std::string&, const Address&, std::uint16_t, NotifyMethod,
                        absl::Duration, StatusCallback done) override;
  Operation stopNotify(const std::string&, const Address&, std::uint16_t,
                       StatusCallback done) override;

 private:
  // Reports the failure on a later turn, as the seam promises.
  Operation failLater(absl::AnyInvocable<void(absl::Status)> done);

  Executor& executor_;
  std::string why_;
  std::map<std::uint64_t, Timer> pending_;
  std::uint64_t nextId_ = 1;
};

}  // namespace gattway
