#include "ble/central/policy_store.h"

#include "gtest/gtest.h"

namespace gattway {
namespace {

ReconnectPolicy named(const char* name, int priority = 0) {
  ReconnectPolicy p;
  p.name = name;
  p.priority = priority;
  return p;
}

TEST(APolicyStore, CreatesOnceAndRefusesADuplicate) {
  PolicyStore store;
  int changes = 0;
  store.onChange([&] { ++changes; });
  ASSERT_TRUE(store.create(named("cams"), absl::UnixEpoch()).ok());
  auto again = store.create(named("cams"), absl::UnixEpoch());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(changes, 1);
}

TEST(APolicyStore, ValidatesAndNamesTheField) {
  PolicyStore store;
  ReconnectPolicy p = named("cams");
  p.reconnect.jitter = 2.0;
  auto r = store.create(p, absl::UnixEpoch());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("policy.reconnect.jitter"), std::string::npos)
      << r.status();
  EXPECT_EQ(store.create(named("Bad Name"), absl::UnixEpoch()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(APolicyStore, UpdatesKeepingTheCreateTimeOrCreatesWhenAllowed) {
  PolicyStore store;
  const absl::Time t0 = absl::FromUnixSeconds(100);
  const absl::Time t1 = absl::FromUnixSeconds(200);
  ASSERT_TRUE(store.create(named("cams"), t0).ok());
  auto u = store.update(named("cams", 40), false, t1);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->createTime, t0);
  EXPECT_EQ(u->updateTime, t1);
  EXPECT_EQ(u->priority, 40);
  EXPECT_EQ(store.update(named("new"), false, t1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store.update(named("new"), true, t1).ok());
  EXPECT_EQ(store.list().size(), 2u);
}

TEST(APolicyStore, DeletesAndResolvesWithTheRemainingOnes) {
  PolicyStore store;
  ReconnectPolicy all = named("all");
  ReconnectPolicy one = named("one");
  one.selector.addresses.push_back(*Address::parse("AA:BB:CC:DD:EE:01"));
  ASSERT_TRUE(store.create(all, absl::UnixEpoch()).ok());
  ASSERT_TRUE(store.create(one, absl::UnixEpoch()).ok());
  DeviceFacts d;
  d.address = *Address::parse("AA:BB:CC:DD:EE:01");
  EXPECT_EQ(store.resolve(d).policy->name, "one");
  EXPECT_EQ(store.resolve(d, "all").policy->name, "all");
  ASSERT_TRUE(store.remove("one").ok());
  EXPECT_EQ(store.resolve(d).policy->name, "all");
  EXPECT_EQ(store.remove("one").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gattway
