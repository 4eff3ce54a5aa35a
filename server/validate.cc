#include "server/validate.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "server/reactors.h"

namespace gattway::server {
namespace {

using google::protobuf::Duration;

std::string at(absl::string_view field, std::size_t i) { return absl::StrCat(field, "[", i, "]"); }
std::string dot(absl::string_view field, absl::string_view child) {
  return field.empty() ? std::string(child) : absl::StrCat(field, ".", child);
}

// A Duration in range, or nullopt when unset or zero (which mean "the documented default").
absl::StatusOr<std::optional<absl::Duration>> duration(bool present, const Duration& d,
                                                       absl::string_view field, absl::Duration min,
                                                       absl::Duration max) {
  if (!present || (d.seconds() == 0 && d.nanos() == 0)) return std::nullopt;
  if (d.nanos() <= -1'000'000'000 || d.nanos() >= 1'000'000'000 ||
      (d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return err::invalidField(field, "is not a valid Duration (nanos out of range or of the "
                                    "wrong sign)");
  }
  const absl::Duration value = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (value < absl::ZeroDuration()) {
    return err::invalidField(field, absl::StrCat(absl::FormatDuration(value),
                                                 " is negative; give a positive duration, or "
                                                 "leave it unset for the default"));
  }
  if (value < min || value > max) {
    return err::invalidField(field, absl::StrCat(absl::FormatDuration(value), " is out of range ",
                                                 absl::FormatDuration(min), "..",
                                                 absl::FormatDuration(max)));
  }
  return value;
}

absl::Status unknownEnum(absl::string_view field, int value, absl::string_view expected) {
  return err::invalidField(field,
                           absl::StrCat("unknown value ", value, "; expected one of ", expected));
}

absl::StatusOr<std::optional<Uuid>> optionalUuid(const std::string& text, absl::string_view field) {
  if (text.empty()) return std::nullopt;
  auto u = Uuid::parse(text, field);
  if (!u.ok()) return u.status();
  return *u;
}

absl::Status limitCount(std::size_t n, std::size_t max, absl::string_view field) {
  if (n <= max) return absl::OkStatus();
  return err::invalidField(field, absl::StrCat(n, " entries; at most ", max));
}

absl::Status backendLimitation(absl::string_view field, absl::string_view message) {
  return err::make(err::Reason::kBackendLimitation, absl::StrCat(field, ": ", message),
                   {{err::kMetaField, field}});
}

absl::StatusOr<WriteMode> writeMode(int mode, absl::string_view field) {
  switch (mode) {
    case v1::WRITE_MODE_UNSPECIFIED:
    case v1::WRITE_MODE_AUTO: return WriteMode::kAuto;
    case v1::WRITE_MODE_WITH_RESPONSE: return WriteMode::kWithResponse;
    case v1::WRITE_MODE_WITHOUT_RESPONSE: return WriteMode::kWithoutResponse;
    case v1::WRITE_MODE_RELIABLE: return WriteMode::kReliable;
    default:
      return unknownEnum(field, mode,
                                        "WRITE_MODE_AUTO, WRITE_MODE_WITH_RESPONSE, "
                                        "WRITE_MODE_WITHOUT_RESPONSE, WRITE_MODE_RELIABLE");
  }
}

absl::StatusOr<std::uint16_t> offset(std::uint32_t value, absl::string_view field) {
  if (value >= kMaxAttributeValue) {
    return err::invalidField(field, absl::StrCat(value, " is out of range 0..511"));
  }
  return static_cast<std::uint16_t>(value);
}

absl::StatusOr<std::vector<std::uint8_t>> value(const std::string& bytes, absl::string_view field) {
  if (bytes.size() > kMaxAttributeValue) {
    return err::invalidField(field, absl::StrCat(bytes.size(),
                                                 " bytes; attribute values are at most 512 bytes"));
  }
  return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
}

absl::StatusOr<AttributeQuery> characteristicRef(const v1::AttributeRef& ref,
                                                 absl::string_view field) {
  if (!ref.descriptor_uuid().empty()) {
    return err::invalidField(dot(field, "descriptor_uuid"),
                             "notifications come from characteristics; leave it empty");
  }
  return attributeRef(ref, field);
}

absl::StatusOr<absl::Duration> gattTimeout(bool present, const Duration& d,
                                           absl::string_view field) {
  auto t = duration(present, d, field, absl::Milliseconds(100), absl::Seconds(60));
  if (!t.ok()) return t.status();
  return t->value_or(kDefaultGattTimeout);
}

}  // namespace

absl::StatusOr<SubscribeMode> subscribeMode(int mode, absl::string_view field) {
  switch (mode) {
    case v1::SUBSCRIBE_MODE_UNSPECIFIED:
    case v1::SUBSCRIBE_MODE_AUTO: return SubscribeMode::kAuto;
    case v1::SUBSCRIBE_MODE_NOTIFY: return SubscribeMode::kNotify;
    case v1::SUBSCRIBE_MODE_INDICATE: return SubscribeMode::kIndicate;
    default:
      return unknownEnum(
          field, mode, "SUBSCRIBE_MODE_AUTO, SUBSCRIBE_MODE_NOTIFY, SUBSCRIBE_MODE_INDICATE");
  }
}

absl::StatusOr<std::optional<absl::Duration>> durationField(bool present, const Duration& d,
                                                            absl::string_view field,
                                                            absl::Duration min,
                                                            absl::Duration max) {
  return duration(present, d, field, min, max);
}

absl::StatusOr<std::string> adapterName(const std::string& name, absl::string_view field,
                                        bool optional) {
  if (name.empty()) {
    if (optional) return name;
    return err::invalidField(field, "required; an adapter name such as \"hci0\"");
  }
  const bool ok = absl::StartsWith(name, "hci") && name.size() > 3 && name.size() <= 8 &&
                  std::all_of(name.begin() + 3, name.end(),
                              [](char c) { return absl::ascii_isdigit(c); });
  if (!ok) {
    return err::invalidField(field, absl::StrCat("\"", name.substr(0, 64),
                                                 "\" is not an adapter name; expected \"hci0\", "
                                                 "\"hci1\", ..."));
  }
  return name;
}

absl::StatusOr<Address> requiredAddress(const std::string& text, absl::string_view field) {
  if (text.empty()) {
    return err::invalidField(field, "required; a device address such as \"AA:BB:CC:DD:EE:FF\"");
  }
  return Address::parse(text, field);
}

absl::StatusOr<AttributeQuery> attributeRef(const v1::AttributeRef& ref, absl::string_view field) {
  AttributeQuery q;
  if (ref.handle() > 0xFFFF) {
    return err::invalidField(dot(field, "handle"),
                             absl::StrCat(ref.handle(), " is out of range 1..65535"));
  }
  q.handle = static_cast<std::uint16_t>(ref.handle());
  auto service = optionalUuid(ref.service_uuid(), dot(field, "service_uuid"));
  if (!service.ok()) return service.status();
  auto characteristic = optionalUuid(ref.characteristic_uuid(), dot(field, "characteristic_uuid"));
  if (!characteristic.ok()) return characteristic.status();
  auto descriptor = optionalUuid(ref.descriptor_uuid(), dot(field, "descriptor_uuid"));
  if (!descriptor.ok()) return descriptor.status();
  q.service = *service;
  q.characteristic = *characteristic;
  q.descriptor = *descriptor;
  q.instance = ref.instance();
  if (q.handle == 0 && !q.characteristic) {
    return err::invalidField(dot(field, "characteristic_uuid"),
                             "required unless a handle is given; a UUID such as \"2A37\"");
  }
  return q;
}

absl::StatusOr<ScanFilter> scanFilter(const v1::ScanFilter& f, absl::string_view field) {
  ScanFilter out;
  const std::string uuids = dot(field, "service_uuids");
  if (auto s = limitCount(static_cast<std::size_t>(f.service_uuids_size()), 64, uuids); !s.ok()) {
    return s;
  }
  for (int i = 0; i < f.service_uuids_size(); ++i) {
    auto u = Uuid::parse(f.service_uuids(i), at(uuids, static_cast<std::size_t>(i)));
    if (!u.ok()) return u.status();
    out.serviceUuids.push_back(*u);
  }
  if (f.name_prefix().size() > 248) {
    return err::invalidField(dot(field, "name_prefix"),
                             absl::StrCat(f.name_prefix().size(), " bytes; at most 248"));
  }
  out.namePrefix = f.name_prefix();
  const std::string addresses = dot(field, "addresses");
  if (auto s = limitCount(static_cast<std::size_t>(f.addresses_size()), 1024, addresses); !s.ok()) {
    return s;
  }
  for (int i = 0; i < f.addresses_size(); ++i) {
    auto a = Address::parse(f.addresses(i), at(addresses, static_cast<std::size_t>(i)));
    if (!a.ok()) return a.status();
    out.addresses.push_back(*a);
  }
  const std::string ids = dot(field, "manufacturer_ids");
  if (auto s = limitCount(static_cast<std::size_t>(f.manufacturer_ids_size()), 64, ids); !s.ok()) {
    return s;
  }
  for (int i = 0; i < f.manufacturer_ids_size(); ++i) {
    if (f.manufacturer_ids(i) > 0xFFFF) {
      return err::invalidField(at(ids, static_cast<std::size_t>(i)),
                               absl::StrCat(f.manufacturer_ids(i), " is out of range 0..65535"));
    }
    out.manufacturerIds.push_back(static_cast<std::uint16_t>(f.manufacturer_ids(i)));
  }
  if (f.has_min_rssi()) {
    if (f.min_rssi() < -127 || f.min_rssi() > 20) {
      return err::invalidField(dot(field, "min_rssi"),
                               absl::StrCat(f.min_rssi(), " dBm is out of range -127..20"));
    }
    out.minRssi = static_cast<std::int16_t>(f.min_rssi());
  }
  out.connectableOnly = f.connectable_only();
  out.normalize();
  return out;
}

absl::StatusOr<ScanStreamOptions> scanRequest(const v1::ScanRequest& r) {
  ScanStreamOptions o;
  auto adapter = adapterName(r.adapter(), "adapter", true);
  if (!adapter.ok()) return adapter.status();
  o.scan.adapter = *adapter;
  auto filter = scanFilter(r.filter(), "filter");
  if (!filter.ok()) return filter.status();
  o.scan.filter = std::move(*filter);
  switch (r.mode()) {
    case v1::SCAN_MODE_UNSPECIFIED:
    case v1::SCAN_MODE_CHANGES: o.scan.mode = ScanMode::kChanges; break;
    case v1::SCAN_MODE_ALL: o.scan.mode = ScanMode::kAll; break;
    default: return unknownEnum("mode", r.mode(), "SCAN_MODE_ALL, SCAN_MODE_CHANGES");
  }
  auto d = duration(r.has_duration(), r.duration(), "duration", absl::Nanoseconds(1), absl::Hours(24));
  if (!d.ok()) return d.status();
  o.scan.duration = d->value_or(absl::ZeroDuration());
  if (!v1::ScanType_IsValid(r.scan_type())) {
    return unknownEnum("scan_type", r.scan_type(),
                                     "SCAN_TYPE_ACTIVE, SCAN_TYPE_PASSIVE");
  }
  auto batch = duration(r.has_batch_interval(), r.batch_interval(), "batch_interval",
                        absl::Nanoseconds(1), absl::Seconds(10));
  if (!batch.ok()) return batch.status();
  o.batchInterval = batch->value_or(absl::ZeroDuration());
  if (r.max_batch_size() != 0) {
    if (r.max_batch_size() > 1000) {
      return err::invalidField("max_batch_size",
                               absl::StrCat(r.max_batch_size(), " is out of range 1..1000"));
    }
    o.maxBatchSize = r.max_batch_size();
  }
  if (r.queue_size() != 0) {
    if (r.queue_size() < 16 || r.queue_size() > 65536) {
      return err::invalidField("queue_size",
                               absl::StrCat(r.queue_size(), " is out of range 16..65536"));
    }
    o.queueSize = r.queue_size();
  }
  o.scan.includeKnown = r.include_known();
  // What BlueZ's D-Bus API cannot do is refused, not ignored (scan.proto).
  if (r.has_interval()) {
    return backendLimitation("interval",
                             "BlueZ's D-Bus API has no per-scan interval (it is global, "
                             "main.conf); leave it unset");
  }
  if (r.has_window()) {
    return backendLimitation("window",
                             "BlueZ's D-Bus API has no per-scan window (it is global, main.conf); "
                             "leave it unset");
  }
  if (r.scan_type() == v1::SCAN_TYPE_PASSIVE) {
    return backendLimitation("scan_type",
                             "passive scanning needs BlueZ's experimental AdvertisementMonitor "
                             "API, which this backend does not offer; use SCAN_TYPE_ACTIVE");
  }
  return o;
}

absl::StatusOr<ConnectOptions> connectRequest(const v1::ConnectRequest& r) {
  ConnectOptions o;
  auto address = requiredAddress(r.address(), "address");
  if (!address.ok()) return address.status();
  o.address = *address;
  switch (r.address_type()) {
    case v1::ADDRESS_TYPE_UNSPECIFIED: break;
    case v1::ADDRESS_TYPE_PUBLIC: o.addressType = AddressType::kPublic; break;
    case v1::ADDRESS_TYPE_RANDOM: o.addressType = AddressType::kRandom; break;
    default:
      return unknownEnum("address_type", r.address_type(),
                                          "ADDRESS_TYPE_PUBLIC, ADDRESS_TYPE_RANDOM");
  }
  auto adapter = adapterName(r.adapter(), "adapter", true);
  if (!adapter.ok()) return adapter.status();
  o.adapter = *adapter;
  auto timeout = duration(r.has_timeout(), r.timeout(), "timeout", absl::Seconds(1), absl::Minutes(5));
  if (!timeout.ok()) return timeout.status();
  o.timeout = timeout->value_or(absl::Seconds(10));
  if (r.labels_size() > 16) {
    return err::invalidField("labels", absl::StrCat(r.labels_size(), " labels; at most 16"));
  }
  for (const auto& [k, v] : r.labels()) {
    if (k.empty() || k.size() > 63) {
      return err::invalidField(absl::StrCat("labels[\"", k.substr(0, 64), "\"]"),
                               "label keys are 1..63 bytes");
    }
    if (v.empty() || v.size() > 63) {
      return err::invalidField(absl::StrCat("labels[\"", k, "\"]"), "label values are 1..63 bytes");
    }
    o.labels[k] = v;
  }
  o.waitForSlot = r.wait_for_slot();
  if (r.has_priority()) {
    if (r.priority() < -100 || r.priority() > 100) {
      return err::invalidField("priority", absl::StrCat(r.priority(), " is out of range -100..100"));
    }
    o.priority = r.priority();
  }
  auto idle = duration(r.has_idle_timeout(), r.idle_timeout(), "idle_timeout", absl::Seconds(1),
                       absl::Hours(24));
  if (!idle.ok()) return idle.status();
  o.idleTimeout = idle->value_or(absl::Seconds(60));
  o.noWait = r.no_wait();
  if (r.has_min_connection_interval() || r.has_max_connection_interval()) {
    return backendLimitation(
        r.has_min_connection_interval() ? "min_connection_interval" : "max_connection_interval",
        "BlueZ sets connection intervals globally (main.conf), not per connection; leave it unset");
  }
  o.persistent = r.persistent();
  if (!r.policy().empty() && r.policy().size() > 63) {
    return err::invalidField("policy", "policy names are 1..63 characters");
  }
  o.policy = r.policy();
  return o;
}

bool SessionFilter::matches(const SessionInfo& s) const {
  if (!states.empty() && std::find(states.begin(), states.end(), s.state) == states.end()) {
    return false;
  }
  for (const auto& [k, v] : labels) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  if (!adapter.empty() && s.adapter != adapter) return false;
  if (persistent && *persistent != s.persistent) return false;
  if (!policy.empty() && s.policy != policy) return false;
  return true;
}

absl::StatusOr<SessionFilter> sessionFilter(const v1::SessionFilter& f, absl::string_view field) {
  SessionFilter out;
  for (int i = 0; i < f.states_size(); ++i) {
    const int state = f.states(i);
    if (state == v1::SESSION_STATE_UNSPECIFIED || !v1::SessionState_IsValid(state)) {
      return err::invalidField(at(dot(field, "states"), static_cast<std::size_t>(i)),
                               absl::StrCat("unknown value ", state,
                                            "; expected a SessionState such as "
                                            "SESSION_STATE_CONNECTED"));
    }
    static constexpr SessionState kStates[] = {
        SessionState::kQueued,       SessionState::kQueued,    SessionState::kConnecting,
        SessionState::kResolvingServices, SessionState::kConnected, SessionState::kDisconnected,
        SessionState::kBackingOff,   SessionState::kGaveUp,    SessionState::kWaitingForAdapter,
        SessionState::kRemoved};
    out.states.push_back(kStates[state]);
  }
  for (const auto& [k, v] : f.labels()) out.labels[k] = v;
  auto adapter = adapterName(f.adapter(), dot(field, "adapter"), true);
  if (!adapter.ok()) return adapter.status();
  out.adapter = *adapter;
  if (f.has_persistent()) out.persistent = f.persistent();
  out.policy = f.policy();
  return out;
}

absl::StatusOr<ReadOptions> readRequest(const v1::ReadRequest& r) {
  ReadOptions o;
  auto address = requiredAddress(r.address(), "address");
  if (!address.ok()) return address.status();
  o.address = *address;
  auto attribute = attributeRef(r.attribute(), "attribute");
  if (!attribute.ok()) return attribute.status();
  o.attribute = std::move(*attribute);
  auto off = offset(r.offset(), "offset");
  if (!off.ok()) return off.status();
  o.offset = *off;
  auto timeout = gattTimeout(r.has_timeout(), r.timeout(), "timeout");
  if (!timeout.ok()) return timeout.status();
  o.timeout = *timeout;
  return o;
}

absl::StatusOr<WriteOptions> writeRequest(const v1::WriteRequest& r) {
  WriteOptions o;
  auto address = requiredAddress(r.address(), "address");
  if (!address.ok()) return address.status();
  o.address = *address;
  auto attribute = attributeRef(r.attribute(), "attribute");
  if (!attribute.ok()) return attribute.status();
  o.attribute = std::move(*attribute);
  auto bytes = value(r.value(), "value");
  if (!bytes.ok()) return bytes.status();
  o.value = std::move(*bytes);
  auto mode = writeMode(r.mode(), "mode");
  if (!mode.ok()) return mode.status();
  o.mode = *mode;
  auto off = offset(r.offset(), "offset");
  if (!off.ok()) return off.status();
  o.offset = *off;
  auto timeout = gattTimeout(r.has_timeout(), r.timeout(), "timeout");
  if (!timeout.ok()) return timeout.status();
  o.timeout = *timeout;
  return o;
}

absl::StatusOr<SubscribeStreamOptions> subscribeRequest(const v1::SubscribeRequest& r) {
  SubscribeStreamOptions o;
  auto address = requiredAddress(r.address(), "address");
  if (!address.ok()) return address.status();
  o.subscribe.address = *address;
  auto characteristic = characteristicRef(r.characteristic(), "characteristic");
  if (!characteristic.ok()) return characteristic.status();
  o.subscribe.characteristic = std::move(*characteristic);
  auto mode = subscribeMode(r.mode(), "mode");
  if (!mode.ok()) return mode.status();
  o.subscribe.mode = *mode;
  o.subscribe.acquire = r.acquire();
  if (r.queue_size() != 0) {
    if (r.queue_size() < 16 || r.queue_size() > 65536) {
      return err::invalidField("queue_size",
                               absl::StrCat(r.queue_size(), " is out of range 16..65536"));
    }
    o.queueSize = r.queue_size();
  }
  auto batch = duration(r.has_batch_interval(), r.batch_interval(), "batch_interval",
                        absl::Nanoseconds(1), absl::Seconds(10));
  if (!batch.ok()) return batch.status();
  o.batchInterval = batch->value_or(absl::ZeroDuration());
  return o;
}

absl::StatusOr<DiscoverOptions> discoverRequest(const v1::DiscoverRequest& r) {
  DiscoverOptions o;
  auto address = requiredAddress(r.address(), "address");
  if (!address.ok()) return address.status();
  o.address = *address;
  auto service = optionalUuid(r.service_uuid(), "service_uuid");
  if (!service.ok()) return service.status();
  auto characteristic = optionalUuid(r.characteristic_uuid(), "characteristic_uuid");
  if (!characteristic.ok()) return characteristic.status();
  o.service = *service;
  o.characteristic = *characteristic;
  return o;
}

absl::StatusOr<BatchOptions> executeRequest(const v1::ExecuteRequest& r) {
  BatchOptions o;
  auto address = requiredAddress(r.address(), "address");
  if (!address.ok()) return address.status();
  o.address = *address;
  if (r.operations().empty()) {
    return err::invalidField("operations", "an empty batch; give 1 to 64 operations");
  }
  if (auto s = limitCount(static_cast<std::size_t>(r.operations_size()), BatchExecutor::kMaxSteps,
                          "operations");
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < r.operations_size(); ++i) {
    const v1::GattOperation& op = r.operations(i);
    const std::string f = at("operations", static_cast<std::size_t>(i));
    switch (op.operation_case()) {
      case v1::GattOperation::kDiscover: {
        auto service = optionalUuid(op.discover().service_uuid(), dot(f, "discover.service_uuid"));
        if (!service.ok()) return service.status();
        auto characteristic = optionalUuid(op.discover().characteristic_uuid(),
                                           dot(f, "discover.characteristic_uuid"));
        if (!characteristic.ok()) return characteristic.status();
        o.steps.push_back(DiscoverStep{*service, *characteristic});
        break;
      }
      case v1::GattOperation::kRead: {
        auto attribute = attributeRef(op.read().attribute(), dot(f, "read.attribute"));
        if (!attribute.ok()) return attribute.status();
        auto off = offset(op.read().offset(), dot(f, "read.offset"));
        if (!off.ok()) return off.status();
        o.steps.push_back(ReadStep{std::move(*attribute), *off});
        break;
      }
      case v1::GattOperation::kWrite: {
        auto attribute = attributeRef(op.write().attribute(), dot(f, "write.attribute"));
        if (!attribute.ok()) return attribute.status();
        auto bytes = value(op.write().value(), dot(f, "write.value"));
        if (!bytes.ok()) return bytes.status();
        auto mode = writeMode(op.write().mode(), dot(f, "write.mode"));
        if (!mode.ok()) return mode.status();
        auto off = offset(op.write().offset(), dot(f, "write.offset"));
        if (!off.ok()) return off.status();
        o.steps.push_back(WriteStep{std::move(*attribute), std::move(*bytes), *mode, *off});
        break;
      }
      case v1::GattOperation::kWaitNotifications: {
        const auto& w = op.wait_notifications();
        auto characteristic =
            characteristicRef(w.characteristic(), dot(f, "wait_notifications.characteristic"));
        if (!characteristic.ok()) return characteristic.status();
        auto mode = subscribeMode(w.mode(), dot(f, "wait_notifications.mode"));
        if (!mode.ok()) return mode.status();
        if (w.count() < 1 || w.count() > 1000) {
          return err::invalidField(dot(f, "wait_notifications.count"),
                                   absl::StrCat(w.count(), " is out of range 1..1000"));
        }
        o.steps.push_back(WaitNotificationsStep{std::move(*characteristic), *mode, w.count()});
        break;
      }
      case v1::GattOperation::kWait: {
        auto d = duration(op.wait().has_duration(), op.wait().duration(),
                          dot(f, "wait.duration"), absl::Nanoseconds(1), absl::Minutes(10));
        if (!d.ok()) return d.status();
        o.steps.push_back(WaitStep{d->value_or(absl::ZeroDuration())});
        break;
      }
      case v1::GattOperation::OPERATION_NOT_SET:
        return err::invalidField(f, "no operation; set one of discover, read, write, "
                                    "wait_notifications, wait");
    }
  }
  auto budget = duration(r.has_budget(), r.budget(), "budget", absl::Nanoseconds(1), absl::Minutes(10));
  if (!budget.ok()) return budget.status();
  o.budget = *budget;
  o.stopOnError = r.stop_on_error();
  return o;
}

}  // namespace gattway::server
