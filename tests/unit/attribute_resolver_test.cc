#include "ble/central/attribute_resolver.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "tests/support/fake_central_backend.h"

namespace gattway {
namespace {

using testing::sampleServices;

AttributeQuery byUuid(std::uint32_t c, std::optional<std::uint32_t> s = std::nullopt) {
  AttributeQuery q;
  q.characteristic = Uuid::fromShort(c);
  if (s) q.service = Uuid::fromShort(*s);
  return q;
}

TEST(AnAttributeResolver, FindsAUniqueCharacteristicByUuid) {
  const auto tree = sampleServices();
  auto r = resolveAttribute(tree, byUuid(0x2A38));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->handle, 0x0013);
  EXPECT_FALSE(r->isDescriptor());
}

TEST(AnAttributeResolver, CallsAUuidInTwoServicesAmbiguousAndNamesThem) {
  const auto tree = sampleServices();
  auto r = resolveAttribute(tree, byUuid(0x2A19));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(err::reasonOf(r.status()), err::Reason::kAttributeAmbiguous);
  EXPECT_NE(r.status().message().find("180F"), absl::string_view::npos) << r.status();
  EXPECT_NE(r.status().message().find("FFF0"), absl::string_view::npos) << r.status();
}

TEST(AnAttributeResolver, NarrowsByService) {
  const auto tree = sampleServices();
  auto r = resolveAttribute(tree, byUuid(0x2A19, 0xFFF0));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->handle, 0x0041);
}

TEST(AnAttributeResolver, FindsADescriptorOfACharacteristic) {
  const auto tree = sampleServices();
  auto q = byUuid(0x2A19, 0x180F);
  q.descriptor = Uuid::fromShort(0x2901);
  auto r = resolveAttribute(tree, q);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->isDescriptor());
  EXPECT_EQ(r->handle, 0x0023);
}

TEST(AnAttributeResolver, FindsCharacteristicsAndDescriptorsByHandle) {
  const auto tree = sampleServices();
  AttributeQuery q;
  q.handle = 0x0015;
  auto r = resolveAttribute(tree, q);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->characteristic->uuid, Uuid::fromShort(0x2A39));
  q.handle = 0x0012;
  r = resolveAttribute(tree, q);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->isDescriptor());
}

TEST(AnAttributeResolver, RefusesAHandleThatDisagreesWithTheUuids) {
  const auto tree = sampleServices();
  auto q = byUuid(0x2A38);
  q.handle = 0x0015;
  auto r = resolveAttribute(tree, q, "attribute");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(err::metadata(r.status(), "field"), "attribute");
}

TEST(AnAttributeResolver, AnswersNotFoundForWhatTheDeviceLacks) {
  const auto tree = sampleServices();
  for (const AttributeQuery& q : {byUuid(0x2A00), byUuid(0x2A37, 0x1800), [] {
         AttributeQuery h;
         h.handle = 0x0100;
         return h;
       }()}) {
    auto r = resolveAttribute(tree, q);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
    EXPECT_EQ(err::reasonOf(r.status()), err::Reason::kAttributeNotFound);
  }
}

TEST(AnAttributeResolver, PicksTheNthInstanceWithinTheScope) {
  const auto tree = sampleServices();
  auto q = byUuid(0x2A38);
  q.instance = 1;
  auto r = resolveAttribute(tree, q);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST(TargetedDiscovery, SelectsServicesAndCharacteristicsByUuid) {
  const auto tree = sampleServices();
  EXPECT_EQ(selectServices(tree, std::nullopt, std::nullopt).size(), tree.size());
  auto hr = selectServices(tree, Uuid::fromShort(0x180D), std::nullopt);
  ASSERT_EQ(hr.size(), 1u);
  EXPECT_EQ(hr[0].characteristics.size(), 3u);
  auto battery = selectServices(tree, std::nullopt, Uuid::fromShort(0x2A19));
  ASSERT_EQ(battery.size(), 2u);
  EXPECT_EQ(battery[0].characteristics.size(), 1u);
  EXPECT_TRUE(selectServices(tree, Uuid::fromShort(0x1800), std::nullopt).empty());
}

}  // namespace
}  // namespace gattway
