#include "ble/sim/peripheral.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::sim {
namespace {

constexpr std::size_t kMaxValue = 512;  // Core spec Vol 3, Part F, 3.2.9

bool hasFlag(const std::vector<std::string>& flags, absl::string_view f) {
  return std::find(flags.begin(), flags.end(), f) != flags.end();
}

Bytes le16(std::uint16_t v) {
  return {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)};
}

}  // namespace

bool readable(const std::vector<std::string>& flags) {
  for (const auto& f : flags) {
    if (f == "read" || f == "encrypt-read" || f == "encrypt-authenticated-read" ||
        f == "secure-read") {
      return true;
    }
  }
  return false;
}

bool writable(const std::vector<std::string>& flags) {
  for (const auto& f : flags) {
    if (f == "write" || f == "write-without-response" || f == "reliable-write" ||
        f == "authenticated-signed-writes" || f == "encrypt-write" ||
        f == "encrypt-authenticated-write" || f == "secure-write") {
      return true;
    }
  }
  return false;
}

std::uint8_t propertiesFromFlags(const std::vector<std::string>& flags) {
  std::uint8_t p = 0;
  for (const auto& f : flags) {
    if (f == "broadcast") p |= 0x01;
    if (f == "read" || f == "encrypt-read" || f == "encrypt-authenticated-read" || f == "secure-read") p |= 0x02;
    if (f == "write-without-response") p |= 0x04;
    if (f == "write" || f == "encrypt-write" || f == "encrypt-authenticated-write" || f == "secure-write") p |= 0x08;
    if (f == "notify" || f == "encrypt-notify" || f == "encrypt-authenticated-notify" || f == "secure-notify") p |= 0x10;
    if (f == "indicate" || f == "encrypt-indicate" || f == "encrypt-authenticated-indicate" || f == "secure-indicate") p |= 0x20;
    if (f == "authenticated-signed-writes") p |= 0x40;
    if (f == "extended-properties" || f == "reliable-write" || f == "writable-auxiliaries") p |= 0x80;
  }
  return p;
}

bool Peripheral::Characteristic::has(absl::string_view flag) const { return hasFlag(flags, flag); }

const Peripheral::Descriptor* Peripheral::Characteristic::cccDescriptor() const {
  for (const auto& d : descriptors) {
    if (d.uuid == Uuid::fromShort(0x2902)) return &d;
  }
  return nullptr;
}

Peripheral::Peripheral(const DeviceSpec& spec, std::uint64_t seed) : spec_(spec), rng_(seed) {
  context_.rng = &rng_;
  context_.findModel = [this](const std::string& model) -> ValueModel* {
    for (auto& s : services_) {
      for (auto& c : s.characteristics) {
        if (c.modelName == model) return c.model.get();
      }
    }
    return nullptr;
  };
  context_.notify = [this](ValueModel* model) {
    for (auto& s : services_) {
      for (auto& c : s.characteristics) {
        if (c.model.get() == model && push_) push_(c);
      }
    }
  };
}

absl::StatusOr<std::unique_ptr<Peripheral>> Peripheral::create(const DeviceSpec& spec,
                                                               std::uint64_t seed) {
  std::unique_ptr<Peripheral> p(new Peripheral(spec, seed));
  std::uint16_t next = 1;
  auto addService = [&](const Uuid& uuid, bool primary, bool internal,
                        const std::vector<CharacteristicSpec>& chars) -> absl::Status {
    Service s;
    s.start = next++;
    s.uuid = uuid;
    s.primary = primary;
    s.internal = internal;
    for (const auto& cs : chars) {
      Characteristic c;
      c.declHandle = next++;
      c.valueHandle = next++;
      c.uuid = cs.uuid;
      c.flags = cs.flags;
      c.properties = propertiesFromFlags(cs.flags);
      c.modelName = cs.model;
      c.notifyInterval = cs.notifyInterval;
      auto model = makeValueModel(cs, p->context_);
      if (!model.ok()) return model.status();
      c.model = std::move(*model);
      if ((c.properties & 0x30) != 0) {
        c.descriptors.push_back(Descriptor{next++, Uuid::fromShort(0x2902), {"read", "write"}, {0, 0}});
      }
      for (const auto& ds : cs.descriptors) {
        c.descriptors.push_back(Descriptor{next++, ds.uuid, ds.flags, ds.value});
      }
      s.characteristics.push_back(std::move(c));
    }
    s.end = static_cast<std::uint16_t>(next - 1);
    p->services_.push_back(std::move(s));
    return absl::OkStatus();
  };

  // GAP (claimed by bluetoothd's gap plugin, never exported) and GATT, as most devices lay them out.
  auto builtIn = [](std::uint16_t uuid, const char* flag, Bytes value) {
    CharacteristicSpec c;
    c.uuid = Uuid::fromShort(uuid);
    c.flags = {flag};
    c.value = std::move(value);
    return c;
  };
  const CharacteristicSpec deviceName = builtIn(0x2A00, "read", Bytes(spec.name.begin(), spec.name.end()));
  const CharacteristicSpec appearance = builtIn(0x2A01, "read", le16(spec.appearance));
  const CharacteristicSpec serviceChanged = builtIn(0x2A05, "indicate", {});
  absl::Status s = addService(Uuid::fromShort(0x1800), true, true, {deviceName, appearance});
  if (s.ok()) s = addService(Uuid::fromShort(0x1801), true, false, {serviceChanged});
  next = std::max<std::uint16_t>(next, 0x000a);
  for (const auto& svc : spec.services) {
    if (!s.ok()) break;
    s = addService(svc.uuid, svc.primary, false, svc.characteristics);
  }
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat(spec.address.toString(), ": ", s.message()));
  }
  return p;
}

