#include "ble/sim/hosted_air.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "ble/log.h"
#include "ble/sim/adapter.h"
#include "ble/sim/advertising.h"
#include "ble/sim/daemon.h"
#include "ble/sim/device.h"
#include "ble/sim/gatt_client.h"
#include "ble/sim/hosted_app.h"
#include "ble/sim/peripheral.h"
#include "ble/sim/remote_central.h"

namespace gattway::sim {
namespace {

constexpr std::uint8_t kUnlikely = 0x0E;

// What the controller puts on the air for a registered advertisement (5.66 src/advertising.c:
// flags only on connectable or discoverable ones, TX power only when Includes asks for it).
AdvertisingSpec advertisingFor(const Advertisement& ad) {
  AdvertisingSpec a;
  a.interval = absl::Milliseconds(100);
  a.connectable = ad.connectable;
  // Discoverable: LE General (0x02), or LE Limited (0x01) with a DiscoverableTimeout; always
  // BR/EDR Not Supported (0x04). A broadcast carries no flags (0: none).
  const bool discoverable = ad.discoverable.value_or(ad.connectable);
  if (discoverable) {
    a.flags = ad.discoverableTimeout != 0 ? 0x05 : 0x06;
  } else {
    a.flags = ad.connectable ? 0x04 : 0x00;
  }
  a.name = ad.localName;
  a.serviceUuids = ad.serviceUuids;
  a.manufacturerData = ad.manufacturerData;
  a.serviceData = ad.serviceData;
  a.appearance = ad.appearance;
  if (std::find(ad.includes.begin(), ad.includes.end(), "tx-power") != ad.includes.end()) {
    a.txPower = static_cast<std::int8_t>(ad.txPower.value_or(0));
  }
  a.other = ad.data;
  return a;
}

// The advertisement on the air: the first connectable one, else the first.
const Advertisement* onAir(Adapter& adapter) {
  if (!adapter.powered()) return nullptr;
  const auto ads = adapter.advertisingManager().advertisements();
  for (const Advertisement* ad : ads) {
    if (ad->connectable) return ad;
  }
  return ads.empty() ? nullptr : ads.front();
}

std::string handleText(std::uint16_t handle) { return absl::StrFormat("0x%04x", handle); }

}  // namespace

class HostedAir::Peer final : public AttBridge {
 public:
  Peer(Daemon& daemon, Adapter& host) : daemon_(daemon), host_(host) {}
  ~Peer() override { dropCentral(); }

  Peripheral* peripheral() const { return peripheral_; }

  void update() {
    Air& air = daemon_.context().air;
    const Advertisement* ad = onAir(host_);
    if (ad == nullptr) {
      if (peripheral_ != nullptr) air.remove(host_.address());
      peripheral_ = nullptr;
      return;
    }
    DeviceSpec spec;
    spec.address = host_.address();
    spec.name = ad->localName.empty() ? host_.name() : ad->localName;
    spec.advertising = advertisingFor(*ad);
    spec.rssi = -45;
    spec.mtu = 247;
    spec.connectLatency = absl::Milliseconds(10);
    if (peripheral_ != nullptr && !peripheral_->connectedTo().empty()) {
      // A link holds it: new advertising data only; the database stays until the next rebuild.
      peripheral_->advertising() = spec.advertising;
      peripheral_->advertisingChanged();
      return;
    }
    const auto hosted = host_.gattManager().services();
    for (const HostedService* s : hosted) {
      ServiceSpec ss;
      ss.uuid = s->uuid;
      ss.primary = s->primary;
      for (const auto& c : s->characteristics) {
        CharacteristicSpec cs;
        cs.uuid = c->uuid;
        cs.flags = c->flags;
        for (const auto& d : c->descriptors) cs.descriptors.push_back(DescriptorSpec{d.uuid, d.flags, {}});
        ss.characteristics.push_back(std::move(cs));
      }
      spec.services.push_back(std::move(ss));
    }
    auto p = Peripheral::create(spec, daemon_.context().rng());
    if (!p.ok()) {
      log::warn("sim.hosted_air.failed", {{"adapter", host_.name()}, {"error", p.status().ToString()}});
      return;
    }
    // Handles: the mirror's services follow GAP and GATT in the hosted order.
    toHosted_.clear();
    fromHosted_.clear();
    auto& mirror = (*p)->services();
    const std::size_t first = mirror.size() - hosted.size();
    for (std::size_t i = 0; i < hosted.size(); ++i) {
      const auto& chars = hosted[i]->characteristics;
      for (std::size_t j = 0; j < chars.size() && j < mirror[first + i].characteristics.size(); ++j) {
        const std::uint16_t mine = mirror[first + i].characteristics[j].valueHandle;
        toHosted_[mine] = chars[j]->valueHandle;
        fromHosted_[chars[j]->valueHandle] = mine;
      }
    }
    (*p)->setBridge(this);
    peripheral_ = air.add(std::move(*p));  // replaces the previous one
    log::info("sim.hosted_air.advertising",
              {{"adapter", host_.name()}, {"address", host_.address().toString()},
               {"services", hosted.size()}});
  }

