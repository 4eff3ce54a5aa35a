// gattway.v1 peripheral messages ↔ the peripheral domain (ble/peripheral). Input is checked here
// field by field (INVALID_ARGUMENT naming the field, as the API promises); the database's
// consistency rules are the domain's (validateDefinition).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/peripheral/definitions.h"
#include "ble/peripheral/hosted_database.h"
#include "gattway/v1/peripheral.pb.h"

namespace gattway::server {

absl::StatusOr<peripheral::DatabaseDefinition> toDefinition(const v1::RegisterServicesRequest& r);
absl::StatusOr<peripheral::AttributeSelector> toSelector(const v1::AttributeRef& ref,
                                                         absl::string_view field);
absl::StatusOr<std::vector<peripheral::AttributeSelector>> toSelectors(
    const google::protobuf::RepeatedPtrField<v1::AttributeRef>& refs, absl::string_view field);
absl::StatusOr<peripheral::AdvertisingRequest> toAdvertising(const v1::StartAdvertisingRequest& r);
// "" or "hciN".
absl::Status checkAdapterName(const std::string& adapter, absl::string_view field);
// An attribute value given by a caller (at most 512 bytes).
absl::Status checkValue(const std::string& value, absl::string_view field);
// Duration fields: unset → `fallback`; negative or outside [min, max] → INVALID_ARGUMENT.
absl::StatusOr<absl::Duration> toDuration(const google::protobuf::Duration* d, absl::string_view field,
                                          absl::Duration fallback, absl::Duration min,
                                          absl::Duration max);
// Answers of HandleReads.
absl::StatusOr<peripheral::ReadAnswer> toReadAnswer(const v1::ReadAnswer& answer);

void toProto(const peripheral::AttributeName& name, v1::AttributeRef* out);
void toProto(absl::Time time, google::protobuf::Timestamp* out);
void toProto(const peripheral::CapturedWrite& write, v1::CapturedWrite* out);
void toProto(const peripheral::ReadRequestEvent& read, v1::ReadRequestEvent* out);
void toProto(const peripheral::PeripheralEvent& event, v1::WatchPeripheralResponse* out);
void toProto(const peripheral::RegisteredDatabase& db, v1::RegisterServicesResponse* out);
void toProto(const peripheral::PeripheralSnapshot& snapshot, v1::GetPeripheralResponse* out);

}  // namespace gattway::server
