// Runs one cell of the fault matrix (fault_matrix_test.cc): the production gateway against the
// simulated BlueZ (SimGatewayTest), an operation started through real gRPC, and the fault meeting
// it — queued on the device's next request, or injected while the operation is in flight. The
// outcome is the status the operation ended with (OK: it carried on past the fault).
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include "gattway/v1/metrics.grpc.pb.h"
#include "tests/integration/matrix/faults.h"
#include "tests/support/peripheral_rpc.h"
#include "tests/support/sim_gateway.h"

namespace gattway::testing::matrix {

struct Outcome {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string reason;  // the ErrorInfo reason
  std::string message;
};
Outcome outcomeOf(const grpc::Status& s);

class FaultDriver : public SimGatewayTest, protected PeripheralRpc {
 protected:
  void SetUp() override;

  // Runs `op` with `f` meeting it; then recover().
  Outcome run(Fault f, Op op);
  // Undoes the fault and waits until the gateway sees BlueZ and hci0 powered again.
  void recover();
  // The operation did not end within its bound (its own deadline ended it).
  bool stuck() const { return stuck_; }
  // Open streaming calls, as the gateway counts them (MetricsService).
  std::uint32_t openStreams();

 private:
  // Faults queued before the operation: the simulator's device answers its next request with it.
  void queue(Fault f, const Address& device, std::uint16_t handle);
  // Holds the device's next request on `handle` so that the operation is in flight.
  void hold(const Address& device, std::uint16_t handle);
  // Faults injected while the operation is in flight. `device` is the link's peer; `central` the
  // remote central's id for the peripheral operations.
  void inject(Fault f, const Address& device, const std::string& central = "");
  bool eventuallyPowered(bool on);
  // True once the session is gone, or once BlueZ is (the session ends when the gateway learns it).
  bool eventuallyGoneOrDown(const std::string& address);

  Outcome central(Fault f, Op op);

  Outcome peripheral(Fault f, Op op);
  // Registers the environmental-sensing database on hci0 and advertises it (once).
  void host();
  // A remote central joins the hosted database (retried while it is being registered again).
  std::string join();
  void leave(const std::string& id);
  // A remote central's read of the temperature: the ATT code (0xFF: no such central) and value.
  using ReadResult = std::pair<std::uint8_t, std::string>;
  std::shared_ptr<std::promise<ReadResult>> centralRead(const std::string& id);
  std::uint8_t centralWrite(const std::string& id, const std::string& value);

  bool poweredOff_ = false;
  bool hosted_ = false;
  bool stuck_ = false;
  std::shared_ptr<std::promise<absl::Status>> restarted_;
  std::unique_ptr<v1::MetricsService::Stub> metricsStub_;
};

}  // namespace gattway::testing::matrix
