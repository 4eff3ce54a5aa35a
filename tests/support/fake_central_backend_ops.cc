// FakeCentralBackend's CentralBackend operations: each is scheduled on the fake clock
// (fake_central_backend.cc: schedule, delays, queued failures, hangs) and answers from the fake
// radio's state.
#include "ble/error.h"
#include "tests/support/fake_central_backend.h"

namespace gattway::testing {

void FakeCentralBackend::start(CentralBackendListener* listener) {
  listener_ = listener;
  started_ = true;
  startTimer_ = executor_.runAfter(absl::ZeroDuration(), [this] {
    startTimer_ = Timer();
    if (!up_ || listener_ == nullptr) return;
    for (const auto& [name, a] : adapters_) listener_->onAdapterChanged(a.info);
    listener_->onBackendUp();
  });
}

void FakeCentralBackend::stop() {
  stopped_ = true;
  pending_.clear();
  notifying_.clear();
  for (auto& [name, a] : adapters_) a.gatewayDiscovering = false;
  listener_ = nullptr;
}

std::vector<AdapterInfo> FakeCentralBackend::adapters() const {
  std::vector<AdapterInfo> out;
  if (!up_) return out;
  for (const auto& [name, a] : adapters_) {
    AdapterInfo info = a.info;
    info.discovering = (a.gatewayDiscovering || a.otherDiscovering) && !a.discoveryWedged;
    out.push_back(std::move(info));
  }
  return out;
}

const DeviceInfo* FakeCentralBackend::device(const std::string& adapter,
                                             const Address& address) const {
  auto it = known_.find({adapter, address});
  return it == known_.end() ? nullptr : &it->second;
}

std::vector<const DeviceInfo*> FakeCentralBackend::devices(const std::string& adapter) const {
  std::vector<const DeviceInfo*> out;
  for (const auto& [key, info] : known_) {
    if (key.first == adapter) out.push_back(&info);
  }
  return out;
}

Operation FakeCentralBackend::setPowered(const std::string& name, bool powered,
                                         StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kSetPowered, std::nullopt, absl::InfiniteDuration(),
      [this, name, powered, shared] {
        if (adapter(name) == nullptr) {
          (*shared)(err::make(err::Reason::kAdapterNotFound, "no adapter"));
          return;
        }
        setAdapterPowered(name, powered);
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::startDiscovery(const std::string& name, const DiscoveryFilter& filter,
                                             StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kStartDiscovery, std::nullopt, absl::InfiniteDuration(),
      [this, name, filter, shared] {
        if (auto s = checkAdapter(name, "StartDiscovery"); !s.ok()) {
          (*shared)(s);
          return;
        }
        Adapter& a = *adapter(name);
        a.filter = filter;
        a.gatewayDiscovering = true;
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::stopDiscovery(const std::string& name, StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kStopDiscovery, std::nullopt, absl::InfiniteDuration(),
      [this, name, shared] {
        if (auto s = checkAdapter(name, "StopDiscovery"); !s.ok()) {
          (*shared)(s);
          return;
        }
        Adapter& a = *adapter(name);
        a.gatewayDiscovering = false;
        a.filter = DiscoveryFilter();
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::connect(const std::string& name, const Address& address,
                                      AddressType, absl::Duration timeout, StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kConnect, address, timeout,
      [this, name, address, shared] {
        if (auto s = checkAdapter(name, "connect"); !s.ok()) {
          (*shared)(s);
          return;
        }
        if (adapter(name)->connectsWedged) {
          (*shared)(err::fromBluez("org.bluez.Error.InProgress", "Operation already in progress",
                                   "connect"));
          return;
        }
        auto rit = radio_.find(address);
        if (rit == radio_.end() || !rit->second.inRange || rit->second.adapter != name) {
          // What BlueZ 5.66 answers for any LE connect failure (bluez-5.66-api.md, Connect).
          (*shared)(err::fromBluez("org.bluez.Error.Failed", "le-connection-abort-by-local",
                                   "connect"));
          return;
        }
        bool added = false;
        DeviceInfo& info = known(rit->second, &added);
        info.connected = true;
        if (listener_ != nullptr) {
          listener_->onDeviceChanged(
              info, device_change::kConnected | (added ? device_change::kAdded : 0u));
        }
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::disconnect(const std::string&, const Address& address,
                                         StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kDisconnect, address, absl::InfiniteDuration(),
      [this, address, shared] {
        failPendingFor(address, notConnected("disconnect"));
        linkDown(address);
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::resolveServices(
    const std::string& name, const Address& address, absl::Duration timeout,
    Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done) {
  auto shared =
      std::make_shared<Callback<absl::StatusOr<std::vector<GattServiceInfo>>>>(std::move(done));
  return schedule(
      Op::kResolve, address, timeout,
      [this, name, address, shared] {
        auto it = known_.find({name, address});
        if (it == known_.end() || !it->second.connected) {
          (*shared)(notConnected("resolve services"));
          return;
        }
        it->second.servicesResolved = true;
        if (listener_ != nullptr) listener_->onDeviceChanged(it->second, device_change::kServicesResolved);
        (*shared)(radio_.at(address).services);
      },
      [shared](absl::Status s) { (*shared)(s); });
}

std::optional<std::uint16_t> FakeCentralBackend::mtu(const std::string& name,
                                                     const Address& address) const {
  auto it = known_.find({name, address});
  if (it == known_.end() || !it->second.connected) return std::nullopt;
  return radio_.at(address).mtu;
}

Operation FakeCentralBackend::read(const std::string& name, const Address& address,
                                   std::uint16_t handle, std::uint16_t offset,
                                   absl::Duration timeout,
                                   Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) {
  auto shared =
      std::make_shared<Callback<absl::StatusOr<std::vector<std::uint8_t>>>>(std::move(done));
  return schedule(
      Op::kRead, address, timeout,
      [this, name, address, handle, offset, shared] {
        if (!connected(address)) {
          (*shared)(notConnected("read"));
          return;
        }
        const auto& values = radio_.at(address).values;
        auto it = values.find(handle);
        const std::vector<std::uint8_t> empty;
        const auto& v = it == values.end() ? empty : it->second;
        if (offset > v.size()) {
          (*shared)(err::fromBluez("org.bluez.Error.InvalidArguments", "Invalid offset", "read"));
          return;
        }
        (*shared)(std::vector<std::uint8_t>(v.begin() + offset, v.end()));
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::write(const std::string&, const Address& address,
                                    std::uint16_t handle, std::vector<std::uint8_t> value,
                                    WriteType type, std::uint16_t offset, absl::Duration timeout,
                                    StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kWrite, address, timeout,
      [this, address, handle, value = std::move(value), type, offset, shared]() mutable {
        if (!connected(address)) {
          (*shared)(notConnected("write"));
          return;
        }
        auto& stored = radio_.at(address).values[handle];
        if (stored.size() < offset + value.size()) stored.resize(offset + value.size());
        std::copy(value.begin(), value.end(), stored.begin() + offset);
        writes_.push_back(Write{address, handle, std::move(value), type, offset});
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::startNotify(const std::string&, const Address& address,
                                          std::uint16_t handle, NotifyMethod,
                                          absl::Duration timeout, StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kStartNotify, address, timeout,
      [this, address, handle, shared] {
        if (!connected(address)) {
          (*shared)(notConnected("StartNotify"));
          return;
        }
        notifying_.insert({address, handle});
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

Operation FakeCentralBackend::stopNotify(const std::string&, const Address& address,
                                         std::uint16_t handle, StatusCallback done) {
  auto shared = std::make_shared<StatusCallback>(std::move(done));
  return schedule(
      Op::kStopNotify, std::nullopt, absl::InfiniteDuration(),
      [this, address, handle, shared] {
        notifying_.erase({address, handle});
        (*shared)(absl::OkStatus());
      },
      [shared](absl::Status s) { (*shared)(s); });
}

}  // namespace gattway::testing
