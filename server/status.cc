#include "server/status.h"

#include "ble/error.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace gattway::server {

grpc::Status toGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::ErrorInfo info;
  info.set_domain(std::string(kErrorDomain));
  if (auto reason = err::reasonOf(status)) info.set_reason(std::string(err::reasonName(*reason)));
  err::forEachMetadata(status, [&](absl::string_view key, absl::string_view value) {
    (*info.mutable_metadata())[std::string(key)] = std::string(value);
  });
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(std::string(status.message()));
  rich.add_details()->PackFrom(info);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      rich.SerializeAsString());
}

}  // namespace gattway::server
