#include "ble/sim/gatt_client.h"

#include "absl/strings/str_format.h"
#include "ble/sim/device.h"
#include "ble/sim/remote_characteristic.h"
#include "ble/sim/remote_descriptor.h"

namespace gattway::sim {
namespace {

enum ServiceProp { kUuid, kDevice, kPrimary, kIncludes };

const dbus::InterfaceSpec& serviceSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.GattService1",
      {},
      {{"UUID", "s"}, {"Device", "o"}, {"Primary", "b"}, {"Includes", "ao"}},
      {}};
  return s;
}

}  // namespace

RemoteService::RemoteService(Device& device, const Peripheral::Service& service)
    : dbus::Interface(serviceSpec()),
      device_(device),
      handle_(service.start),
      uuid_(service.uuid),
      primary_(service.primary) {}

RemoteService::~RemoteService() = default;

void RemoteService::get(int property, dbus::Writer& w) const {
  switch (property) {
    case kUuid: w.s(uuid_.toLongString()); break;
    case kDevice: w.o(device_.path()); break;
    case kPrimary: w.b(primary_); break;
    case kIncludes: w.paths({}); break;
  }
}

GattClient::GattClient(Device& device) : device_(device) {}

GattClient::~GattClient() { removeObjects(); }

Context& GattClient::context() const { return device_.context(); }

bool GattClient::matches(Peripheral& p) const {
  std::vector<std::pair<std::uint16_t, Uuid>> layout;
  for (const auto& s : p.services()) {
    layout.emplace_back(s.start, s.uuid);
    for (const auto& c : s.characteristics) layout.emplace_back(c.declHandle, c.uuid);
  }
  return layout == layout_;
}

std::size_t GattClient::attributeCount(Peripheral& p) const {
  std::size_t n = 0;
  for (const auto& s : p.services()) {
    n += 1;
    for (const auto& c : s.characteristics) n += 2 + c.descriptors.size();
  }
  return n;
}

void GattClient::exportObjects() {
  Peripheral* p = device_.peripheral();
  if (p == nullptr) return;
  Context& ctx = context();
  layout_.clear();
  // Paths come from handles, so a reconnect finds the same objects (bleak relies on it).
  for (const auto& s : p->services()) {
    layout_.emplace_back(s.start, s.uuid);
    for (const auto& c : s.characteristics) layout_.emplace_back(c.declHandle, c.uuid);
    // Services claimed by bluetoothd's own plugins (GAP) are never exported.
    if (s.internal) continue;
    const std::string servicePath = absl::StrFormat("%s/service%04x", device_.path(), s.start);
    services_.push_back(std::make_unique<RemoteService>(device_, s));
    ctx.tree.add(servicePath, services_.back().get());
    for (const auto& c : s.characteristics) {
      const std::string charPath = absl::StrFormat("%s/char%04x", servicePath, c.declHandle);
      characteristics_.push_back(std::make_unique<RemoteCharacteristic>(*this, c, servicePath));
      ctx.tree.add(charPath, characteristics_.back().get());
      for (const auto& d : c.descriptors) {
        const std::string descPath = absl::StrFormat("%s/desc%04x", charPath, d.handle);
        descriptors_.push_back(std::make_unique<RemoteDescriptor>(*this, d, c.declHandle, charPath));
        ctx.tree.add(descPath, descriptors_.back().get());
      }
    }
  }
  exportedEmpty_ = services_.empty();
}

void GattClient::removeObjects() {
  // Children before parents, as InterfacesRemoved goes out in bluetoothd.
  for (auto it = descriptors_.rbegin(); it != descriptors_.rend(); ++it) {
    if ((*it)->tree() != nullptr) (*it)->tree()->removeObject((*it)->path());
  }
  descriptors_.clear();
  for (auto it = characteristics_.rbegin(); it != characteristics_.rend(); ++it) {
    if ((*it)->tree() != nullptr) (*it)->tree()->removeObject((*it)->path());
  }
  characteristics_.clear();
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    if ((*it)->tree() != nullptr) (*it)->tree()->removeObject((*it)->path());
  }
  services_.clear();
  exportedEmpty_ = false;
  layout_.clear();
}

void GattClient::linkUp(std::uint16_t mtu) {
  connected_ = true;
  mtu_ = mtu;
  for (auto& c : characteristics_) c->linkUp();
}

void GattClient::linkDown() {
  connected_ = false;
  for (auto& d : descriptors_) d->linkDown();
  for (auto& c : characteristics_) c->linkDown();
}

void GattClient::notification(std::uint16_t valueHandle, const Bytes& value) {
  for (auto& c : characteristics_) {
    if (c->valueHandle() == valueHandle) c->deliver(value);
  }
}

}  // namespace gattway::sim
