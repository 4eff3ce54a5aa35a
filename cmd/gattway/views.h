// Small renderings shared by the commands: enum names without their prefix, times, attribute
// references from the command line, and values as hex plus their SIG decoding.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "gattway/v1/common.pb.h"
#include "gattway/v1/session.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace gattway::cli {

// "SESSION_STATE_CONNECTED" with prefix "SESSION_STATE_" → "CONNECTED".
std::string withoutPrefix(const std::string& name, const std::string& prefix);
// "12:34:56.789" (UTC); "" when unset.
std::string clockTime(const google::protobuf::Timestamp& t);
// "2s", "1.5s".
std::string durationText(const google::protobuf::Duration& d);
// A characteristic named on the command line ("2A6E", "0x2a6e", or a 128-bit UUID) with
// --service and, when `allowDescriptor`, --descriptor.
gattway::v1::AttributeRef attributeFromFlags(const std::string& characteristic,
                                             bool allowDescriptor);
// "21.50 °C" or "" when unknown; the UUID is the characteristic's (descriptors are not decoded).
std::string decoded(const gattway::v1::AttributeRef& ref, const std::string& value);
// The columns of a sessions table, and one row of it. KEPT: the session's kept subscriptions
// (its policy's), active of all ("1/2"); empty when its policy keeps none.
std::vector<std::string> sessionColumns();
std::vector<std::string> sessionRow(const gattway::v1::Session& s);

}  // namespace gattway::cli
