#include "server/status.h"

#include "ble/error.h"
#include "gattway/v1/errors.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace gattway::server {
namespace {

google::rpc::ErrorInfo errorInfoOf(const grpc::Status& status) {
  google::rpc::Status rich;
  EXPECT_TRUE(rich.ParseFromString(status.error_details()));
  EXPECT_EQ(rich.code(), static_cast<int>(status.error_code()));
  google::rpc::ErrorInfo info;
  EXPECT_EQ(rich.details_size(), 1);
  if (rich.details_size() == 1) {
    EXPECT_TRUE(rich.details(0).UnpackTo(&info));
  }
  return info;
}

TEST(TheGrpcEdge, KeepsCodeAndMessageAndAttachesErrorInfo) {
  const grpc::Status s = toGrpcStatus(err::att(0x0E, "read 2A37"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(s.error_message(), "read 2A37: ATT error 0x0e (Unlikely Error)");
  const auto info = errorInfoOf(s);
  EXPECT_EQ(info.domain(), "gattway.dev");
  EXPECT_EQ(info.reason(), "ATT_ERROR");
  EXPECT_EQ(info.metadata().at("att_error"), "0x0e");
}

TEST(TheGrpcEdge, PassesOkThrough) { EXPECT_TRUE(toGrpcStatus(absl::OkStatus()).ok()); }

TEST(TheGrpcEdge, GivesPlainStatusesADomainButNoReason) {
  const auto info = errorInfoOf(toGrpcStatus(absl::InternalError("boom")));
  EXPECT_EQ(info.domain(), "gattway.dev");
  EXPECT_TRUE(info.reason().empty());
}

TEST(TheGrpcEdge, CutsEchoesOfHugeInputSoTheAnswerFitsInTrailers) {
  // A 70,000-byte value echoed whole would exceed clients' metadata limit (8 KiB by default) and
  // reach the caller as its own RESOURCE_EXHAUSTED instead of this error.
  const std::string huge(70'000, 'x');
  absl::Status status = err::invalidField("labels", "\u00e9" + huge);
  err::setMetadata(status, "value", huge);
  const grpc::Status s = toGrpcStatus(status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(s.error_message().size(), 1100u);
  EXPECT_NE(s.error_message().find("more bytes)"), std::string::npos);
  EXPECT_EQ(s.error_message().rfind("labels", 0), 0u);  // the start, naming the field, is kept
  const auto info = errorInfoOf(s);
  EXPECT_EQ(info.reason(), "INVALID_FIELD");
  EXPECT_LE(info.metadata().at("value").size(), 300u);
  EXPECT_LT(s.error_details().size(), 4096u);
}

TEST(TheErrorReasons, ExistInTheProtoEnumUnderTheSameNames) {
  const auto* reasons = v1::ErrorReason_descriptor();
  for (err::Reason r : err::allReasons()) {
    const std::string name = "ERROR_REASON_" + std::string(err::reasonName(r));
    EXPECT_NE(reasons->FindValueByName(name), nullptr) << name << " is missing from errors.proto";
  }
  // And every proto reason (but UNSPECIFIED) is one ble/ can produce.
  EXPECT_EQ(static_cast<std::size_t>(reasons->value_count()), err::allReasons().size() + 1);
}

}  // namespace
}  // namespace gattway::server
