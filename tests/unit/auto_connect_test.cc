#include "ble/central/auto_connect.h"

#include "gtest/gtest.h"
#include "tests/support/central_fixture.h"

namespace gattway::testing {
namespace {

class AnAutoConnectPolicy : public CentralTest {
 protected:
  static constexpr const char* kOther = "AA:BB:CC:DD:EE:02";
  void create(const char* prefix, bool autoConnect = true) {
    ReconnectPolicy p;
    p.name = "straps";
    p.selector.namePrefix = prefix;
    p.autoConnect = autoConnect;
    ASSERT_TRUE(central->policies().update(p, true, clock.now()).ok());
    clock.runUntilIdle();
  }
};

TEST_F(AnAutoConnectPolicy, OpensAPersistentSessionToEveryMatchingDeviceAScanHears) {
  backend.addDevice(sampleDevice(kOther, "Thermo-1"));
  EXPECT_FALSE(backend.gatewayDiscovering("hci0"));
  create("HRM");
  EXPECT_TRUE(backend.gatewayDiscovering("hci0"));
  backend.advertise(addr(kDevice), -50);
  backend.advertise(addr(kOther), -50);
  clock.advance(absl::Seconds(2));
  auto s = central->sessions().get(addr(kDevice));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->persistent);
  EXPECT_EQ(s->policy, "straps");
  EXPECT_EQ(s->state, SessionState::kConnected);
  // Only devices an auto_connect selector matches.
  EXPECT_FALSE(central->sessions().get(addr(kOther)).ok());
}

TEST_F(AnAutoConnectPolicy, StopsItsScanWhenNoPolicyAutoConnects) {
  create("HRM");
  ASSERT_TRUE(central->autoConnect().scanning());
  create("HRM", false);
  EXPECT_FALSE(central->autoConnect().scanning());
  EXPECT_FALSE(backend.gatewayDiscovering("hci0"));
}

}  // namespace
}  // namespace gattway::testing
