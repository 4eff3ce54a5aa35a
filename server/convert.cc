#include "server/convert.h"

#include <charconv>

#include "absl/strings/match.h"
#include "ble/error.h"

namespace gattway::server {

void setTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<std::int32_t>(ts.tv_nsec));
}

void setDuration(absl::Duration d, google::protobuf::Duration* out) {
  const timespec ts = absl::ToTimespec(d);
  // A negative duration's nanos carry its sign (duration.proto); timespec keeps them positive.
  std::int64_t seconds = ts.tv_sec;
  std::int64_t nanos = ts.tv_nsec;
  if (seconds < 0 && nanos > 0) {
    seconds += 1;
    nanos -= 1'000'000'000;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<std::int32_t>(nanos));
}

v1::AddressType toProto(AddressType type) {
  return type == AddressType::kRandom ? v1::ADDRESS_TYPE_RANDOM : v1::ADDRESS_TYPE_PUBLIC;
}

v1::SessionState toProto(SessionState state) {
  switch (state) {
    case SessionState::kQueued: return v1::SESSION_STATE_QUEUED;
    case SessionState::kConnecting: return v1::SESSION_STATE_CONNECTING;
    case SessionState::kResolvingServices: return v1::SESSION_STATE_RESOLVING_SERVICES;
    case SessionState::kConnected: return v1::SESSION_STATE_CONNECTED;
    case SessionState::kDisconnected: return v1::SESSION_STATE_DISCONNECTED;
    case SessionState::kBackingOff: return v1::SESSION_STATE_BACKING_OFF;
    case SessionState::kGaveUp: return v1::SESSION_STATE_GAVE_UP;
    case SessionState::kWaitingForAdapter: return v1::SESSION_STATE_WAITING_FOR_ADAPTER;
    case SessionState::kRemoved: return v1::SESSION_STATE_REMOVED;
  }
  return v1::SESSION_STATE_UNSPECIFIED;
}

v1::SessionReason toProto(SessionReason reason) {
  switch (reason) {
    case SessionReason::kUnspecified: return v1::SESSION_REASON_UNSPECIFIED;
    case SessionReason::kRequested: return v1::SESSION_REASON_REQUESTED;
    case SessionReason::kRestored: return v1::SESSION_REASON_RESTORED;
    case SessionReason::kAutoConnect: return v1::SESSION_REASON_AUTO_CONNECT;
    case SessionReason::kProgress: return v1::SESSION_REASON_PROGRESS;
    case SessionReason::kLinkLost: return v1::SESSION_REASON_LINK_LOST;
    case SessionReason::kConnectFailed: return v1::SESSION_REASON_CONNECT_FAILED;
    case SessionReason::kConnectTimeout: return v1::SESSION_REASON_CONNECT_TIMEOUT;
    case SessionReason::kAdapterOff: return v1::SESSION_REASON_ADAPTER_OFF;
    case SessionReason::kBluezDown: return v1::SESSION_REASON_BLUEZ_DOWN;
    case SessionReason::kLeaseExpired: return v1::SESSION_REASON_LEASE_EXPIRED;
    case SessionReason::kMaxAttempts: return v1::SESSION_REASON_MAX_ATTEMPTS;
    case SessionReason::kPolicyChanged: return v1::SESSION_REASON_POLICY_CHANGED;
    case SessionReason::kShutdown: return v1::SESSION_REASON_SHUTDOWN;
    case SessionReason::kWatchdog: return v1::SESSION_REASON_WATCHDOG;
  }
  return v1::SESSION_REASON_UNSPECIFIED;
}

v1::WriteMode toProto(WriteMode mode) {
  switch (mode) {
    case WriteMode::kAuto: return v1::WRITE_MODE_AUTO;
    case WriteMode::kWithResponse: return v1::WRITE_MODE_WITH_RESPONSE;
    case WriteMode::kWithoutResponse: return v1::WRITE_MODE_WITHOUT_RESPONSE;
    case WriteMode::kReliable: return v1::WRITE_MODE_RELIABLE;
  }
  return v1::WRITE_MODE_UNSPECIFIED;
}

v1::SubscribeMode toProto(SubscribeMode mode) {
  switch (mode) {
    case SubscribeMode::kAuto: return v1::SUBSCRIBE_MODE_AUTO;
    case SubscribeMode::kNotify: return v1::SUBSCRIBE_MODE_NOTIFY;
    case SubscribeMode::kIndicate: return v1::SUBSCRIBE_MODE_INDICATE;
  }
  return v1::SUBSCRIBE_MODE_AUTO;
}

void toProto(const AttributeQuery& q, v1::AttributeRef* out) {
  if (q.service) out->set_service_uuid(q.service->toString());
  if (q.characteristic) out->set_characteristic_uuid(q.characteristic->toString());
  if (q.descriptor) out->set_descriptor_uuid(q.descriptor->toString());
  out->set_instance(q.instance);
  out->set_handle(q.handle);
}

void toProto(const PolicySubscription& s, v1::PolicySubscription* out) {
  toProto(s.characteristic, out->mutable_characteristic());
  out->set_mode(toProto(s.mode));
}

void toProto(const AdapterView& v, v1::Adapter* out) {
  const AdapterInfo& a = v.info;
  out->set_name(a.name);
  out->set_address(a.address.toString());
  out->set_address_type(toProto(a.addressType));
  out->set_alias(a.alias);
  out->set_powered(a.powered);
  out->set_discovering(a.discovering);
  out->set_discovering_for_gateway(v.discoveringForGateway);
  out->set_connection_slots_in_use(v.slotsInUse);
  out->set_connection_slot_limit(v.slotLimit);
  out->set_advertising_instances_active(a.advertisingInstancesActive);
  out->set_advertising_instances_supported(a.advertisingInstancesSupported);
  for (const Uuid& u : a.uuids) out->add_uuids(u.toString());
  out->set_hosts_gatt_database(false);  // the hosted peripheral is another issue
}

void toProto(const ScanRecord& r, v1::ScanResult* out) {
  const AdvertisementData& d = r.data();
  out->set_address(r.address.toString());
  out->set_address_type(toProto(r.addressType));
  out->set_adapter(r.adapter);
  if (r.rssi) out->set_rssi(*r.rssi);
  out->set_name(d.name);
  for (const Uuid& u : d.serviceUuids) out->add_service_uuids(u.toString());
  for (const auto& [id, bytes] : d.manufacturerData) {
    auto* m = out->add_manufacturer_data();
    m->set_company_id(id);
    m->set_data(bytes.data(), bytes.size());
  }
  for (const auto& [u, bytes] : d.serviceData) {
    auto* s = out->add_service_data();
    s->set_uuid(u.toString());
    s->set_data(bytes.data(), bytes.size());
  }
  if (d.txPower) out->set_tx_power(*d.txPower);
  out->set_appearance(d.appearance.value_or(0));
  if (d.flags) out->set_flags(*d.flags);
  if (r.connectable) out->set_connectable(*r.connectable);
  for (const auto& [type, bytes] : d.adStructures) {
    auto* ad = out->add_ad_structures();
    ad->set_type(type);
    ad->set_data(bytes.data(), bytes.size());
  }
  if (r.firstSeen != absl::InfinitePast()) setTimestamp(r.firstSeen, out->mutable_first_seen());
  if (r.lastSeen != absl::InfinitePast()) setTimestamp(r.lastSeen, out->mutable_last_seen());
  out->set_connected(r.connected);
}

void toProto(const SessionInfo& s, v1::Session* out) {
  out->set_address(s.address.toString());
  out->set_address_type(toProto(s.addressType));
  out->set_adapter(s.adapter);
  out->set_state(toProto(s.state));
  out->set_persistent(s.persistent);
  for (const auto& [k, v] : s.labels) (*out->mutable_labels())[k] = v;
  out->set_priority(s.priority);
  out->set_mtu(s.mtu);
  setTimestamp(s.createTime, out->mutable_create_time());
  if (s.connectTime) setTimestamp(*s.connectTime, out->mutable_connect_time());
  setTimestamp(s.stateTime, out->mutable_state_time());
  out->set_reason(toProto(s.reason));
  out->set_detail(s.detail);
  out->set_failed_attempts(s.failedAttempts);
  out->set_connects(s.connects);
  if (s.leaseExpireTime) setTimestamp(*s.leaseExpireTime, out->mutable_lease_expire_time());
  out->set_name(s.name);
  out->set_policy(s.policy);
  if (s.nextAttemptTime) setTimestamp(*s.nextAttemptTime, out->mutable_next_attempt_time());
  for (const KeptSubscriptionInfo& k : s.subscriptions) {
    auto* o = out->add_subscriptions();
    toProto(k.subscription.characteristic, o->mutable_characteristic());
    o->set_mode(toProto(k.subscription.mode));
    o->set_active(k.active);
    o->set_detail(k.detail);
  }
}

void toProto(const GattServiceInfo& s, v1::RemoteService* out) {
  out->set_uuid(s.uuid.toString());
  out->set_handle(s.handle);
  out->set_primary(s.primary);
  for (const auto& c : s.characteristics) {
    auto* rc = out->add_characteristics();
    rc->set_uuid(c.uuid.toString());
    rc->set_handle(c.handle);
    rc->set_properties(c.properties);
    for (const auto& f : c.flags) rc->add_flags(f);
    rc->set_notifying(c.notifying);
    for (const auto& d : c.descriptors) {
      auto* rd = rc->add_descriptors();
      rd->set_uuid(d.uuid.toString());
      rd->set_handle(d.handle);
    }
  }
}

void toProto(const std::vector<GattServiceInfo>& services, v1::DiscoverResponse* out) {
  for (const auto& s : services) toProto(s, out->add_services());
}

void toProto(const absl::Status& status, v1::OperationStatus* out) {
  out->set_code(static_cast<std::int32_t>(status.code()));
  out->set_message(std::string(status.message()));
  if (auto att = err::metadata(status, err::kMetaAttError)) {
    unsigned value = 0;
    absl::string_view hex = *att;
    if (absl::StartsWith(hex, "0x")) hex.remove_prefix(2);
    std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
    out->set_att_error(value);
  }
  if (auto bluez = err::metadata(status, err::kMetaBluezError)) out->set_bluez_error(*bluez);
}

void toProto(StepResult r, v1::ExecuteResponse* out) {
  out->set_index(r.index);
  toProto(r.status, out->mutable_status());
  setDuration(r.elapsed, out->mutable_elapsed());
  if (!r.status.ok()) return;
  std::visit(
      [&](auto& result) {
        using T = std::decay_t<decltype(result)>;
        if constexpr (std::is_same_v<T, std::vector<GattServiceInfo>>) {
          toProto(result, out->mutable_discover());
        } else if constexpr (std::is_same_v<T, ReadResult>) {
          out->mutable_read()->set_value(result.value.data(), result.value.size());
          out->mutable_read()->set_handle(result.handle);
        } else if constexpr (std::is_same_v<T, WriteResult>) {
          out->mutable_write()->set_mode(toProto(result.mode));
          out->mutable_write()->set_handle(result.handle);
        } else if constexpr (std::is_same_v<T, std::vector<NotificationValue>>) {
          auto* w = out->mutable_wait_notifications();
          for (const auto& n : result) {
            auto* pn = w->add_notifications();
            pn->set_value(n.value.data(), n.value.size());
            setTimestamp(n.time, pn->mutable_time());
            pn->set_sequence(n.sequence);
          }
        } else if constexpr (std::is_same_v<T, WaitDone>) {
          out->mutable_wait();
        }
      },
      r.result);
}

}  // namespace gattway::server
