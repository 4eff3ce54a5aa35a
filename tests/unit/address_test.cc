#include "ble/address.h"

#include "ble/error.h"
#include "gtest/gtest.h"

namespace gattway {
namespace {

TEST(AnAddress, ParsesEitherCaseAndPrintsUpperCase) {
  auto a = Address::parse("aa:Bb:0c:DD:ee:0F");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->toString(), "AA:BB:0C:DD:EE:0F");
  EXPECT_EQ(a->bytes()[0], 0xAA);
  EXPECT_EQ(a->bytes()[5], 0x0F);
}

TEST(AnAddress, RoundTripsThroughBluezPathComponents) {
  auto a = Address::parse("C0:FF:EE:00:00:01");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->bluezPathComponent(), "dev_C0_FF_EE_00_00_01");
  auto b = Address::fromBluezPathComponent("dev_C0_FF_EE_00_00_01");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(Address::fromBluezPathComponent("dev_C0_FF_EE_00_00").ok());
  EXPECT_FALSE(Address::fromBluezPathComponent("dev_C0:FF:EE:00:00:01").ok());
}

TEST(AnAddress, RejectsMalformedTextNamingTheField) {
  for (const char* bad : {"", "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:FF:00", "AA-BB-CC-DD-EE-FF",
                          "GG:BB:CC:DD:EE:FF", "AABBCCDDEEFF", " AA:BB:CC:DD:EE:FF"}) {
    auto a = Address::parse(bad, "filter.addresses[3]");
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(err::metadata(a.status(), err::kMetaField), "filter.addresses[3]");
    EXPECT_NE(a.status().message().find("AA:BB:CC:DD:EE:FF"), absl::string_view::npos)
        << "the message shows the expected form";
  }
}

TEST(AnAddress, OrdersByBytes) {
  EXPECT_LT(*Address::parse("00:00:00:00:00:01"), *Address::parse("00:00:00:00:01:00"));
}

TEST(AnAddressType, UsesBluezNames) {
  EXPECT_EQ(addressTypeName(AddressType::kRandom), "random");
  EXPECT_EQ(*parseAddressType("public"), AddressType::kPublic);
  EXPECT_FALSE(parseAddressType("static").ok());
}

}  // namespace
}  // namespace gattway
