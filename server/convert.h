// Domain (ble/central) → gattway.v1 messages. One place for every translation, so that a field
// means the same in every RPC that carries it. Pure functions; any thread.
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ble/central/batch_executor.h"
#include "ble/central/central.h"
#include "ble/central/scan_record.h"
#include "ble/central/session.h"
#include "gattway/v1/adapter.pb.h"
#include "gattway/v1/gatt.pb.h"
#include "gattway/v1/scan.pb.h"
#include "gattway/v1/session.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace gattway::server {

void setTimestamp(absl::Time t, google::protobuf::Timestamp* out);
void setDuration(absl::Duration d, google::protobuf::Duration* out);

v1::AddressType toProto(AddressType type);
v1::SessionState toProto(SessionState state);
v1::SessionReason toProto(SessionReason reason);
v1::WriteMode toProto(WriteMode mode);
v1::SubscribeMode toProto(SubscribeMode mode);

void toProto(const AttributeQuery& query, v1::AttributeRef* out);
void toProto(const PolicySubscription& subscription, v1::PolicySubscription* out);

void toProto(const AdapterView& adapter, v1::Adapter* out);
void toProto(const ScanRecord& record, v1::ScanResult* out);
void toProto(const SessionInfo& session, v1::Session* out);
void toProto(const GattServiceInfo& service, v1::RemoteService* out);
void toProto(const std::vector<GattServiceInfo>& services, v1::DiscoverResponse* out);
// A step's or an error's status, with the ATT code and BlueZ error from its ErrorInfo metadata.
void toProto(const absl::Status& status, v1::OperationStatus* out);
void toProto(StepResult result, v1::ExecuteResponse* out);

}  // namespace gattway::server