const Report& Peripheral::report(std::int16_t rssi) {
  if (!report_) {
    Report r;
    r.address = spec_.address.toString();
    r.flags = spec_.advertising.flags;
    r.name = spec_.advertising.name;
    for (const auto& u : spec_.advertising.serviceUuids) r.uuids.push_back(u.toLongString());
    r.txPower = spec_.advertising.txPower;
    report_ = std::move(r);
  }
  report_->rssi = rssi;
  return *report_;
}

std::int16_t Peripheral::sampleRssi() {
  std::normal_distribution<double> jitter(0.0, std::max(0.0, spec_.rssiJitter));
  const double v = static_cast<double>(spec_.rssi) + (spec_.rssiJitter > 0 ? jitter(rng_) : 0.0);
  return static_cast<std::int16_t>(std::clamp(std::lround(v), -127L, 20L));
}

Peripheral::Characteristic* Peripheral::characteristic(std::uint16_t handle) {
  for (auto& s : services_) {
    for (auto& c : s.characteristics) {
      if (c.declHandle == handle || c.valueHandle == handle) return &c;
    }
  }
  return nullptr;
}

Peripheral::Descriptor* Peripheral::descriptor(std::uint16_t handle, Characteristic** owner) {
  for (auto& s : services_) {
    for (auto& c : s.characteristics) {
      for (auto& d : c.descriptors) {
        if (d.handle == handle) {
          if (owner != nullptr) *owner = &c;
          return &d;
        }
      }
    }
  }
  return nullptr;
}

std::vector<Uuid> Peripheral::serviceUuids() const {
  std::vector<Uuid> out;
  for (const auto& s : services_) {
    if (std::find(out.begin(), out.end(), s.uuid) == out.end()) out.push_back(s.uuid);
  }
  return out;
}

void Peripheral::setConnectedTo(const std::string& adapter) {
  if (adapter == connectedTo_) return;
  connectedTo_ = adapter;
  if (adapter.empty()) {
    // A new link starts with notifications off (no bond, so no stored CCC).
    for (auto& s : services_) {
      for (auto& c : s.characteristics) c.ccc = 0;
    }
  }
  if (bridge_ != nullptr) bridge_->linkChanged(adapter);
}

Peripheral::ReadResult Peripheral::read(Characteristic& c, absl::Time now) {
  if (!readable(c.flags)) return {0x02, {}};  // Read Not Permitted
  Bytes v = c.model->read(now);
  if (v.size() > kMaxValue) v.resize(kMaxValue);
  return {0, std::move(v)};
}

Peripheral::ReadResult Peripheral::read(Descriptor& d, const Characteristic& owner) {
  if (d.uuid == Uuid::fromShort(0x2902)) return {0, le16(owner.ccc)};
  if (!readable(d.flags)) return {0x02, {}};
  return {0, d.value};
}

std::uint8_t Peripheral::write(Characteristic& c, const Bytes& data, std::uint16_t offset,
                               bool command, absl::Time now) {
  if (!writable(c.flags)) return 0x03;  // Write Not Permitted (a command is dropped silently)
  Bytes value;
  if (offset > 0) {
    const Bytes current = c.model->read(now);
    if (offset > current.size()) return 0x07;  // Invalid Offset
    value.assign(current.begin(), current.begin() + offset);
  }
  if (offset + data.size() > kMaxValue) return 0x0D;  // Invalid Attribute Value Length
  value.insert(value.end(), data.begin(), data.end());
  return c.model->write(value, command, now);
}

std::uint8_t Peripheral::write(Descriptor& d, Characteristic& owner, const Bytes& data,
                               std::uint16_t offset) {
  if (d.uuid == Uuid::fromShort(0x2902)) {
    if (offset != 0) return 0x07;
    if (data.size() != 2) return 0x0D;
    const std::uint16_t v = static_cast<std::uint16_t>(data[0] | (data[1] << 8));
    // Bits the characteristic cannot do: CCC Improperly Configured (Core spec Supp., 1.2).
    if (v > 3 || ((v & 1) && !(owner.properties & 0x10)) || ((v & 2) && !(owner.properties & 0x20))) {
      return 0xFD;
    }
    owner.ccc = v;
    return 0;
  }
  if (!writable(d.flags)) return 0x03;
  if (offset > d.value.size()) return 0x07;
  if (offset + data.size() > kMaxValue) return 0x0D;
  d.value.resize(offset);
  d.value.insert(d.value.end(), data.begin(), data.end());
  return 0;
}

Bytes Peripheral::notification(Characteristic& c, absl::Time now) {
  return c.model->notification(now);
}

}  // namespace gattway::sim
