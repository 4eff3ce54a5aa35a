#include "tests/support/fake_central_backend.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::testing {
namespace {

Uuid u(std::uint32_t v) { return Uuid::fromShort(v); }
Uuid u(const char* text) { return *Uuid::parse(text); }

GattCharacteristicInfo chr(std::uint16_t handle, Uuid uuid, std::uint8_t props,
                           std::vector<std::string> flags,
                           std::vector<GattDescriptorInfo> descriptors = {}) {
  GattCharacteristicInfo c;
  c.handle = handle;
  c.uuid = uuid;
  c.properties = props;
  c.flags = std::move(flags);
  c.descriptors = std::move(descriptors);
  return c;
}

}  // namespace

std::vector<GattServiceInfo> sampleServices() {
  using namespace gatt_property;
  std::vector<GattServiceInfo> s(4);
  s[0].handle = 0x000e;
  s[0].uuid = u(0x180D);
  s[0].characteristics = {
      chr(0x0010, u(0x2A37), kNotify, {"notify"}, {{0x0012, u(0x2902)}}),
      chr(0x0013, u(0x2A38), kRead, {"read"}),
      chr(0x0015, u(0x2A39), kWrite, {"write"}),
  };
  s[1].handle = 0x001e;
  s[1].uuid = u(0x180F);
  s[1].characteristics = {
      chr(0x0020, u(0x2A19), kRead | kNotify, {"read", "notify"},
          {{0x0022, u(0x2902)}, {0x0023, u(0x2901)}}),
  };
  s[2].handle = 0x002e;
  s[2].uuid = u("6e400001-b5a3-f393-e0a9-e50e24dcca9e");
  s[2].characteristics = {
      chr(0x0031, u("6e400002-b5a3-f393-e0a9-e50e24dcca9e"), kWriteWithoutResponse,
          {"write-without-response"}),
      chr(0x0033, u("6e400003-b5a3-f393-e0a9-e50e24dcca9e"), kIndicate, {"indicate"},
          {{0x0035, u(0x2902)}}),
      chr(0x0036, u("6e400004-b5a3-f393-e0a9-e50e24dcca9e"),
          kRead | kWrite | kNotify | kIndicate, {"read", "write", "notify", "indicate"},
          {{0x0038, u(0x2902)}}),
  };
  s[3].handle = 0x003e;
  s[3].uuid = u(0xFFF0);
  s[3].characteristics = {chr(0x0041, u(0x2A19), kRead, {"read"})};
  return s;
}

std::map<std::uint16_t, std::vector<std::uint8_t>> sampleValues() {
  return {{0x0013, {0x01}},
          {0x0020, {0x64}},
          {0x0023, {'B', 'a', 't', 't', 'e', 'r', 'y'}},
          {0x0036, {0x00}},
          {0x0041, {0x32}}};
}

FakeDevice sampleDevice(const std::string& address, const std::string& name) {
  FakeDevice d;
  d.address = *Address::parse(address);
  d.advertisement.name = name;
  d.advertisement.serviceUuids = {u(0x180D), u(0x180F)};
  d.advertisement.manufacturerData = {{0x004C, {0x01, 0x02}}};
  d.advertisement.txPower = -8;
  d.advertisement.appearance = 0x0340;
  d.advertisement.flags = 0x06;
  d.services = sampleServices();
  d.values = sampleValues();
  return d;
}

FakeCentralBackend::FakeCentralBackend(Executor& executor) : executor_(executor) {}

absl::Status FakeCentralBackend::notConnected(absl::string_view what) {
  return err::fromBluez("org.bluez.Error.Failed", "Not connected", what);
}

FakeCentralBackend::~FakeCentralBackend() { pending_.clear(); }

// --- setup ---

void FakeCentralBackend::addAdapter(const std::string& name, bool powered) {
  Adapter& a = adapters_[name];
  a.info.name = name;
  a.info.address = *Address::parse(absl::StrCat("00:1A:7D:DA:71:0", adapters_.size() % 10));
  a.info.alias = absl::StrCat("gattway-", name);
  a.info.powered = powered;
  a.info.advertisingInstancesSupported = 5;
  if (started_ && up_ && listener_ != nullptr) listener_->onAdapterChanged(a.info);
}

void FakeCentralBackend::addDevice(FakeDevice device) {
  const Address a = device.address;
  radio_[a] = std::move(device);
}

FakeDevice& FakeCentralBackend::radioDevice(const Address& address) { return radio_.at(address); }

