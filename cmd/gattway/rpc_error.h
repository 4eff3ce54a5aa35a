// A failed call, for people and scripts: the gRPC code's name, the message, and what the gateway's
// google.rpc.ErrorInfo adds (reason, ATT error, BlueZ error, the offending field; see
// proto/gattway/v1/errors.proto).
#pragma once

#include <map>
#include <string>

#include "grpcpp/support/status.h"

namespace gattway::cli {

struct RpcError {
  std::string code;     // "NOT_FOUND"
  std::string message;  // the status message
  std::string reason;   // ErrorInfo.reason, e.g. "ATT_ERROR"; empty when there is no ErrorInfo
  std::map<std::string, std::string> metadata;  // ErrorInfo.metadata, ordered by key
};

// Decodes the status and its grpc-status-details-bin (a google.rpc.Status). Details that do not
// parse are ignored: the code and message are still reported.
RpcError describe(const grpc::Status& status);

// Several lines: "error: NOT_FOUND: no session for ...", then "  reason: ...", "  att error: 0x0e
// (Unlikely Error)", "  bluez error: ...", then the other metadata.
std::string formatText(const RpcError& error);

// One JSON object: {"code": ..., "message": ..., "reason": ..., "metadata": {...}}.
std::string formatJson(const RpcError& error);

// Name of a gRPC status code ("DEADLINE_EXCEEDED").
std::string codeName(grpc::StatusCode code);

}  // namespace gattway::cli
