#include "ble/uuid.h"

#include "ble/error.h"
#include "gtest/gtest.h"

namespace gattway {
namespace {

TEST(AUuid, AcceptsSigShortForms) {
  for (const char* text : {"180D", "180d", "0x180D", "0X180d", "0000180D",
                           "0000180d-0000-1000-8000-00805f9b34fb"}) {
    auto u = Uuid::parse(text);
    ASSERT_TRUE(u.ok()) << text << ": " << u.status();
    EXPECT_EQ(u->toString(), "180D") << text;
    EXPECT_EQ(u->shortValue(), 0x180Du);
  }
}

TEST(AUuid, PrintsCustomUuidsInLowerCaseLongForm) {
  auto u = Uuid::parse("6E400001-B5A3-F393-E0A9-E50E24DCCA9E");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->toString(), "6e400001-b5a3-f393-e0a9-e50e24dcca9e");
  EXPECT_FALSE(u->shortValue().has_value());
}

TEST(AUuid, PrintsThirtyTwoBitValuesWithEightDigits) {
  EXPECT_EQ(Uuid::fromShort(0x12345678).toString(), "12345678");
  EXPECT_EQ(Uuid::fromShort(0x2A37).toLongString(), "00002a37-0000-1000-8000-00805f9b34fb");
}

TEST(AUuid, RejectsMalformedTextNamingTheField) {
  for (const char* bad : {"", "18", "180", "180DX", "0x", "xyz1", "12345",
                          "6e400001b5a3-f393-e0a9-e50e24dcca9e0",
                          "6e400001-b5a3-f393-e0a9-e50e24dcca9g"}) {
    auto u = Uuid::parse(bad, "service_uuid");
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(err::metadata(u.status(), err::kMetaField), "service_uuid");
  }
}

}  // namespace
}  // namespace gattway
