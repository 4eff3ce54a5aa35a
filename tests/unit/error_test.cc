#include "ble/error.h"

#include "gtest/gtest.h"

namespace gattway::err {
namespace {

TEST(AnError, CarriesItsReasonAndMetadata) {
  auto s = make(Reason::kNoFreeSlot, "hci0 has 7 of 7 slots in use", {{kMetaAdapter, "hci0"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(reasonOf(s), Reason::kNoFreeSlot);
  EXPECT_EQ(metadata(s, kMetaAdapter), "hci0");
  EXPECT_EQ(metadata(s, kMetaField), std::nullopt);
}

TEST(AnError, HasANameForEveryReason) {
  for (Reason r : allReasons()) {
    EXPECT_FALSE(reasonName(r).empty());
    EXPECT_EQ(reasonOf(make(r, "x")), r) << reasonName(r);
  }
}

TEST(AnAttError, MapsByMeaning) {
  EXPECT_EQ(att(0x05, "read").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(att(0x0F, "read").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(att(0x07, "read").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(att(0x0D, "write").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(att(0x02, "read").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(att(0x0E, "read").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(att(0x80, "write").code(), absl::StatusCode::kAborted);
  auto s = att(0x80, "write control point");
  EXPECT_EQ(metadata(s, kMetaAttError), "0x80");
  EXPECT_EQ(metadata(s, kMetaAttErrorName), "Application Error");
  EXPECT_EQ(s.message(), "write control point: ATT error 0x80 (Application Error)");
}

TEST(ABluezError, RecoversTheAttCodeBluezEncodedInIt) {
  auto s = fromBluez("org.bluez.Error.Failed", "Operation failed with ATT error: 0x0e", "read");
  EXPECT_EQ(reasonOf(s), Reason::kAttError);
  EXPECT_EQ(metadata(s, kMetaAttError), "0x0e");
  EXPECT_EQ(metadata(s, kMetaBluezError), "org.bluez.Error.Failed");

  EXPECT_EQ(metadata(fromBluez("org.bluez.Error.NotPermitted", "Read not permitted", "read"),
                     kMetaAttError),
            "0x02");
  EXPECT_EQ(metadata(fromBluez("org.bluez.Error.InvalidArguments", "Invalid offset", "read"),
                     kMetaAttError),
            "0x07");
  EXPECT_EQ(fromBluez("org.bluez.Error.NotAuthorized", "Operation Not Authorized", "read").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(ABluezError, MapsNamesToCodes) {
  EXPECT_EQ(fromBluez("org.bluez.Error.InProgress", "In Progress", "connect").code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(fromBluez("org.bluez.Error.NotReady", "Resource Not Ready", "scan").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fromBluez("org.freedesktop.DBus.Error.ServiceUnknown", "", "list").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(reasonOf(fromBluez("org.freedesktop.DBus.Error.NoReply", "", "read")),
            Reason::kTimeout);
  auto abort = fromBluez("org.bluez.Error.Failed", "le-connection-abort-by-local", "connect");
  EXPECT_EQ(abort.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(metadata(abort, kMetaBluezMessage), "le-connection-abort-by-local");
  EXPECT_EQ(abort.message(), "connect: org.bluez.Error.Failed: le-connection-abort-by-local");
  EXPECT_EQ(reasonOf(fromBluez("org.bluez.Error.Failed", "Operation failed", "read")),
            Reason::kDisconnected);
}

TEST(ABluezError, MapsNotPairedToPermissionDenied) {
  // BlueZ 5.66 reports ATT Insufficient Authentication / Encryption this way (gatt.proto).
  EXPECT_EQ(fromBluez("org.bluez.Error.NotPermitted", "Not paired", "read").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(fromBluez("org.bluez.Error.NotPermitted", "Notify acquired", "notify").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(AnInvalidField, NamesTheField) {
  auto s = invalidField("operations[2].read.offset", "must be at most 511, not 600");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "operations[2].read.offset: must be at most 511, not 600");
  EXPECT_EQ(metadata(s, kMetaField), "operations[2].read.offset");
}

}  // namespace
}  // namespace gattway::err
