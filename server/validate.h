// gattway.v1 requests → domain options, checking every field against the limits the proto
// comments state. A bad field is INVALID_ARGUMENT naming it the way the caller wrote it
// ("filter.service_uuids[2]", "operations[3].read.attribute.handle") with the expected form;
// what BlueZ cannot honour is FAILED_PRECONDITION (BACKEND_LIMITATION), never ignored. Pure
// functions; any thread (gRPC threads validate before anything reaches the loop).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ble/central/attribute_resolver.h"
#include "ble/central/batch_executor.h"
#include "ble/central/scan_hub.h"
#include "ble/central/session.h"
#include "ble/central/subscription_hub.h"
#include "gattway/v1/adapter.pb.h"
#include "gattway/v1/gatt.pb.h"
#include "gattway/v1/scan.pb.h"
#include "gattway/v1/session.pb.h"

namespace gattway::server {

// A Duration within min..max, or nullopt when unset or zero (the documented default).
absl::StatusOr<std::optional<absl::Duration>> durationField(bool present,
                                                            const google::protobuf::Duration& d,
                                                            absl::string_view field,
                                                            absl::Duration min, absl::Duration max);

// "hci0", "hci1", ...; empty only when `optional`.
absl::StatusOr<std::string> adapterName(const std::string& name, absl::string_view field,
                                        bool optional);
absl::StatusOr<Address> requiredAddress(const std::string& text, absl::string_view field);
absl::StatusOr<AttributeQuery> attributeRef(const v1::AttributeRef& ref, absl::string_view field);
// A SubscribeMode enum value; UNSPECIFIED is AUTO.
absl::StatusOr<SubscribeMode> subscribeMode(int mode, absl::string_view field);
absl::StatusOr<ScanFilter> scanFilter(const v1::ScanFilter& filter, absl::string_view field);

// A Scan stream: what the hub needs and how the stream sends.
struct ScanStreamOptions {
  ScanOptions scan;
  absl::Duration batchInterval = absl::ZeroDuration();
  std::size_t maxBatchSize = 100;
  std::size_t queueSize = 4096;
};
absl::StatusOr<ScanStreamOptions> scanRequest(const v1::ScanRequest& request);

absl::StatusOr<ConnectOptions> connectRequest(const v1::ConnectRequest& request);

// Selects sessions (ListSessions, WatchSessions).
struct SessionFilter {
  std::vector<SessionState> states;
  std::map<std::string, std::string> labels;
  std::string adapter;
  std::optional<bool> persistent;
  std::string policy;

  bool matches(const SessionInfo& session) const;
};
absl::StatusOr<SessionFilter> sessionFilter(const v1::SessionFilter& filter,
                                            absl::string_view field);

struct ReadOptions {
  Address address;
  AttributeQuery attribute;
  std::uint16_t offset = 0;
  absl::Duration timeout;
};
absl::StatusOr<ReadOptions> readRequest(const v1::ReadRequest& request);

struct WriteOptions {
  Address address;
  AttributeQuery attribute;
  std::vector<std::uint8_t> value;
  WriteMode mode = WriteMode::kAuto;
  std::uint16_t offset = 0;
  absl::Duration timeout;
};
absl::StatusOr<WriteOptions> writeRequest(const v1::WriteRequest& request);

struct SubscribeStreamOptions {
  SubscribeOptions subscribe;
  std::size_t queueSize = 1024;
  absl::Duration batchInterval = absl::ZeroDuration();
};
absl::StatusOr<SubscribeStreamOptions> subscribeRequest(const v1::SubscribeRequest& request);

struct DiscoverOptions {
  Address address;
  std::optional<Uuid> service;
  std::optional<Uuid> characteristic;
};
absl::StatusOr<DiscoverOptions> discoverRequest(const v1::DiscoverRequest& request);

absl::StatusOr<BatchOptions> executeRequest(const v1::ExecuteRequest& request);

}  // namespace gattway::server
