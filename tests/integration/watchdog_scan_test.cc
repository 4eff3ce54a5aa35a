// The adapter watchdog against the simulated BlueZ over gRPC: a Scan stream on an adapter whose
// discovery is wedged (StartDiscovery succeeds, Discovering never turns on) gets reports again
// once the watchdog has recovered the adapter, by restarting discovery or by a power cycle, as
// the wedge requires. The stream carries on through the recovery.
#include "ble/metrics.h"
#include "tests/support/sim_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

class AWedgedDiscovery : public SimGatewayTest {
 protected:
  void SetUp() override {
    watchdog.discoveryTimeout = absl::Seconds(1);
    watchdog.checkInterval = absl::Milliseconds(200);
    startAll(fastOptions());
  }
  void wedge(sim::WedgeCure cure) {
    ASSERT_TRUE(onLoop([&] { return sim_->wedgeDiscovery("hci0", sim::DiscoveryWedge{cure, 1}); }).ok());
  }
  // Opens a Scan stream and reads until its first result; false when the stream ends first.
  bool scanUntilAResult() {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(30000ms));
    v1::ScanRequest request;
    request.set_adapter("hci0");
    auto reader = scan->Scan(&ctx, request);
    v1::ScanResponse m;
    while (reader->Read(&m)) {
      if (m.results_size() > 0) {
        ctx.TryCancel();
        reader->Finish();
        return true;
      }
    }
    ADD_FAILURE() << "the stream ended: " << reader->Finish().error_message();
    return false;
  }
  std::uint64_t steps(RecoveryStep s) const {
    return gateway->metrics().adapterRecoveries[static_cast<std::size_t>(s)].value();
  }
  std::uint64_t wedges() const {
    return gateway->metrics().adapterWedged[static_cast<std::size_t>(WedgeKind::kDiscovery)].value();
  }
};

TEST_P(AWedgedDiscovery, IsCuredByAPowerCycleAfterTheRestartDidNotHelp) {
  wedge(sim::WedgeCure::kPowerCycle);
  ASSERT_TRUE(scanUntilAResult());
  EXPECT_EQ(wedges(), 2u);
  EXPECT_EQ(steps(RecoveryStep::kRestartDiscovery), 1u);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 1u);
  EXPECT_TRUE(eventuallyServing());  // powered again
}

TEST_P(AWedgedDiscovery, IsCuredByRestartingDiscoveryAloneWhenThatIsEnough) {
  wedge(sim::WedgeCure::kRestartDiscovery);
  ASSERT_TRUE(scanUntilAResult());
  EXPECT_EQ(wedges(), 1u);
  EXPECT_EQ(steps(RecoveryStep::kRestartDiscovery), 1u);
  EXPECT_EQ(steps(RecoveryStep::kPowerCycle), 0u);
}

INSTANTIATE_TEST_SUITE_P(Orderings, AWedgedDiscovery,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing
