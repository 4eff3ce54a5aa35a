#include "server/status.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace gattway::server {
namespace {

// Messages and metadata echo what the caller sent (a field's value, a name). gRPC carries them in
// trailers, which clients cap (8 KiB by default): an echo of a huge value would turn the answer
// into the client's own RESOURCE_EXHAUSTED, hiding the real error. Long texts are cut, at a UTF-8
// character boundary, and say so.
constexpr std::size_t kMaxMessageBytes = 1024;
constexpr std::size_t kMaxMetadataValueBytes = 256;

std::string clipped(absl::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), "... (", text.size() - cut, " more bytes)");
}

}  // namespace

grpc::Status toGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::ErrorInfo info;
  info.set_domain(std::string(kErrorDomain));
  if (auto reason = err::reasonOf(status)) info.set_reason(std::string(err::reasonName(*reason)));
  err::forEachMetadata(status, [&](absl::string_view key, absl::string_view value) {
    (*info.mutable_metadata())[clipped(key, kMaxMetadataValueBytes)] =
        clipped(value, kMaxMetadataValueBytes);
  });
  const std::string message = clipped(status.message(), kMaxMessageBytes);
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(message);
  rich.add_details()->PackFrom(info);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message,
                      rich.SerializeAsString());
}

}  // namespace gattway::server
