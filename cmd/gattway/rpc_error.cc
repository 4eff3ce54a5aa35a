#include "cmd/gattway/rpc_error.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace gattway::cli {

std::string codeName(grpc::StatusCode code) {
  // grpc::StatusCode and absl::StatusCode share the numbering of google.rpc.Code.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

RpcError describe(const grpc::Status& status) {
  RpcError e;
  e.code = codeName(status.error_code());
  e.message = status.error_message();
  google::rpc::Status rich;
  if (!status.error_details().empty() && rich.ParseFromString(status.error_details())) {
    for (const auto& detail : rich.details()) {
      google::rpc::ErrorInfo info;
      if (detail.UnpackTo(&info)) {
        e.reason = info.reason();
        for (const auto& [k, v] : info.metadata()) e.metadata[k] = v;
        break;
      }
    }
  }
  return e;
}

std::string formatText(const RpcError& e) {
  std::string out = absl::StrCat("error: ", e.code, ": ", e.message, "\n");
  if (!e.reason.empty()) absl::StrAppend(&out, "  reason: ", e.reason, "\n");
  auto meta = e.metadata;
  if (auto it = meta.find("att_error"); it != meta.end()) {
    absl::StrAppend(&out, "  att error: ", it->second);
    if (auto name = meta.find("att_error_name"); name != meta.end()) {
      absl::StrAppend(&out, " (", name->second, ")");
      meta.erase(name);
    }
    out += "\n";
    meta.erase("att_error");
  }
  if (auto it = meta.find("bluez_error"); it != meta.end()) {
    absl::StrAppend(&out, "  bluez error: ", it->second);
    if (auto msg = meta.find("bluez_message"); msg != meta.end()) {
      absl::StrAppend(&out, ": ", msg->second);
      meta.erase(msg);
    }
    out += "\n";
    meta.erase("bluez_error");
  }
  for (const auto& [k, v] : meta) absl::StrAppend(&out, "  ", k, ": ", v, "\n");
  return out;
}

std::string formatJson(const RpcError& e) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  f["code"].set_string_value(e.code);
  f["message"].set_string_value(e.message);
  if (!e.reason.empty()) f["reason"].set_string_value(e.reason);
  if (!e.metadata.empty()) {
    auto& m = *f["metadata"].mutable_struct_value()->mutable_fields();
    for (const auto& [k, v] : e.metadata) m[k].set_string_value(v);
  }
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out;
}

}  // namespace gattway::cli
