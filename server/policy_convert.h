// gattway.v1.Policy and ResolvePolicy ↔ ble/central's ReconnectPolicy. Fields are checked here
// for form (addresses, UUIDs, enums, durations) and by validatePolicy for range, so every error
// names the field as the caller wrote it ("policy.reconnect.max_backoff"). Pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ble/central/reconnect_policy.h"
#include "gattway/v1/session.pb.h"

namespace gattway::server {

// A request's policy → the domain's, output-only fields ignored. `field` prefixes errors.
absl::StatusOr<ReconnectPolicy> policyFromProto(const v1::Policy& policy, absl::string_view field);
void toProto(const ReconnectPolicy& policy, v1::Policy* out);
void toProto(const ReconnectSettings& settings, v1::ReconnectSettings* out);

// The device ResolvePolicy asks about: `known` (what the gateway knows) plus the request's extras.
absl::StatusOr<DeviceFacts> resolveRequest(const v1::ResolvePolicyRequest& request,
                                           DeviceFacts known);
void toProto(const PolicyResolution& resolution, v1::ResolvePolicyResponse* out);

}  // namespace gattway::server