FakeCentralBackend::Adapter* FakeCentralBackend::adapter(const std::string& name) {
  auto it = adapters_.find(name);
  return it == adapters_.end() ? nullptr : &it->second;
}

absl::Status FakeCentralBackend::checkAdapter(const std::string& name, absl::string_view what) const {
  if (!up_) return err::make(err::Reason::kBluezUnavailable, "BlueZ is not on the bus");
  auto it = adapters_.find(name);
  if (it == adapters_.end()) {
    return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", name));
  }
  if (!it->second.info.powered) {
    return err::fromBluez("org.bluez.Error.NotReady", "Resource Not Ready", what);
  }
  return absl::OkStatus();
}

DeviceInfo& FakeCentralBackend::known(const FakeDevice& d, bool* added) {
  auto key = std::make_pair(d.adapter, d.address);
  auto it = known_.find(key);
  *added = it == known_.end();
  if (*added) {
    DeviceInfo info;
    info.adapter = d.adapter;
    info.address = d.address;
    info.addressType = d.addressType;
    info.alias = d.advertisement.name;
    info.advertisement = d.advertisement;
    it = known_.emplace(key, std::move(info)).first;
  }
  return it->second;
}

// --- radio events ---

void FakeCentralBackend::advertise(const Address& address, std::int16_t rssi,
                                   std::optional<AdvertisementData> data) {
  auto rit = radio_.find(address);
  if (rit == radio_.end()) return;
  FakeDevice& d = rit->second;
  if (data) d.advertisement = *data;
  Adapter* a = adapter(d.adapter);
  if (!up_ || a == nullptr || !a->info.powered) return;
  if (!a->gatewayDiscovering && !a->otherDiscovering) return;
  if (a->discoveryWedged) return;
  // The gateway's filter narrows only what its own session lets through.
  if (a->gatewayDiscovering && !a->otherDiscovering) {
    if (a->filter.rssi && rssi < *a->filter.rssi) return;
    if (!a->filter.uuids.empty()) {
      bool any = false;
      for (const auto& x : d.advertisement.serviceUuids) {
        any = any || std::find(a->filter.uuids.begin(), a->filter.uuids.end(), x) !=
                         a->filter.uuids.end();
      }
      if (!any) return;
    }
  }
  bool added = false;
  DeviceInfo& info = known(d, &added);
  std::uint32_t changes = device_change::kRssi;
  if (added) changes |= device_change::kAdded;
  if (!(info.advertisement == d.advertisement)) {
    info.advertisement = d.advertisement;
    changes |= device_change::kAdvertisement;
  }
  info.rssi = rssi;
  if (listener_ != nullptr) listener_->onDeviceChanged(info, changes);
}

void FakeCentralBackend::linkDown(const Address& address) {
  for (auto& [key, info] : known_) {
    if (key.second != address || !info.connected) continue;
    info.connected = false;
    info.servicesResolved = false;
    for (auto it = notifying_.begin(); it != notifying_.end();) {
      it = it->first == address ? notifying_.erase(it) : std::next(it);
    }
    if (listener_ != nullptr) {
      listener_->onDeviceChanged(info, device_change::kConnected | device_change::kServicesResolved);
    }
  }
}

void FakeCentralBackend::dropLink(const Address& address) {
  linkDown(address);
  failPendingFor(address, err::fromBluez("org.bluez.Error.Failed", "Operation failed", "link lost"));
}

bool FakeCentralBackend::notify(const Address& address, std::uint16_t handle,
                                std::vector<std::uint8_t> value) {
  if (!notifying_.contains({address, handle})) return false;
  auto rit = radio_.find(address);
  if (rit == radio_.end()) return false;
  rit->second.values[handle] = value;
  if (listener_ != nullptr) listener_->onNotification(rit->second.adapter, address, handle, value);
  return true;
}

void FakeCentralBackend::otherClientDiscovering(const std::string& name, bool on) {
  if (Adapter* a = adapter(name)) a->otherDiscovering = on;
}

void FakeCentralBackend::wedgeDiscovery(const std::string& name, bool wedged) {
  if (Adapter* a = adapter(name)) a->discoveryWedged = wedged;
}

void FakeCentralBackend::wedgeConnects(const std::string& name, bool wedged) {
  if (Adapter* a = adapter(name)) a->connectsWedged = wedged;
}

