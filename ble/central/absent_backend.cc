#include "ble/central/absent_backend.h"

#include "ble/error.h"

namespace gattway {

AbsentBackend::AbsentBackend(Executor& executor, std::string why)
    : executor_(executor), why_(std::move(why)) {}

void AbsentBackend::start(CentralBackendListener*) {}

void AbsentBackend::stop() { pending_.clear(); }

Operation AbsentBackend::failLater(absl::AnyInvocable<void(absl::Status)> done) {
  const std::uint64_t id = nextId_++;
  pending_[id] = executor_.runAfter(absl::ZeroDuration(), [this, id, done = std::move(done)]() mutable {
    pending_.erase(id);
    done(err::make(err::Reason::kBluezUnavailable, why_));
  });
  return Operation([this, id] { pending_.erase(id); });
}

Operation AbsentBackend::setPowered(const std::string&, bool, StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::startDiscovery(const std::string&, const DiscoveryFilter&,
                                        StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::stopDiscovery(const std::string&, StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::connect(const std::string&, const Address&, AddressType, absl::Duration,
                                 StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::disconnect(const std::string&, const Address&, StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::resolveServices(
    const std::string&, const Address&, absl::Duration,
    Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done) {
  return failLater([done = std::move(done)](absl::Status s) mutable { done(s); });
}
Operation AbsentBackend::read(const std::string&, const Address&, std::uint16_t, std::uint16_t,
                              absl::Duration,
                              Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) {
  return failLater([done = std::move(done)](absl::Status s) mutable { done(s); });
}
Operation AbsentBackend::write(const std::string&, const Address&, std::uint16_t,
                               std::vector<std::uint8_t>, WriteType, std::uint16_t, absl::Duration,
                               StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::startNotify(const std::string&, const Address&, std::uint16_t,
                                     NotifyMethod, absl::Duration, StatusCallback done) {
  return failLater(std::move(done));
}
Operation AbsentBackend::stopNotify(const std::string&, const Address&, std::uint16_t,
                                    StatusCallback done) {
  return failLater(std::move(done));
}

}  // namespace gattway
