#include "ble/sim/remote_central.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"
#include "ble/sim/adapter.h"
#include "ble/sim/advertising.h"
#include "ble/sim/hosted_app.h"
#include "ble/sim/peripheral.h"

namespace gattway::sim {
namespace {
constexpr std::uint8_t kReadNotPermitted = 0x02;
constexpr std::uint8_t kWriteNotPermitted = 0x03;
constexpr std::uint8_t kAttributeNotFound = 0x0A;
constexpr std::uint8_t kCccImproperlyConfigured = 0xFD;
constexpr std::uint8_t kUnlikely = 0x0E;
}  // namespace

RemoteCentral::RemoteCentral(Adapter& adapter, std::string id, const Address& address,
                             std::uint16_t mtu)
    : adapter_(adapter), id_(std::move(id)), address_(address), mtu_(mtu) {}

RemoteCentral::~RemoteCentral() {
  *alive_ = false;
  disconnect();
}

std::string RemoteCentral::devicePath() const { return device_ != nullptr ? device_->path() : ""; }

absl::Status RemoteCentral::connect() {
  if (connected_) return absl::OkStatus();
  if (!adapter_.advertisingManager().connectable()) {
    return err::make(absl::StatusCode::kFailedPrecondition, err::Reason::kNoAdvertisingInstance,
                     absl::StrCat(adapter_.name(), " has no connectable advertisement registered"));
  }
  // The link's ATT MTU: the smaller of what each side offers.
  mtu_ = std::min<std::uint16_t>(mtu_, adapter_.context().options.adapterMtu);
  device_ = &adapter_.centralDevice(address_, AddressType::kRandom);
  device_->centralConnected(mtu_);
  connected_ = true;
  log::info("sim.central.connected", {{"central", id_}, {"adapter", adapter_.name()}});
  return absl::OkStatus();
}

void RemoteCentral::disconnect() {
  if (!connected_) return;
  connected_ = false;
  for (const auto& [handle, indicate] : subscribed_) {
    if (HostedCharacteristic* c = adapter_.gattManager().characteristic(handle)) {
      adapter_.gattManager().unsubscribe(*c);
    }
  }
  subscribed_.clear();
  if (Device* d = adapter_.device(address_)) d->centralDisconnected();
  device_ = nullptr;
}

void RemoteCentral::read(const std::string& attribute, std::uint16_t offset, ReadDone done) {
  HostedCharacteristic* c = adapter_.gattManager().find(attribute);
  if (!connected_) return done(kUnlikely, {});
  if (c == nullptr) return done(kAttributeNotFound, {});
  // bluetoothd's ATT server checks the permissions before calling the application.
  if (!readable(c->flags)) return done(kReadNotPermitted, {});
  readFrom(c->valueHandle, offset, {}, std::move(done));
}

void RemoteCentral::readFrom(std::uint16_t handle, std::uint16_t offset, Bytes sofar, ReadDone done) {
  HostedCharacteristic* c = adapter_.gattManager().characteristic(handle);
  if (c == nullptr || !connected_) return done(kUnlikely, {});
  adapter_.gattManager().read(
      *c, devicePath(), offset, mtu_,
      [this, alive = alive_, handle, offset, sofar = std::move(sofar), d = std::move(done)](
          std::uint8_t att, Bytes value) mutable {
        if (!*alive) return;
        if (att != 0) return d(att, {});
        // One Read (Blob) Response carries at most MTU-1 bytes; a full one means "read on".
        const std::size_t per = mtu_ - 1u;
        if (value.size() > per) value.resize(per);
        sofar.insert(sofar.end(), value.begin(), value.end());
        if (value.size() < per || sofar.size() >= 512) return d(0, std::move(sofar));
        readFrom(handle, static_cast<std::uint16_t>(offset + value.size()), std::move(sofar), std::move(d));
      });
}

void RemoteCentral::write(const std::string& attribute, Bytes value, bool withResponse, WriteDone done) {
  HostedCharacteristic* c = adapter_.gattManager().find(attribute);
  if (!connected_) return done(kUnlikely);
  if (c == nullptr) return done(kAttributeNotFound);
  if (!writable(c->flags)) return done(kWriteNotPermitted);
  if (!withResponse || value.size() <= mtu_ - 3u) {
    // Write Command, or a Write Request that fits.
    if (!withResponse && value.size() > mtu_ - 3u) value.resize(mtu_ - 3u);
    return adapter_.gattManager().write(*c, devicePath(), value, 0, mtu_, !withResponse, std::move(done));
  }
  // Prepare Write per MTU-5 bytes, then Execute: 5.66 then calls WriteValue per prepared chunk.
  writeChunks(c->valueHandle, std::make_shared<Bytes>(std::move(value)), 0, std::move(done));
}

void RemoteCentral::writeChunks(std::uint16_t handle, std::shared_ptr<Bytes> value, std::size_t at,
                                WriteDone done) {
  HostedCharacteristic* c = adapter_.gattManager().characteristic(handle);
  if (c == nullptr || !connected_) return done(kUnlikely);
  const std::size_t per = mtu_ - 5u;
  const std::size_t n = std::min(per, value->size() - at);
  Bytes chunk(value->begin() + static_cast<long>(at), value->begin() + static_cast<long>(at + n));
  adapter_.gattManager().write(
      *c, devicePath(), chunk, static_cast<std::uint16_t>(at), mtu_, false,
      [this, alive = alive_, handle, value, at, n, d = std::move(done)](std::uint8_t att) mutable {
        if (!*alive) return;
        if (att != 0 || at + n >= value->size()) return d(att);
        writeChunks(handle, value, at + n, std::move(d));
      });
}

std::uint8_t RemoteCentral::subscribe(const std::string& attribute, bool indicate) {
  HostedCharacteristic* c = adapter_.gattManager().find(attribute);
  if (!connected_) return kUnlikely;
  if (c == nullptr) return kAttributeNotFound;
  // A CCC bit the characteristic cannot do: CCC Improperly Configured.
  if (c->cccHandle == 0 || (indicate ? !c->has("indicate") : !c->has("notify"))) {
    return kCccImproperlyConfigured;
  }
  if (subscribed_.contains(c->valueHandle)) return 0;
  subscribed_[c->valueHandle] = indicate;
  adapter_.gattManager().subscribe(*c, devicePath(), mtu_);
  return 0;
}

std::uint8_t RemoteCentral::unsubscribe(const std::string& attribute) {
  HostedCharacteristic* c = adapter_.gattManager().find(attribute);
  if (c == nullptr) return kAttributeNotFound;
  if (subscribed_.erase(c->valueHandle) > 0) adapter_.gattManager().unsubscribe(*c);
  return 0;
}

RemoteCentral::Received RemoteCentral::received(const std::string& attribute) {
  HostedCharacteristic* c = adapter_.gattManager().find(attribute);
  if (c == nullptr) return {};
  return received_[c->valueHandle];
}

void RemoteCentral::onNotification(const HostedCharacteristic& c, const Bytes& value) {
  auto sub = subscribed_.find(c.valueHandle);
  if (!connected_ || sub == subscribed_.end()) return;
  Received& r = received_[c.valueHandle];
  ++r.count;
  // What fits in one Handle Value Notification (or Indication).
  r.last = value.size() > mtu_ - 3u ? Bytes(value.begin(), value.begin() + (mtu_ - 3)) : value;
  // An indication is answered with a Handle Value Confirmation, which bluetoothd passes on to the
  // application as Confirm() (Core spec Vol 3, Part F, 3.4.7.3).
  if (sub->second) {
    ++r.confirmed;
    adapter_.gattManager().confirm(c);
  }
  if (sink_) sink_(c.valueHandle, r.last);
}

}  // namespace gattway::sim