void FakeCentralBackend::setAdapterPowered(const std::string& name, bool powered) {
  Adapter* a = adapter(name);
  if (a == nullptr || a->info.powered == powered) return;
  a->info.powered = powered;
  if (!powered) {
    a->discoveryWedged = false;
    a->connectsWedged = false;
    a->gatewayDiscovering = false;
    a->otherDiscovering = false;
    a->info.discovering = false;
    for (auto& [key, info] : known_) {
      if (key.first == name && info.connected) {
        failPendingFor(key.second, notConnected("adapter off"));
        linkDown(key.second);
      }
    }
  }
  if (listener_ != nullptr) listener_->onAdapterChanged(a->info);
}

void FakeCentralBackend::goDown() {
  if (!up_) return;
  up_ = false;
  failAllPending(err::make(err::Reason::kBluezUnavailable, "BlueZ left the bus"));
  known_.clear();
  notifying_.clear();
  for (auto& [name, a] : adapters_) {
    a.gatewayDiscovering = false;
    a.otherDiscovering = false;
  }
  if (listener_ != nullptr) listener_->onBackendDown();
}

void FakeCentralBackend::comeUp() {
  if (up_) return;
  up_ = true;
  if (listener_ == nullptr) return;
  for (const auto& [name, a] : adapters_) listener_->onAdapterChanged(a.info);
  listener_->onBackendUp();
}

// --- faults ---

void FakeCentralBackend::setDelay(Op op, absl::Duration delay) {
  delays_[static_cast<std::size_t>(op)] = delay;
}

void FakeCentralBackend::failNext(Op op, absl::Status status, int times) {
  for (int i = 0; i < times; ++i) injected_[static_cast<std::size_t>(op)].push_back(status);
}

void FakeCentralBackend::hangNext(Op op, int times) {
  for (int i = 0; i < times; ++i) injected_[static_cast<std::size_t>(op)].push_back(std::nullopt);
}

// --- inspection ---

bool FakeCentralBackend::gatewayDiscovering(const std::string& name) const {
  auto it = adapters_.find(name);
  return it != adapters_.end() && it->second.gatewayDiscovering;
}

DiscoveryFilter FakeCentralBackend::discoveryFilter(const std::string& name) const {
  auto it = adapters_.find(name);
  return it == adapters_.end() ? DiscoveryFilter() : it->second.filter;
}

bool FakeCentralBackend::notifying(const Address& address, std::uint16_t handle) const {
  return notifying_.contains({address, handle});
}

bool FakeCentralBackend::connected(const Address& address) const {
  for (const auto& [key, info] : known_) {
    if (key.second == address && info.connected) return true;
  }
  return false;
}

// --- operations ---

Operation FakeCentralBackend::schedule(Op op, std::optional<Address> device, absl::Duration timeout,
                                       absl::AnyInvocable<void()> succeed,
                                       absl::AnyInvocable<void(absl::Status)> fail) {
  const auto index = static_cast<std::size_t>(op);
  ++calls_[index];
  const std::uint64_t id = nextId_++;
  Pending& p = pending_[id];
  p.op = op;
  p.device = device;
  p.succeed = std::move(succeed);
  p.fail = std::move(fail);
  std::optional<absl::Status> failure;
  bool hang = false;
  if (!injected_[index].empty()) {
    auto next = injected_[index].front();
    injected_[index].pop_front();
    if (next) {
      failure = *next;
    } else {
      hang = true;
    }
  }
  if (!hang) {
    p.when = executor_.runAfter(delays_[index], [this, id, failure] { complete(id, failure); });
  }
  if (timeout != absl::InfiniteDuration()) {
    p.deadline = executor_.runAfter(timeout, [this, id] {
      complete(id, err::make(err::Reason::kTimeout, "the operation timed out"));
    });
  }
  return Operation([this, id] { pending_.erase(id); });
}

void FakeCentralBackend::complete(std::uint64_t id, std::optional<absl::Status> failure) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  p.when = Timer();
  p.deadline = Timer();
  if (failure) {
    p.fail(*failure);
  } else {
    p.succeed();
  }
}

void FakeCentralBackend::failPendingFor(const Address& address, const absl::Status& status) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : pending_) {
    if (p.device == address && p.op != Op::kDisconnect) ids.push_back(id);
  }
  for (auto id : ids) complete(id, status);
}

void FakeCentralBackend::failAllPending(const absl::Status& status) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : pending_) ids.push_back(id);
  for (auto id : ids) complete(id, status);
}

}  // namespace gattway::testing