  // AttBridge
  void linkChanged(const std::string& adapter) override {
    dropCentral();
    if (adapter.empty()) return;
    Adapter* central = daemon_.adapter(adapter);
    if (central == nullptr) return;
    auto c = daemon_.connectCentral(host_.name(), central->address());
    if (!c.ok()) {
      log::warn("sim.hosted_air.central_failed", {{"adapter", host_.name()}, {"error", c.status().ToString()}});
      return;
    }
    centralId_ = (*c)->id();
    linkedAdapter_ = adapter;
    (*c)->setNotificationSink([this](std::uint16_t handle, const Bytes& value) { deliver(handle, value); });
  }

  void read(std::uint16_t valueHandle, std::uint16_t offset,
            absl::AnyInvocable<void(std::uint8_t, Bytes)> done) override {
    RemoteCentral* c = central();
    auto it = toHosted_.find(valueHandle);
    if (c == nullptr || it == toHosted_.end()) return done(kUnlikely, {});
    c->read(handleText(it->second), offset, std::move(done));
  }

  void write(std::uint16_t valueHandle, const Bytes& value, bool command,
             absl::AnyInvocable<void(std::uint8_t)> done) override {
    RemoteCentral* c = central();
    auto it = toHosted_.find(valueHandle);
    if (c == nullptr || it == toHosted_.end()) return done(kUnlikely);
    c->write(handleText(it->second), value, !command, std::move(done));
  }

  void setCcc(std::uint16_t valueHandle, std::uint16_t ccc) override {
    RemoteCentral* c = central();
    auto it = toHosted_.find(valueHandle);
    if (c == nullptr || it == toHosted_.end()) return;
    if (ccc == 0) {
      c->unsubscribe(handleText(it->second));
    } else {
      c->subscribe(handleText(it->second), (ccc & 0x0001) == 0);
    }
  }

 private:
  RemoteCentral* central() const { return centralId_.empty() ? nullptr : daemon_.central(centralId_); }

  void dropCentral() {
    if (!centralId_.empty()) daemon_.removeCentral(centralId_);
    centralId_.clear();
    linkedAdapter_.clear();
  }

  // A notification or indication the application sent to our central: the central adapter's
  // Device gets it as its peer's.
  void deliver(std::uint16_t hostedHandle, const Bytes& value) {
    auto it = fromHosted_.find(hostedHandle);
    Adapter* a = daemon_.adapter(linkedAdapter_);
    if (a == nullptr || it == fromHosted_.end()) return;
    if (Device* d = a->device(host_.address())) d->gatt().notification(it->second, value);
  }

  Daemon& daemon_;
  Adapter& host_;
  Peripheral* peripheral_ = nullptr;  // in the air, owned by it
  std::map<std::uint16_t, std::uint16_t> toHosted_, fromHosted_;  // value handles
  std::string centralId_, linkedAdapter_;
};

HostedAir::HostedAir(Daemon& daemon) : daemon_(daemon) {}

HostedAir::~HostedAir() {
  // Off the air first (links drop and tell their peer), then the peers go.
  for (auto& [name, peer] : peers_) {
    if (peer->peripheral() != nullptr) daemon_.context().air.remove(peer->peripheral()->address());
  }
  peers_.clear();
}

void HostedAir::hostedChanged(Adapter& adapter) {
  auto& peer = peers_[adapter.name()];
  if (peer == nullptr) peer = std::make_unique<Peer>(daemon_, adapter);
  peer->update();
}

}  // namespace gattway::sim
