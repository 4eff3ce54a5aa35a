#include "ble/central/reconnect_policy.h"

#include <random>

#include "ble/error.h"
#include "gtest/gtest.h"

namespace gattway {
namespace {

Address addr(const char* text) { return *Address::parse(text); }
Uuid uuid(const char* text) { return *Uuid::parse(text); }

ReconnectPolicy policy(std::string name, DeviceSelector selector, int priority = 0) {
  ReconnectPolicy p;
  p.name = std::move(name);
  p.selector = std::move(selector);
  p.priority = priority;
  return p;
}

DeviceFacts heartRateStrap() {
  DeviceFacts d;
  d.address = addr("C0:FF:EE:00:00:0D");
  d.name = "HRM-1";
  d.serviceUuids = {uuid("180D"), uuid("180F")};
  d.manufacturerIds = {0x0059};
  d.labels = {{"room", "gym"}};
  return d;
}

TEST(ASelector, MatchesWhenEveryFieldItSetsMatches) {
  DeviceSelector s;
  s.serviceUuids = {uuid("180D")};
  s.namePrefix = "HRM";
  auto m = matchSelector(s, heartRateStrap());
  EXPECT_TRUE(m.matches) << m.explanation;
  EXPECT_EQ(m.specificity, Specificity::kServicesOrManufacturer);
  EXPECT_EQ(m.explanation, "service_uuids matched 180D; name_prefix \"HRM\" matched");

  s.namePrefix = "cam-";
  m = matchSelector(s, heartRateStrap());
  EXPECT_FALSE(m.matches);
  EXPECT_NE(m.explanation.find("name_prefix \"cam-\" did not match \"HRM-1\""), std::string::npos);
}

TEST(ASelector, NeedsEveryLabel) {
  DeviceSelector s;
  s.labels = {{"room", "gym"}, {"floor", "2"}};
  auto m = matchSelector(s, heartRateStrap());
  EXPECT_FALSE(m.matches);
  EXPECT_EQ(m.explanation, "labels lacked floor=2");
  EXPECT_EQ(m.specificity, Specificity::kLabels);
}

TEST(AnEmptySelector, MatchesEveryDeviceWithTheLowestSpecificity) {
  auto m = matchSelector(DeviceSelector{}, heartRateStrap());
  EXPECT_TRUE(m.matches);
  EXPECT_EQ(m.specificity, Specificity::kEmpty);
}

TEST(PolicyResolution, PrefersAddressOverLabelsOverServicesOverNameOverCatchAll) {
  DeviceSelector byAddress, byLabel, byService, byName;
  byAddress.addresses = {addr("C0:FF:EE:00:00:0D")};
  byLabel.labels = {{"room", "gym"}};
  byService.serviceUuids = {uuid("180D")};
  byName.namePrefix = "HRM";
  const auto a = policy("z-address", byAddress, -100), l = policy("y-label", byLabel, 100),
             s = policy("x-service", byService, 100), n = policy("w-name", byName, 100),
             all = policy("a-default", {}, 100);
  std::vector<const ReconnectPolicy*> ps = {&all, &n, &s, &l, &a};
  const DeviceFacts d = heartRateStrap();
  EXPECT_EQ(resolvePolicy(ps, d).policy, &a);
  ps = {&all, &n, &s, &l};
  EXPECT_EQ(resolvePolicy(ps, d).policy, &l);
  ps = {&all, &n, &s};
  EXPECT_EQ(resolvePolicy(ps, d).policy, &s);
  ps = {&all, &n};
  EXPECT_EQ(resolvePolicy(ps, d).policy, &n);
  ps = {&all};
  EXPECT_EQ(resolvePolicy(ps, d).policy, &all);
}

TEST(PolicyResolution, BreaksTiesByPriorityThenName) {
  DeviceSelector byService;
  byService.serviceUuids = {uuid("180D")};
  const auto low = policy("alpha", byService, 1), high = policy("beta", byService, 5),
             sameA = policy("gamma", byService, 5);
  const auto r = resolvePolicy({&low, &sameA, &high}, heartRateStrap());
  EXPECT_EQ(r.policy, &high);
  ASSERT_EQ(r.candidates.size(), 3u);
  EXPECT_EQ(r.candidates[1].policy, &sameA);
  EXPECT_EQ(r.candidates[2].policy, &low);
  EXPECT_NE(r.reason.find("wins over 2 other matching policies"), std::string::npos) << r.reason;
}

TEST(PolicyResolution, HonoursAnExplicitlyNamedPolicyEvenIfItsSelectorDoesNotMatch) {
  DeviceSelector cameras;
  cameras.namePrefix = "cam-";
  DeviceSelector byService;
  byService.serviceUuids = {uuid("180D")};
  const auto cam = policy("cameras", cameras), hr = policy("hr", byService);
  auto r = resolvePolicy({&cam, &hr}, heartRateStrap(), "cameras");
  EXPECT_EQ(r.policy, &cam);
  EXPECT_NE(r.reason.find("named explicitly"), std::string::npos);
  r = resolvePolicy({&cam, &hr}, heartRateStrap(), "gone");
  EXPECT_EQ(r.policy, &hr);
  EXPECT_NE(r.reason.find("\"gone\", which does not exist"), std::string::npos) << r.reason;
}

TEST(PolicyResolution, SaysWhenNoPolicyApplies) {
  DeviceSelector cameras;
  cameras.namePrefix = "cam-";
  const auto cam = policy("cameras", cameras);
  const auto r = resolvePolicy({&cam}, heartRateStrap());
  EXPECT_EQ(r.policy, nullptr);
  EXPECT_NE(r.reason.find("built-in defaults"), std::string::npos);
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_FALSE(r.candidates[0].match.matches);
}

TEST(Backoff, GrowsByTheMultiplierUpToTheMaximumWithoutJitter) {
  ReconnectSettings s;
  s.initialBackoff = absl::Seconds(1);
  s.maxBackoff = absl::Seconds(10);
  s.multiplier = 2.0;
  s.jitter = 0.0;
  std::mt19937 random(1);
  EXPECT_EQ(backoffDelay(s, 1, random), absl::Seconds(1));
  EXPECT_EQ(backoffDelay(s, 2, random), absl::Seconds(2));
  EXPECT_EQ(backoffDelay(s, 4, random), absl::Seconds(8));
  EXPECT_EQ(backoffDelay(s, 5, random), absl::Seconds(10));
  EXPECT_EQ(backoffDelay(s, 10000, random), absl::Seconds(10)) << "no overflow for huge counts";
}

TEST(Backoff, StaysWithinTheJitterBoundsAndSpreadsAFleet) {
  ReconnectSettings s;
  s.initialBackoff = absl::Seconds(4);
  s.jitter = 0.25;
  std::mt19937 random(7);
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 10000; ++i) {
    const absl::Duration d = backoffDelay(s, 1, random);
    ASSERT_GE(d, absl::Seconds(3));
    ASSERT_LE(d, absl::Seconds(4));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, absl::Milliseconds(3050)) << "the spread reaches the bottom of the range";
  EXPECT_GT(hi, absl::Milliseconds(3950)) << "and the top";
}

TEST(GivingUp, HappensAtMaxAttemptsAndNeverWhenItIsZero) {
  ReconnectSettings s;
  EXPECT_FALSE(shouldGiveUp(s, 1000000));
  s.maxAttempts = 3;
  EXPECT_FALSE(shouldGiveUp(s, 2));
  EXPECT_TRUE(shouldGiveUp(s, 3));
}

TEST(PolicyValidation, NamesTheFieldAtFault) {
  ReconnectPolicy p = policy("cameras", {});
  EXPECT_TRUE(validatePolicy(p).ok());
  auto field = [](const ReconnectPolicy& bad) {
    return err::metadata(validatePolicy(bad), err::kMetaField).value_or("(valid)");
  };
  ReconnectPolicy bad = p;
  bad.name = "Cameras!";
  EXPECT_EQ(field(bad), "policy.name");
  bad = p;
  bad.reconnect.maxBackoff = absl::Milliseconds(500);
  EXPECT_EQ(field(bad), "policy.reconnect.max_backoff");
  bad = p;
  bad.reconnect.jitter = 1.5;
  EXPECT_EQ(field(bad), "policy.reconnect.jitter");
  bad = p;
  bad.priority = 101;
  EXPECT_EQ(field(bad), "policy.priority");
  bad = p;
  bad.reconnect.connectTimeout = absl::Milliseconds(10);
  EXPECT_EQ(field(bad), "policy.reconnect.connect_timeout");
}

TEST(PolicyValidation, ChecksTheKeptSubscriptionsAndNamesTheOneAtFault) {
  auto kept = [](const char* characteristic, std::uint16_t handle = 0) {
    PolicySubscription s;
    if (characteristic != nullptr) s.characteristic.characteristic = uuid(characteristic);
    s.characteristic.handle = handle;
    return s;
  };
  auto field = [](const ReconnectPolicy& bad) {
    return err::metadata(validatePolicy(bad), err::kMetaField).value_or("(valid)");
  };
  ReconnectPolicy p = policy("hr", {});
  p.subscriptions = {kept("2A37"), kept("2A19"), kept(nullptr, 0x0020)};
  EXPECT_TRUE(validatePolicy(p).ok()) << validatePolicy(p);

  ReconnectPolicy bad = p;
  bad.subscriptions.push_back(kept("2A37"));
  EXPECT_EQ(field(bad), "policy.subscriptions[3].characteristic");
  EXPECT_NE(validatePolicy(bad).message().find("subscriptions[0]"), std::string::npos)
      << validatePolicy(bad);
  bad = p;
  bad.subscriptions[2].characteristic.handle = 0;
  EXPECT_EQ(field(bad), "policy.subscriptions[2].characteristic");
  bad = p;
  bad.subscriptions[1].characteristic.descriptor = uuid("2902");
  EXPECT_EQ(field(bad), "policy.subscriptions[1].characteristic.descriptor_uuid");
  bad = p;
  bad.subscriptions[0].mode = static_cast<SubscribeMode>(7);
  EXPECT_EQ(field(bad), "policy.subscriptions[0].mode");
  bad = p;
  bad.subscriptions.clear();
  for (std::uint16_t h = 1; h <= kMaxPolicySubscriptions; ++h) {
    bad.subscriptions.push_back(kept(nullptr, h));
  }
  EXPECT_TRUE(validatePolicy(bad).ok());
  bad.subscriptions.push_back(kept("2A37"));
  EXPECT_EQ(field(bad), "policy.subscriptions");
  // The same characteristic in another mode is still the same characteristic.
  bad = p;
  bad.subscriptions.push_back(kept("2A19"));
  bad.subscriptions.back().mode = SubscribeMode::kIndicate;
  EXPECT_EQ(field(bad), "policy.subscriptions[3].characteristic");
}

}  // namespace
}  // namespace gattway
