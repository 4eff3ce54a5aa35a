#include "server/stream_registry.h"

#include "ble/error.h"
#include "gtest/gtest.h"
#include "server/client_identity.h"

namespace gattway::server {
namespace {

struct CountingStream : StreamRegistry::Stream {
  void shutdownStream() override { ++shutdowns; }
  int shutdowns = 0;
};

std::shared_ptr<CountingStream> stream() { return std::make_shared<CountingStream>(); }

TEST(AStreamRegistry, HoldsEachClientToItsLimitAndCountsClientsApart) {
  StreamRegistry registry(2);
  auto a1 = stream(), a2 = stream(), a3 = stream(), b1 = stream();
  EXPECT_TRUE(registry.add(a1, "token:dashboard").ok());
  EXPECT_TRUE(registry.add(a2, "token:dashboard").ok());
  const absl::Status refused = registry.add(a3, "token:dashboard");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(err::reasonOf(refused), err::Reason::kLimitExceeded);
  EXPECT_EQ(err::metadata(refused, "limit"), "2");
  EXPECT_NE(refused.message().find("--max_streams_per_client"), std::string::npos);
  EXPECT_TRUE(registry.add(b1, "token:ops").ok());
  EXPECT_EQ(registry.openFor("token:dashboard"), 2u);
  EXPECT_EQ(registry.size(), 3u);
}

TEST(AStreamRegistry, FreesASlotWhenAStreamEnds) {
  StreamRegistry registry(1);
  auto first = stream(), second = stream();
  ASSERT_TRUE(registry.add(first, "peer:ipv4:10.0.0.7").ok());
  EXPECT_FALSE(registry.add(second, "peer:ipv4:10.0.0.7").ok());
  registry.remove(first.get());
  registry.remove(first.get());  // twice is harmless
  EXPECT_EQ(registry.openFor("peer:ipv4:10.0.0.7"), 0u);
  EXPECT_TRUE(registry.add(second, "peer:ipv4:10.0.0.7").ok());
}

TEST(AStreamRegistry, EndsEveryStreamAndRefusesNewOnesOnceClosed) {
  StreamRegistry registry;
  auto open = stream(), late = stream();
  ASSERT_TRUE(registry.add(open, "a").ok());
  registry.closeAll();
  EXPECT_EQ(open->shutdowns, 1);
  const absl::Status refused = registry.add(late, "a");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(err::reasonOf(refused), err::Reason::kShuttingDown);
  EXPECT_EQ(late->shutdowns, 0);
}

TEST(APeerHost, DropsThePortOfTcpPeersOnly) {
  EXPECT_EQ(peerHost("ipv4:10.0.0.7:51234"), "ipv4:10.0.0.7");
  EXPECT_EQ(peerHost("ipv6:[::1]:5000"), "ipv6:[::1]");
  EXPECT_EQ(peerHost("ipv6:[fe80::1%eth0]:443"), "ipv6:[fe80::1%eth0]");
  EXPECT_EQ(peerHost("unix:/run/gattway.sock"), "unix:/run/gattway.sock");
  EXPECT_EQ(peerHost("ipv4:garbage"), "ipv4:garbage");
}

}  // namespace
}  // namespace gattway::server
