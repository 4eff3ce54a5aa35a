#include "ble/peripheral/hosted_database.h"

#include "gtest/gtest.h"

namespace gattway::peripheral {
namespace {

using Bytes = std::vector<std::uint8_t>;

Uuid u(const char* text) { return *Uuid::parse(text); }

DatabaseDefinition twoServices() {
  DatabaseDefinition d;
  LocalService env;
  env.uuid = u("181A");
  LocalCharacteristic temp;
  temp.uuid = u("2A6E");
  temp.read = temp.notify = true;
  temp.initialValue = {0x9a, 0x09};
  LocalCharacteristic blob;
  blob.uuid = u("2A6F");
  blob.write = true;
  blob.maxLen = 8;
  blob.append = true;
  LocalDescriptor name;
  name.uuid = u("2901");
  name.read = true;
  name.value = {'t'};
  temp.descriptors.push_back(name);
  env.characteristics = {temp, blob};
  LocalService other;
  other.uuid = u("181B");
  LocalCharacteristic again = temp;
  again.descriptors.clear();
  other.characteristics = {again, again};
  d.services = {env, other};
  return d;
}

TEST(AHostedDatabase, AppendsWritesUntilMaxLenAndRefusesMoreWithoutTruncating) {
  HostedDatabase db(twoServices());
  AttributeSelector sel{u("181A"), u("2A6F"), std::nullopt, 0};
  const AttributeId blob = *db.resolve(sel, "c");
  EXPECT_EQ(db.write(blob, 0, Bytes{1, 2, 3}), 0);
  EXPECT_EQ(db.write(blob, 0, Bytes{4, 5, 6}), 0);
  EXPECT_EQ(db.write(blob, 0, Bytes{7, 8, 9}), 0x0D);  // 9 > 8
  EXPECT_EQ(db.value(blob), (Bytes{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(db.write(blob, 1, Bytes{0xAA, 0xBB}), 0);  // continues the write that started at 3
  EXPECT_EQ(db.value(blob), (Bytes{1, 2, 3, 4, 0xAA, 0xBB}));
  EXPECT_EQ(db.write(blob, 5, Bytes{1}), 0x07);         // past the end of that write
  db.clear(blob);
  EXPECT_TRUE(db.value(blob).empty());
}

TEST(AHostedDatabase, RewritesAPlainValueFromTheOffsetAndReadsFromAnOffset) {
  HostedDatabase db(twoServices());
  const AttributeId temp = *db.resolve({u("181A"), u("2A6E"), std::nullopt, 0}, "c");
  EXPECT_EQ(db.maxLen(temp), kDefaultMaxLen);
  EXPECT_EQ(db.write(temp, 0, Bytes{1, 2, 3, 4}), 0);
  EXPECT_EQ(db.write(temp, 2, Bytes{9}), 0);
  EXPECT_EQ(db.value(temp), (Bytes{1, 2, 9}));
  Bytes out;
  EXPECT_EQ(db.read(temp, 1, out), 0);
  EXPECT_EQ(out, (Bytes{2, 9}));
  EXPECT_EQ(db.read(temp, 3, out), 0);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(db.read(temp, 4, out), 0x07);
  EXPECT_EQ(db.write(temp, 0, Bytes(21, 0)), 0x0D);
  EXPECT_FALSE(db.setValue(temp, Bytes(21, 0)).ok());
}

TEST(AHostedDatabase, NamesAttributesByServiceAndInstance) {
  HostedDatabase db(twoServices());
  auto ambiguous = db.resolve({std::nullopt, u("2A6E"), std::nullopt, 0}, "characteristic");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  auto second = db.resolve({u("181B"), u("2A6E"), std::nullopt, 1}, "c");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(db.name(*second).instance, 1u);
  EXPECT_FALSE(db.resolve({u("181B"), u("2A6E"), std::nullopt, 2}, "c").ok());
  auto desc = db.resolve({u("181A"), u("2A6E"), u("2901"), 0}, "c");
  ASSERT_TRUE(desc.ok());
  EXPECT_FALSE(db.isCharacteristic(*desc));
  EXPECT_EQ(db.value(*desc), Bytes{'t'});
  EXPECT_EQ(db.name(*desc).descriptor, u("2901"));
}

TEST(AHostedDatabase, ExportsBlueZFlagsFromTheProperties) {
  HostedDatabase db(twoServices());
  const auto& spec = db.spec();
  ASSERT_EQ(spec.services.size(), 2u);
  EXPECT_EQ(spec.services[0].characteristics[0].properties,
            gatt_property::kRead | gatt_property::kNotify);
  EXPECT_EQ(spec.services[0].characteristics[0].descriptors.size(), 1u);
}

TEST(ADatabaseDefinition, IsCheckedForConsistencyNamingTheField) {
  DatabaseDefinition d = twoServices();
  d.services[0].characteristics[1].maxLen = 600;
  auto s = validateDefinition(d);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("services[0].characteristics[1].max_len"), std::string::npos);
  d = twoServices();
  d.services[1].characteristics[0].capture = true;
  s = validateDefinition(d);
  EXPECT_NE(s.message().find("services[1].characteristics[0].capture"), std::string::npos);
  EXPECT_TRUE(validateDefinition(twoServices()).ok());
}

}  // namespace
}  // namespace gattway::peripheral
