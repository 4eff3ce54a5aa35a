// How a simulated characteristic's value behaves: temperatures that drift, a heart rate that
// varies, a battery that drains, a camera's control point, status and snapshot. The GATT layer
// (peripheral.h) handles handles, permissions, offsets and lengths; a model sees whole values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/sim/fleet.h"

namespace gattway::sim {

class ValueModel;

// What a model may do to the rest of its device (the camera's control point drives the status and
// the snapshot).
struct ModelContext {
  std::mt19937_64* rng = nullptr;
  // The first model of the device with that model name ("camera_status"), or null.
  std::function<ValueModel*(const std::string& model)> findModel;
  // Sends the value of the characteristic that has `model` to its subscribers now.
  std::function<void(ValueModel* model)> notify;
};

class ValueModel {
 public:
  virtual ~ValueModel() = default;
  // The value now (a read). Models that drift advance to `now` first.
  virtual Bytes read(absl::Time now) = 0;
  // A write of the whole new value (the GATT layer has applied the offset). Returns 0 or an ATT
  // error code (Core spec Vol 3, Part F, 3.4.1.1); with `command` (Write Without Response) the
  // result is not reported to anyone.
  virtual std::uint8_t write(const Bytes& value, bool command, absl::Time now);
  // The next notification or indication payload.
  virtual Bytes notification(absl::Time now) { return read(now); }
  // Counters for tests (writes accepted, bytes received).
  std::uint64_t writes() const { return writes_; }
  std::uint64_t bytesWritten() const { return bytesWritten_; }

 protected:
  std::uint64_t writes_ = 0;
  std::uint64_t bytesWritten_ = 0;
};

// Builds the model a characteristic asks for. `context` must outlive the model.
absl::StatusOr<std::unique_ptr<ValueModel>> makeValueModel(const CharacteristicSpec& spec,
                                                           ModelContext& context);

// The camera control point's opcodes (documented in docs/simulator.md).
namespace camera {
inline constexpr std::uint8_t kCapture = 0x01;      // new snapshot, status notified
inline constexpr std::uint8_t kStartStream = 0x02;  // status streaming
inline constexpr std::uint8_t kStopStream = 0x03;
inline constexpr std::uint8_t kReset = 0x04;        // counters to zero
}  // namespace camera

}  // namespace gattway::sim
