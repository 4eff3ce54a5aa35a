// gattway.v1.Policy ↔ ReconnectPolicy: the kept subscriptions checked for form with the field
// named as the caller wrote it, and a policy's subscriptions surviving the state file.
#include "server/policy_convert.h"

#include <cstdio>
#include <unistd.h>

#include "ble/error.h"
#include "gtest/gtest.h"
#include "server/state_file.h"

namespace gattway::server {
namespace {

std::string fieldOf(const absl::Status& s) {
  return std::string(err::metadata(s, err::kMetaField).value_or("(none)"));
}

v1::Policy heartRatePolicy() {
  v1::Policy p;
  p.set_name("hr-straps");
  auto* hr = p.add_subscriptions();
  hr->mutable_characteristic()->set_characteristic_uuid("2a37");
  auto* battery = p.add_subscriptions();
  battery->mutable_characteristic()->set_service_uuid("180F");
  battery->mutable_characteristic()->set_characteristic_uuid("2A19");
  battery->set_mode(v1::SUBSCRIBE_MODE_NOTIFY);
  auto* byHandle = p.add_subscriptions();
  byHandle->mutable_characteristic()->set_handle(0x33);
  byHandle->set_mode(v1::SUBSCRIBE_MODE_INDICATE);
  return p;
}

TEST(APolicysSubscriptions, AreConvertedBothWays) {
  auto p = policyFromProto(heartRatePolicy(), "policy");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->subscriptions.size(), 3u);
  EXPECT_EQ(p->subscriptions[0].characteristic.characteristic, Uuid::fromShort(0x2A37));
  EXPECT_EQ(p->subscriptions[0].mode, SubscribeMode::kAuto);
  EXPECT_EQ(p->subscriptions[1].characteristic.service, Uuid::fromShort(0x180F));
  EXPECT_EQ(p->subscriptions[1].mode, SubscribeMode::kNotify);
  EXPECT_EQ(p->subscriptions[2].characteristic.handle, 0x33);
  EXPECT_EQ(p->subscriptions[2].mode, SubscribeMode::kIndicate);
  v1::Policy out;
  toProto(*p, &out);
  ASSERT_EQ(out.subscriptions_size(), 3);
  EXPECT_EQ(out.subscriptions(0).characteristic().characteristic_uuid(), "2A37");
  EXPECT_EQ(out.subscriptions(0).mode(), v1::SUBSCRIBE_MODE_AUTO);
  EXPECT_EQ(out.subscriptions(1).characteristic().service_uuid(), "180F");
  EXPECT_EQ(out.subscriptions(2).characteristic().handle(), 0x33u);
  auto again = policyFromProto(out, "policy");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->subscriptions, p->subscriptions);
}

TEST(APolicysSubscriptions, AreRefusedNamingTheFieldAtFault) {
  v1::Policy p = heartRatePolicy();
  p.mutable_subscriptions(1)->mutable_characteristic()->set_characteristic_uuid("not-a-uuid");
  EXPECT_EQ(fieldOf(policyFromProto(p, "policy").status()),
            "policy.subscriptions[1].characteristic.characteristic_uuid");
  p = heartRatePolicy();
  p.mutable_subscriptions(2)->set_mode(static_cast<v1::SubscribeMode>(9));
  EXPECT_EQ(fieldOf(policyFromProto(p, "policy").status()), "policy.subscriptions[2].mode");
  p = heartRatePolicy();
  p.mutable_subscriptions(0)->mutable_characteristic()->set_descriptor_uuid("2902");
  EXPECT_EQ(fieldOf(policyFromProto(p, "policy").status()),
            "policy.subscriptions[0].characteristic.descriptor_uuid");
  p = heartRatePolicy();
  p.mutable_subscriptions(0)->mutable_characteristic()->set_characteristic_uuid("");
  EXPECT_EQ(fieldOf(policyFromProto(p, "policy").status()),
            "policy.subscriptions[0].characteristic.characteristic_uuid");
  p = heartRatePolicy();
  *p.add_subscriptions() = p.subscriptions(0);
  auto dup = policyFromProto(p, "policies[4]");
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fieldOf(dup.status()), "policies[4].subscriptions[3].characteristic");
  p = heartRatePolicy();
  p.clear_subscriptions();
  for (int i = 1; i <= 33; ++i) {
    p.add_subscriptions()->mutable_characteristic()->set_handle(static_cast<std::uint32_t>(i));
  }
  EXPECT_EQ(fieldOf(policyFromProto(p, "policy").status()), "policy.subscriptions");
}

TEST(APolicysSubscriptions, SurviveTheStateFile) {
  const std::string dir = ::testing::TempDir() + "/gattway-kept-" + std::to_string(::getpid());
  StateFile file(dir);
  auto p = policyFromProto(heartRatePolicy(), "policy");
  ASSERT_TRUE(p.ok());
  v1::GatewayConfig state;
  toProto(*p, state.add_policies());
  ASSERT_TRUE(file.save(state).ok());
  auto back = file.load();
  ASSERT_TRUE(back.ok()) << back.status();
  auto restored = policyFromProto(back->policies(0), "policies[0]");
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->subscriptions, p->subscriptions);
  std::remove(file.path().c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace gattway::server
