#include "ble/peripheral/hosted_database.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ble/error.h"

namespace gattway::peripheral {
namespace {

// BlueZ refuses an application that defines GAP or GATT itself (gatt-database.c: it hosts both).
bool reservedService(const Uuid& uuid) {
  const auto v = uuid.shortValue();
  return v && (*v == 0x1800 || *v == 0x1801);
}

// Descriptors BlueZ adds by itself: CCC (2902) for notify/indicate, CEP (2900) for extended
// properties (gatt-api.txt, "GATT Descriptor hierarchy").
bool automaticDescriptor(const Uuid& uuid) {
  const auto v = uuid.shortValue();
  return v && (*v == 0x2902 || *v == 0x2900);
}

bool validSecurity(AttributeSecurity s) {
  return s == AttributeSecurity::kNone || s == AttributeSecurity::kEncrypted ||
         s == AttributeSecurity::kAuthenticated || s == AttributeSecurity::kSecure;
}

std::uint32_t effectiveMaxLen(const LocalCharacteristic& c) {
  if (c.maxLen != 0) return c.maxLen;
  return std::max<std::uint32_t>(kDefaultMaxLen, static_cast<std::uint32_t>(c.initialValue.size()));
}

}  // namespace

absl::Status validateDefinition(const DatabaseDefinition& d) {
  if (d.services.empty()) {
    return err::invalidField("services", "at least one service is needed (to remove the database, "
                                         "call UnregisterServices)");
  }
  if (d.services.size() > kMaxServices) {
    return err::invalidField("services", absl::StrCat("at most ", kMaxServices, " services, not ",
                                                      d.services.size()));
  }
  if (d.captureQueueSize != 0 &&
      (d.captureQueueSize < kMinCaptureQueue || d.captureQueueSize > kMaxCaptureQueue)) {
    return err::invalidField("capture_queue_size",
                             absl::StrCat("must be ", kMinCaptureQueue, "..", kMaxCaptureQueue,
                                          " (0: ", kDefaultCaptureQueue, "), not ",
                                          d.captureQueueSize));
  }
  for (std::size_t s = 0; s < d.services.size(); ++s) {
    const LocalService& svc = d.services[s];
    const std::string sf = absl::StrCat("services[", s, "]");
    if (reservedService(svc.uuid)) {
      return err::invalidField(absl::StrCat(sf, ".uuid"),
                               "GAP (1800) and GATT (1801) are hosted by BlueZ itself");
    }
    if (svc.characteristics.empty() || svc.characteristics.size() > kMaxCharacteristicsPerService) {
      return err::invalidField(absl::StrCat(sf, ".characteristics"),
                               absl::StrCat("a service needs 1..", kMaxCharacteristicsPerService,
                                            " characteristics, not ", svc.characteristics.size()));
    }
    for (std::size_t c = 0; c < svc.characteristics.size(); ++c) {
      const LocalCharacteristic& ch = svc.characteristics[c];
      const std::string cf = absl::StrCat(sf, ".characteristics[", c, "]");
      const bool writable = ch.write || ch.writeWithoutResponse;
      if (!ch.read && !writable && !ch.notify && !ch.indicate) {
        return err::invalidField(cf, "allows nothing: set read, write, write_without_response, "
                                     "notify or indicate");
      }
      if (!validSecurity(ch.readSecurity) || !validSecurity(ch.writeSecurity)) {
        return err::invalidField(absl::StrCat(cf, validSecurity(ch.readSecurity)
                                                      ? ".write_security" : ".read_security"),
                                 "unknown AttributeSecurity value");
      }
      if (ch.readSecurity != AttributeSecurity::kNone && !ch.read) {
        return err::invalidField(absl::StrCat(cf, ".read_security"),
                                 "applies to reads, but read is not set");
      }
      if (ch.writeSecurity != AttributeSecurity::kNone && !writable) {
        return err::invalidField(absl::StrCat(cf, ".write_security"),
                                 "applies to writes, but neither write nor "
                                 "write_without_response is set");
      }
      if (ch.maxLen > kMaxAttributeLen) {
        return err::invalidField(absl::StrCat(cf, ".max_len"),
                                 absl::StrCat("must be 1..", kMaxAttributeLen, " (0: default), not ",
                                              ch.maxLen));
      }
      if (ch.initialValue.size() > kMaxAttributeLen) {
        return err::invalidField(absl::StrCat(cf, ".initial_value"),
                                 absl::StrCat("is ", ch.initialValue.size(), " bytes; at most ",
                                              kMaxAttributeLen));
      }
      if (ch.maxLen != 0 && ch.initialValue.size() > ch.maxLen) {
        return err::invalidField(absl::StrCat(cf, ".initial_value"),
                                 absl::StrCat("is ", ch.initialValue.size(),
                                              " bytes, longer than max_len ", ch.maxLen));
      }
      if (ch.append && !writable) {
        return err::invalidField(absl::StrCat(cf, ".append"),
                                 "needs write or write_without_response");
      }
      if (ch.capture && !writable) {
        return err::invalidField(absl::StrCat(cf, ".capture"),
                                 "needs write or write_without_response");
      }
      for (std::size_t k = 0; k < ch.descriptors.size(); ++k) {
        const LocalDescriptor& de = ch.descriptors[k];
        const std::string df = absl::StrCat(cf, ".descriptors[", k, "]");
        if (automaticDescriptor(de.uuid)) {
          return err::invalidField(absl::StrCat(df, ".uuid"),
                                   "2902 (CCC) and 2900 (extended properties) are added by BlueZ");
        }
        if (!de.read && !de.write) return err::invalidField(df, "set read, write or both");
        if (!validSecurity(de.readSecurity) || !validSecurity(de.writeSecurity)) {
          return err::invalidField(absl::StrCat(df, validSecurity(de.readSecurity)
                                                        ? ".write_security" : ".read_security"),
                                   "unknown AttributeSecurity value");
        }
        if (de.readSecurity != AttributeSecurity::kNone && !de.read) {
          return err::invalidField(absl::StrCat(df, ".read_security"),
                                   "applies to reads, but read is not set");
        }
        if (de.writeSecurity != AttributeSecurity::kNone && !de.write) {
          return err::invalidField(absl::StrCat(df, ".write_security"),
                                   "applies to writes, but write is not set");
        }
        if (de.value.size() > kMaxAttributeLen) {
          return err::invalidField(absl::StrCat(df, ".value"),
                                   absl::StrCat("is ", de.value.size(), " bytes; at most ",
                                                kMaxAttributeLen));
        }
      }
    }
  }
  return absl::OkStatus();
}

HostedDatabase::HostedDatabase(const DatabaseDefinition& d)
    : adapterRequested_(d.adapter),
      definition_(d.services),
      captureQueueSize_(d.captureQueueSize == 0 ? kDefaultCaptureQueue : d.captureQueueSize) {
  // Instance = occurrence of the characteristic UUID among services with the same UUID, in
  // order, so that (service, characteristic, instance) names it again.
  std::map<std::pair<Uuid, Uuid>, std::uint32_t> seen;
  for (std::size_t s = 0; s < definition_.size(); ++s) {
    const LocalService& svc = definition_[s];
    HostedServiceSpec sspec;
    sspec.uuid = svc.uuid;
    sspec.primary = svc.primary;
    for (std::size_t c = 0; c < svc.characteristics.size(); ++c) {
      const LocalCharacteristic& ch = svc.characteristics[c];
      Attribute a;
      a.id = static_cast<AttributeId>(attributes_.size() + 1);
      a.name.service = svc.uuid;
      a.name.characteristic = ch.uuid;
      a.name.instance = seen[{svc.uuid, ch.uuid}]++;
      a.capture = ch.capture;
      a.append = ch.append;
      a.notify = ch.notify || ch.indicate;
      a.maxLen = effectiveMaxLen(ch);
      a.value = ch.initialValue;
      a.service = s;
      a.characteristic_index = c;
      if (ch.write && !ch.writeWithoutResponse) a.writeKind = WriteKind::kRequest;
      if (!ch.write && ch.writeWithoutResponse) a.writeKind = WriteKind::kCommand;
      HostedCharacteristicSpec cspec;
      cspec.id = a.id;
      cspec.uuid = ch.uuid;
      cspec.properties = static_cast<std::uint8_t>(
          (ch.read ? gatt_property::kRead : 0) | (ch.write ? gatt_property::kWrite : 0) |
          (ch.writeWithoutResponse ? gatt_property::kWriteWithoutResponse : 0) |
          (ch.notify ? gatt_property::kNotify : 0) | (ch.indicate ? gatt_property::kIndicate : 0));
      cspec.readSecurity = ch.readSecurity;
      cspec.writeSecurity = ch.writeSecurity;
      const AttributeName charName = a.name;
      attributes_.push_back(std::move(a));
      for (std::size_t k = 0; k < ch.descriptors.size(); ++k) {
        const LocalDescriptor& de = ch.descriptors[k];
        Attribute d2;
        d2.id = static_cast<AttributeId>(attributes_.size() + 1);
        d2.name = charName;
        d2.name.descriptor = de.uuid;
        d2.characteristic = false;
        d2.value = de.value;
        d2.service = s;
        d2.characteristic_index = c;
        d2.descriptor_index = k;
        HostedDescriptorSpec dspec;
        dspec.id = d2.id;
        dspec.uuid = de.uuid;
        dspec.read = de.read;
        dspec.write = de.write;
        dspec.readSecurity = de.readSecurity;
        dspec.writeSecurity = de.writeSecurity;
        cspec.descriptors.push_back(dspec);
        attributes_.push_back(std::move(d2));
      }
      sspec.characteristics.push_back(std::move(cspec));
    }
    spec_.services.push_back(std::move(sspec));
  }
}

const HostedDatabase::Attribute* HostedDatabase::find(AttributeId id) const {
  if (id == 0 || id > attributes_.size()) return nullptr;
  return &attributes_[id - 1];
}

HostedDatabase::Attribute* HostedDatabase::find(AttributeId id) {
  if (id == 0 || id > attributes_.size()) return nullptr;
  return &attributes_[id - 1];
}

absl::StatusOr<AttributeId> HostedDatabase::resolve(const AttributeSelector& sel,
                                                    absl::string_view field) const {
  std::vector<const Attribute*> matches;
  std::set<Uuid> services;
  for (const Attribute& a : attributes_) {
    if (!a.characteristic || a.name.characteristic != sel.characteristic) continue;
    if (sel.service && a.name.service != *sel.service) continue;
    matches.push_back(&a);
    services.insert(a.name.service);
  }
  const std::string what = absl::StrCat("characteristic ", sel.characteristic.toString(),
                                        sel.service ? absl::StrCat(" in service ",
                                                                   sel.service->toString())
                                                    : std::string());
  if (matches.empty()) {
    return err::make(err::Reason::kAttributeNotFound,
                     absl::StrCat(field, ": no ", what, " in the hosted database"),
                     {{err::kMetaField, field}});
  }
  if (!sel.service && services.size() > 1) {
    std::vector<std::string> names;
    for (const Uuid& u : services) names.push_back(u.toString());
    return err::make(err::Reason::kAttributeAmbiguous,
                     absl::StrCat(field, ": ", what, " is in services ",
                                  absl::StrJoin(names, ", "), "; name one in service_uuid"),
                     {{err::kMetaField, absl::StrCat(field, ".service_uuid")}});
  }
  if (sel.instance >= matches.size()) {
    return err::make(err::Reason::kAttributeNotFound,
                     absl::StrCat(field, ": ", what, " occurs ", matches.size(),
                                  " time(s); instance ", sel.instance, " does not exist"),
                     {{err::kMetaField, absl::StrCat(field, ".instance")}});
  }
  const Attribute* ch = matches[sel.instance];
  if (!sel.descriptor) return ch->id;
  for (std::size_t i = ch->id; i < attributes_.size(); ++i) {
    const Attribute& d = attributes_[i];
    if (d.characteristic) break;
    if (d.name.descriptor == sel.descriptor) return d.id;
  }
  return err::make(err::Reason::kAttributeNotFound,
                   absl::StrCat(field, ": ", what, " has no descriptor ",
                                sel.descriptor->toString()),
                   {{err::kMetaField, absl::StrCat(field, ".descriptor_uuid")}});
}

AttributeName HostedDatabase::name(AttributeId id) const {
  const Attribute* a = find(id);
  return a ? a->name : AttributeName{};
}

bool HostedDatabase::isCharacteristic(AttributeId id) const {
  const Attribute* a = find(id);
  return a && a->characteristic;
}

bool HostedDatabase::captures(AttributeId id) const {
  const Attribute* a = find(id);
  return a && a->capture;
}

bool HostedDatabase::canNotify(AttributeId id) const {
  const Attribute* a = find(id);
  return a && a->notify;
}

std::uint32_t HostedDatabase::maxLen(AttributeId id) const {
  const Attribute* a = find(id);
  return a ? a->maxLen : 0;
}

WriteKind HostedDatabase::writeKind(AttributeId id) const {
  const Attribute* a = find(id);
  return a ? a->writeKind : WriteKind::kUnknown;
}

std::vector<AttributeId> HostedDatabase::capturedCharacteristics() const {
  std::vector<AttributeId> out;
  for (const Attribute& a : attributes_) {
    if (a.capture) out.push_back(a.id);
  }
  return out;
}

std::vector<AttributeId> HostedDatabase::allAttributes() const {
  std::vector<AttributeId> out;
  for (const Attribute& a : attributes_) out.push_back(a.id);
  return out;
}

const std::vector<std::uint8_t>& HostedDatabase::value(AttributeId id) const {
  static const std::vector<std::uint8_t> kEmpty;
  const Attribute* a = find(id);
  return a ? a->value : kEmpty;
}

absl::Status HostedDatabase::setValue(AttributeId id, std::vector<std::uint8_t> value) {
  Attribute* a = find(id);
  if (a == nullptr) return err::make(err::Reason::kAttributeNotFound, "no such attribute");
  if (value.size() > a->maxLen) {
    return err::invalidField("value", absl::StrCat("is ", value.size(), " bytes; the attribute's "
                                                   "max_len is ", a->maxLen));
  }
  a->value = std::move(value);
  a->appendBase = 0;
  return absl::OkStatus();
}

void HostedDatabase::clear(AttributeId id) {
  if (Attribute* a = find(id)) {
    a->value.clear();
    a->appendBase = 0;
  }
}

std::uint8_t HostedDatabase::slice(absl::Span<const std::uint8_t> value, std::uint16_t offset,
                                   std::vector<std::uint8_t>& out) {
  out.clear();
  if (offset > value.size()) return 0x07;  // Invalid Offset
  out.assign(value.begin() + offset, value.end());
  return 0;
}

std::uint8_t HostedDatabase::read(AttributeId id, std::uint16_t offset,
                                  std::vector<std::uint8_t>& out) const {
  const Attribute* a = find(id);
  if (a == nullptr) return 0x01;  // Invalid Handle
  return slice(a->value, offset, out);
}

std::uint8_t HostedDatabase::write(AttributeId id, std::uint16_t offset,
                                   absl::Span<const std::uint8_t> data) {
  Attribute* a = find(id);
  if (a == nullptr) return 0x01;
  // Where the bytes go: a plain attribute is rewritten from `offset` (offset 0 replaces it); an
  // append buffer grows at its end, and a long write's later parts (offset > 0) land relative
  // to where that write started.
  const std::size_t base = a->append ? (offset == 0 ? a->value.size() : a->appendBase) : 0;
  const std::size_t at = base + offset;
  if (at > a->value.size()) return 0x07;                   // Invalid Offset
  if (at + data.size() > a->maxLen) return 0x0D;           // Invalid Attribute Value Length
  if (a->append && offset == 0) a->appendBase = a->value.size();
  a->value.resize(at);
  a->value.insert(a->value.end(), data.begin(), data.end());
  return 0;
}

std::vector<LocalService> HostedDatabase::snapshot() const {
  std::vector<LocalService> out = definition_;
  for (const Attribute& a : attributes_) {
    LocalCharacteristic& ch = out[a.service].characteristics[a.characteristic_index];
    if (a.descriptor_index) {
      ch.descriptors[*a.descriptor_index].value = a.value;
    } else {
      ch.initialValue = a.value;
      ch.maxLen = a.maxLen;
    }
  }
  return out;
}

}  // namespace gattway::peripheral
