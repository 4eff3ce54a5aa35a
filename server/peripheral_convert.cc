#include "server/peripheral_convert.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/uuid.h"

namespace gattway::server {
namespace {

using peripheral::AttributeSelector;

// A legacy advertisement (and its scan response) carries 31 bytes (Core spec Vol 6, Part B,
// 2.3.1.1); BlueZ 5.66 refuses more with one generic "Failed to parse advertisement.".
constexpr std::size_t kLegacyAdvertisingBytes = 31;
constexpr std::size_t kMaxIdLength = 32;
constexpr absl::Duration kMaxAdvertisingTimeout = absl::Hours(24);
constexpr absl::Duration kMinAdvertisingInterval = absl::Milliseconds(20);
constexpr absl::Duration kMaxAdvertisingInterval = absl::Milliseconds(10240);

absl::StatusOr<Uuid> parseUuid(const std::string& text, absl::string_view field) {
  if (text.empty()) return err::invalidField(field, "a UUID is required (\"180D\" or 128-bit)");
  return Uuid::parse(text, field);
}

absl::StatusOr<AttributeSecurity> toSecurity(v1::AttributeSecurity s, absl::string_view field) {
  switch (s) {
    case v1::ATTRIBUTE_SECURITY_UNSPECIFIED:
    case v1::ATTRIBUTE_SECURITY_NONE: return AttributeSecurity::kNone;
    case v1::ATTRIBUTE_SECURITY_ENCRYPTED: return AttributeSecurity::kEncrypted;
    case v1::ATTRIBUTE_SECURITY_AUTHENTICATED: return AttributeSecurity::kAuthenticated;
    case v1::ATTRIBUTE_SECURITY_SECURE: return AttributeSecurity::kSecure;
    default: return err::invalidField(field, absl::StrCat("unknown AttributeSecurity ", s));
  }
}

std::vector<std::uint8_t> bytes(const std::string& s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

// Bytes a UUID takes in an AD structure: 2, 4 or 16.
std::size_t uuidBytes(const Uuid& u) {
  const auto v = u.shortValue();
  if (!v) return 16;
  return *v <= 0xFFFF ? 2 : 4;
}

// An AD "list of UUIDs" field per UUID size present.
std::size_t uuidListBytes(const std::vector<Uuid>& uuids) {
  std::set<std::size_t> sizes;
  std::size_t n = 0;
  for (const Uuid& u : uuids) {
    sizes.insert(uuidBytes(u));
    n += uuidBytes(u);
  }
  return n + 2 * sizes.size();
}

}  // namespace

absl::Status checkAdapterName(const std::string& adapter, absl::string_view field) {
  if (adapter.empty()) return absl::OkStatus();
  bool ok = absl::StartsWith(adapter, "hci") && adapter.size() > 3 && adapter.size() <= 8;
  for (std::size_t i = 3; ok && i < adapter.size(); ++i) ok = absl::ascii_isdigit(adapter[i]);
  if (ok) return absl::OkStatus();
  return err::invalidField(field, absl::StrCat("\"", adapter, "\" is not an adapter name; expected "
                                               "hci0, hci1, ... or empty"));
}

absl::Status checkValue(const std::string& value, absl::string_view field) {
  if (value.size() <= peripheral::kMaxAttributeLen) return absl::OkStatus();
  return err::invalidField(field, absl::StrCat("is ", value.size(), " bytes; an attribute value "
                                               "holds at most ", peripheral::kMaxAttributeLen));
}

absl::StatusOr<absl::Duration> toDuration(const google::protobuf::Duration* d,
                                          absl::string_view field, absl::Duration fallback,
                                          absl::Duration min, absl::Duration max) {
  if (d == nullptr) return fallback;
  if (d->seconds() < 0 || d->nanos() < 0) return err::invalidField(field, "must not be negative");
  const absl::Duration v = absl::Seconds(d->seconds()) + absl::Nanoseconds(d->nanos());
  if (v < min || v > max) {
    return err::invalidField(field, absl::StrCat("must be ", absl::FormatDuration(min), "..",
                                                 absl::FormatDuration(max), ", not ",
                                                 absl::FormatDuration(v)));
  }
  return v;
}

absl::StatusOr<peripheral::DatabaseDefinition> toDefinition(const v1::RegisterServicesRequest& r) {
  peripheral::DatabaseDefinition d;
  if (auto s = checkAdapterName(r.adapter(), "adapter"); !s.ok()) return s;
  d.adapter = r.adapter();
  d.captureQueueSize = r.capture_queue_size();
  for (int i = 0; i < r.services_size(); ++i) {
    const auto& ps = r.services(i);
    const std::string sf = absl::StrCat("services[", i, "]");
    peripheral::LocalService svc;
    auto su = parseUuid(ps.uuid(), absl::StrCat(sf, ".uuid"));
    if (!su.ok()) return su.status();
    svc.uuid = *su;
    svc.primary = !ps.secondary();
    for (int j = 0; j < ps.characteristics_size(); ++j) {
      const auto& pc = ps.characteristics(j);
      const std::string cf = absl::StrCat(sf, ".characteristics[", j, "]");
      peripheral::LocalCharacteristic c;
      auto cu = parseUuid(pc.uuid(), absl::StrCat(cf, ".uuid"));
      if (!cu.ok()) return cu.status();
      c.uuid = *cu;
      c.read = pc.read();
      c.write = pc.write();
      c.writeWithoutResponse = pc.write_without_response();
      c.notify = pc.notify();
      c.indicate = pc.indicate();
      auto rs = toSecurity(pc.read_security(), absl::StrCat(cf, ".read_security"));
      if (!rs.ok()) return rs.status();
      auto ws = toSecurity(pc.write_security(), absl::StrCat(cf, ".write_security"));
      if (!ws.ok()) return ws.status();
      c.readSecurity = *rs;
      c.writeSecurity = *ws;
      c.initialValue = bytes(pc.initial_value());
      c.maxLen = pc.max_len();
      c.append = pc.append();
      c.capture = pc.capture();
      for (int k = 0; k < pc.descriptors_size(); ++k) {
        const auto& pd = pc.descriptors(k);
        const std::string df = absl::StrCat(cf, ".descriptors[", k, "]");
        peripheral::LocalDescriptor de;
        auto du = parseUuid(pd.uuid(), absl::StrCat(df, ".uuid"));
        if (!du.ok()) return du.status();
        de.uuid = *du;
        de.read = pd.read();
        de.write = pd.write();
        de.value = bytes(pd.value());
        auto drs = toSecurity(pd.read_security(), absl::StrCat(df, ".read_security"));
        if (!drs.ok()) return drs.status();
        auto dws = toSecurity(pd.write_security(), absl::StrCat(df, ".write_security"));
        if (!dws.ok()) return dws.status();
        de.readSecurity = *drs;
        de.writeSecurity = *dws;
        c.descriptors.push_back(std::move(de));
      }
      svc.characteristics.push_back(std::move(c));
    }
    d.services.push_back(std::move(svc));
  }
  if (auto s = peripheral::validateDefinition(d); !s.ok()) return s;
  return d;
}

absl::StatusOr<AttributeSelector> toSelector(const v1::AttributeRef& ref, absl::string_view field) {
  if (ref.handle() != 0) {
    return err::invalidField(absl::StrCat(field, ".handle"),
                             "hosted attributes are named by UUID (BlueZ assigns their handles "
                             "and 5.66 does not tell the application)");
  }
  AttributeSelector sel;
  if (ref.characteristic_uuid().empty()) {
    return err::invalidField(absl::StrCat(field, ".characteristic_uuid"), "is required");
  }
  auto c = Uuid::parse(ref.characteristic_uuid(), absl::StrCat(field, ".characteristic_uuid"));
  if (!c.ok()) return c.status();
  sel.characteristic = *c;
  if (!ref.service_uuid().empty()) {
    auto s = Uuid::parse(ref.service_uuid(), absl::StrCat(field, ".service_uuid"));
    if (!s.ok()) return s.status();
    sel.service = *s;
  }
  if (!ref.descriptor_uuid().empty()) {
    auto d = Uuid::parse(ref.descriptor_uuid(), absl::StrCat(field, ".descriptor_uuid"));
    if (!d.ok()) return d.status();
    sel.descriptor = *d;
  }
  sel.instance = ref.instance();
  return sel;
}

absl::StatusOr<std::vector<AttributeSelector>> toSelectors(
    const google::protobuf::RepeatedPtrField<v1::AttributeRef>& refs, absl::string_view field) {
  std::vector<AttributeSelector> out;
  for (int i = 0; i < refs.size(); ++i) {
    auto s = toSelector(refs.Get(i), absl::StrCat(field, "[", i, "]"));
    if (!s.ok()) return s.status();
    out.push_back(*s);
  }
  return out;
}

absl::StatusOr<peripheral::AdvertisingRequest> toAdvertising(const v1::StartAdvertisingRequest& r) {
  peripheral::AdvertisingRequest out;
  AdvertisementSpec& s = out.spec;
  if (auto st = checkAdapterName(r.adapter(), "adapter"); !st.ok()) return st;
  out.adapter = r.adapter();
  s.id = r.id().empty() ? "default" : r.id();
  if (s.id.size() > kMaxIdLength) {
    return err::invalidField("id", absl::StrCat("at most ", kMaxIdLength, " characters"));
  }
  for (char ch : s.id) {
    if (!(absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '-' || ch == '_')) {
      return err::invalidField("id", absl::StrCat("\"", s.id, "\": use 1..32 characters from "
                                                  "[a-z0-9-_]"));
    }
  }
  // What BlueZ 5.66 cannot send.
  if (!r.advertising_data().empty()) {
    return err::make(err::Reason::kBackendLimitation,
                     "advertising_data: BlueZ 5.66 takes raw advertising data only through its "
                     "experimental \"Data\" property, which refuses every AD type it manages "
                     "itself; use the typed fields",
                     {{err::kMetaField, "advertising_data"}});
  }
  if (!r.scan_response_data().empty()) {
    return err::make(err::Reason::kBackendLimitation,
                     "scan_response_data: BlueZ 5.66's LEAdvertisement1 has no scan-response "
                     "fields (only the local name goes there)",
                     {{err::kMetaField, "scan_response_data"}});
  }
  switch (r.type()) {
    case v1::ADVERTISING_TYPE_UNSPECIFIED:
    case v1::ADVERTISING_TYPE_CONNECTABLE: s.connectable = true; break;
    case v1::ADVERTISING_TYPE_BROADCAST: s.connectable = false; break;
    default: return err::invalidField("type", absl::StrCat("unknown AdvertisingType ", r.type()));
  }
  switch (r.discoverability()) {
    case v1::DISCOVERABILITY_UNSPECIFIED:
      s.discoverability = s.connectable ? Discoverability::kGeneral : Discoverability::kNone;
      break;
    case v1::DISCOVERABILITY_GENERAL: s.discoverability = Discoverability::kGeneral; break;
    case v1::DISCOVERABILITY_LIMITED: s.discoverability = Discoverability::kLimited; break;
    case v1::DISCOVERABILITY_NONE: s.discoverability = Discoverability::kNone; break;
    default:
      return err::invalidField("discoverability",
                               absl::StrCat("unknown Discoverability ", r.discoverability()));
  }
  if (!s.connectable && s.discoverability != Discoverability::kNone) {
    return err::invalidField("discoverability",
                             "a broadcast advertisement carries no discoverable flags (BlueZ "
                             "refuses them); leave it unset or NONE");
  }
  s.localName = r.local_name();
  if (s.localName.size() + 2 > kLegacyAdvertisingBytes) {
    return err::invalidField("local_name",
                             absl::StrCat("is ", s.localName.size(), " bytes; the scan response "
                                          "holds a name of at most ",
                                          kLegacyAdvertisingBytes - 2));
  }
  for (int i = 0; i < r.service_uuids_size(); ++i) {
    auto u = parseUuid(r.service_uuids(i), absl::StrCat("service_uuids[", i, "]"));
    if (!u.ok()) return u.status();
    s.serviceUuids.push_back(*u);
  }
  for (int i = 0; i < r.solicit_uuids_size(); ++i) {
    auto u = parseUuid(r.solicit_uuids(i), absl::StrCat("solicit_uuids[", i, "]"));
    if (!u.ok()) return u.status();
    s.solicitUuids.push_back(*u);
  }
  if (r.has_appearance()) {
    if (r.appearance() > 0xFFFF) {
      return err::invalidField("appearance", "is a 16-bit value (0..65535)");
    }
    s.appearance = static_cast<std::uint16_t>(r.appearance());
  }
  std::set<std::uint32_t> companies;
  for (int i = 0; i < r.manufacturer_data_size(); ++i) {
    const auto& m = r.manufacturer_data(i);
    const std::string f = absl::StrCat("manufacturer_data[", i, "]");
    if (m.company_id() > 0xFFFF) {
      return err::invalidField(absl::StrCat(f, ".company_id"), "is a 16-bit value (0..65535)");
    }
    if (!companies.insert(m.company_id()).second) {
      return err::invalidField(absl::StrCat(f, ".company_id"),
                               "appears twice; one entry per company id");
    }
    s.manufacturerData.emplace_back(static_cast<std::uint16_t>(m.company_id()), bytes(m.data()));
  }
  std::set<Uuid> dataUuids;
  for (int i = 0; i < r.service_data_size(); ++i) {
    const auto& sd = r.service_data(i);
    const std::string f = absl::StrCat("service_data[", i, "]");
    auto u = parseUuid(sd.uuid(), absl::StrCat(f, ".uuid"));
    if (!u.ok()) return u.status();
    if (!dataUuids.insert(*u).second) {
      return err::invalidField(absl::StrCat(f, ".uuid"), "appears twice; one entry per UUID");
    }
    s.serviceData.emplace_back(*u, bytes(sd.data()));
  }
  auto timeout = toDuration(r.has_timeout() ? &r.timeout() : nullptr, "timeout",
                            absl::ZeroDuration(), absl::ZeroDuration(), kMaxAdvertisingTimeout);
  if (!timeout.ok()) return timeout.status();
  if (*timeout > absl::ZeroDuration()) s.timeout = *timeout;
  if (r.has_min_interval()) {
    auto v = toDuration(&r.min_interval(), "min_interval", {}, kMinAdvertisingInterval,
                        kMaxAdvertisingInterval);
    if (!v.ok()) return v.status();
    s.minInterval = *v;
  }
  if (r.has_max_interval()) {
    auto v = toDuration(&r.max_interval(), "max_interval", {}, kMinAdvertisingInterval,
                        kMaxAdvertisingInterval);
    if (!v.ok()) return v.status();
    s.maxInterval = *v;
  }
  if (s.minInterval && s.maxInterval && *s.maxInterval < *s.minInterval) {
    return err::invalidField("max_interval", "must be at least min_interval");
  }
  if (r.has_tx_power()) {
    if (r.tx_power() < -127 || r.tx_power() > 20) {
      return err::invalidField("tx_power", "must be -127..20 dBm");
    }
    s.txPower = static_cast<std::int16_t>(r.tx_power());
  }
  s.includeTxPower = r.include_tx_power();

  // The advertising payload, field by field as BlueZ lays it out (src/shared/ad.c): refuse here
  // what BlueZ would refuse with an error that does not say why.
  std::size_t size = s.connectable && s.discoverability != Discoverability::kNone ? 3 : 0;
  auto add = [&](std::size_t n, absl::string_view field) -> absl::Status {
    size += n;
    if (size <= kLegacyAdvertisingBytes) return absl::OkStatus();
    return err::invalidField(field, absl::StrCat("the advertisement would need ", size,
                                                 " bytes; a legacy advertisement holds ",
                                                 kLegacyAdvertisingBytes,
                                                 " (flags take 3 when connectable)"));
  };
  if (!s.serviceUuids.empty()) {
    if (auto st = add(uuidListBytes(s.serviceUuids), "service_uuids"); !st.ok()) return st;
  }
  if (!s.solicitUuids.empty()) {
    if (auto st = add(uuidListBytes(s.solicitUuids), "solicit_uuids"); !st.ok()) return st;
  }
  for (std::size_t i = 0; i < s.manufacturerData.size(); ++i) {
    if (auto st = add(4 + s.manufacturerData[i].second.size(),
                      absl::StrCat("manufacturer_data[", i, "]"));
        !st.ok()) {
      return st;
    }
  }
  for (std::size_t i = 0; i < s.serviceData.size(); ++i) {
    if (auto st = add(2 + uuidBytes(s.serviceData[i].first) + s.serviceData[i].second.size(),
                      absl::StrCat("service_data[", i, "]"));
        !st.ok()) {
      return st;
    }
  }
  if (s.appearance) {
    if (auto st = add(4, "appearance"); !st.ok()) return st;
  }
  if (s.includeTxPower) {
    if (auto st = add(3, "include_tx_power"); !st.ok()) return st;
  }
  return out;
}

absl::StatusOr<peripheral::ReadAnswer> toReadAnswer(const v1::ReadAnswer& a) {
  peripheral::ReadAnswer out;
  if (a.request_id() == 0) return err::invalidField("answer.request_id", "is required");
  out.requestId = a.request_id();
  out.store = a.store();
  switch (a.answer_case()) {
    case v1::ReadAnswer::kValue:
      if (auto s = checkValue(a.value(), "answer.value"); !s.ok()) return s;
      out.value = bytes(a.value());
      break;
    case v1::ReadAnswer::kAttError:
      if (a.att_error() == 0 || a.att_error() > 0xFF) {
        return err::invalidField("answer.att_error", "an ATT error code is 0x01..0xFF");
      }
      out.attError = static_cast<std::uint8_t>(a.att_error());
      break;
    default:
      return err::invalidField("answer", "give a value or an att_error");
  }
  return out;
}

void toProto(const peripheral::AttributeName& name, v1::AttributeRef* out) {
  out->set_service_uuid(name.service.toString());
  out->set_characteristic_uuid(name.characteristic.toString());
  if (name.descriptor) out->set_descriptor_uuid(name.descriptor->toString());
  out->set_instance(name.instance);
}

void toProto(absl::Time time, google::protobuf::Timestamp* out) {
  const std::int64_t nanos = absl::ToUnixNanos(time);
  std::int64_t seconds = nanos / 1000000000;
  std::int64_t rest = nanos % 1000000000;
  if (rest < 0) {
    rest += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<std::int32_t>(rest));
}

void toProto(const peripheral::CapturedWrite& w, v1::CapturedWrite* out) {
  toProto(w.characteristic, out->mutable_characteristic());
  out->set_central(w.central.toString());
  out->set_value(std::string(w.value.begin(), w.value.end()));
  out->set_offset(w.offset);
  switch (w.kind) {
    case peripheral::WriteKind::kRequest: out->set_mode(v1::WRITE_MODE_WITH_RESPONSE); break;
    case peripheral::WriteKind::kCommand: out->set_mode(v1::WRITE_MODE_WITHOUT_RESPONSE); break;
    case peripheral::WriteKind::kUnknown: out->set_mode(v1::WRITE_MODE_UNSPECIFIED); break;
  }
  toProto(w.time, out->mutable_time());
  out->set_sequence(w.sequence);
}

void toProto(const peripheral::ReadRequestEvent& r, v1::ReadRequestEvent* out) {
  out->set_request_id(r.requestId);
  toProto(r.attribute, out->mutable_characteristic());
  out->set_central(r.central.toString());
  out->set_offset(r.offset);
  if (r.mtu) out->set_mtu(*r.mtu);
  toProto(r.deadline, out->mutable_deadline());
}

void toProto(const peripheral::PeripheralEvent& e, v1::WatchPeripheralResponse* out) {
  using T = peripheral::PeripheralEventType;
  switch (e.type) {
    case T::kCentralConnected: out->set_type(v1::PERIPHERAL_EVENT_TYPE_CENTRAL_CONNECTED); break;
    case T::kCentralDisconnected: out->set_type(v1::PERIPHERAL_EVENT_TYPE_CENTRAL_DISCONNECTED); break;
    case T::kSubscribed: out->set_type(v1::PERIPHERAL_EVENT_TYPE_SUBSCRIBED); break;
    case T::kUnsubscribed: out->set_type(v1::PERIPHERAL_EVENT_TYPE_UNSUBSCRIBED); break;
    case T::kMtuChanged: out->set_type(v1::PERIPHERAL_EVENT_TYPE_MTU_CHANGED); break;
    case T::kIndicationConfirmed: out->set_type(v1::PERIPHERAL_EVENT_TYPE_INDICATION_CONFIRMED); break;
    case T::kAdvertisingStarted: out->set_type(v1::PERIPHERAL_EVENT_TYPE_ADVERTISING_STARTED); break;
    case T::kAdvertisingStopped: out->set_type(v1::PERIPHERAL_EVENT_TYPE_ADVERTISING_STOPPED); break;
    case T::kDatabaseRegistered: out->set_type(v1::PERIPHERAL_EVENT_TYPE_DATABASE_REGISTERED); break;
  }
  toProto(e.time, out->mutable_time());
  if (e.central) out->set_central(e.central->toString());
  if (e.attribute) toProto(*e.attribute, out->mutable_characteristic());
  out->set_mtu(e.mtu);
  out->set_advertisement_id(e.advertisementId);
  out->set_detail(e.detail);
}

void toProto(const peripheral::RegisteredDatabase& db, v1::RegisterServicesResponse* out) {
  out->set_adapter(db.adapter);
  for (const auto& a : db.attributes) {
    auto* h = out->add_attributes();
    h->set_service_uuid(a.name.service.toString());
    h->set_characteristic_uuid(a.name.characteristic.toString());
    if (a.name.descriptor) h->set_descriptor_uuid(a.name.descriptor->toString());
    h->set_instance(a.name.instance);
    h->set_object_path(a.objectPath);
  }
}

namespace {
v1::AttributeSecurity securityProto(AttributeSecurity s) {
  switch (s) {
    case AttributeSecurity::kEncrypted: return v1::ATTRIBUTE_SECURITY_ENCRYPTED;
    case AttributeSecurity::kAuthenticated: return v1::ATTRIBUTE_SECURITY_AUTHENTICATED;
    case AttributeSecurity::kSecure: return v1::ATTRIBUTE_SECURITY_SECURE;
    case AttributeSecurity::kNone: break;
  }
  return v1::ATTRIBUTE_SECURITY_NONE;
}
}  // namespace

void toProto(const peripheral::PeripheralSnapshot& snap, v1::GetPeripheralResponse* out) {
  out->set_adapter(snap.adapter);
  for (const auto& svc : snap.services) {
    auto* ps = out->add_services();
    ps->set_uuid(svc.uuid.toString());
    ps->set_secondary(!svc.primary);
    for (const auto& c : svc.characteristics) {
      auto* pc = ps->add_characteristics();
      pc->set_uuid(c.uuid.toString());
      pc->set_read(c.read);
      pc->set_write(c.write);
      pc->set_write_without_response(c.writeWithoutResponse);
      pc->set_notify(c.notify);
      pc->set_indicate(c.indicate);
      pc->set_read_security(securityProto(c.readSecurity));
      pc->set_write_security(securityProto(c.writeSecurity));
      pc->set_initial_value(std::string(c.initialValue.begin(), c.initialValue.end()));
      pc->set_max_len(c.maxLen);
      pc->set_append(c.append);
      pc->set_capture(c.capture);
      for (const auto& d : c.descriptors) {
        auto* pd = pc->add_descriptors();
        pd->set_uuid(d.uuid.toString());
        pd->set_read(d.read);
        pd->set_write(d.write);
        pd->set_value(std::string(d.value.begin(), d.value.end()));
        pd->set_read_security(securityProto(d.readSecurity));
        pd->set_write_security(securityProto(d.writeSecurity));
      }
    }
  }
  for (const auto& id : snap.advertisementIds) out->add_advertisement_ids(id);
  for (const auto& c : snap.centrals) {
    auto* pc = out->add_centrals();
    pc->set_address(c.address.toString());
    if (c.mtu) pc->set_mtu(*c.mtu);
  }
}

}  // namespace gattway::server
