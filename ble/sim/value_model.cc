#include "ble/sim/value_model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::sim {
namespace {

double param(const CharacteristicSpec& spec, const char* name, double fallback) {
  auto it = spec.params.find(name);
  return it == spec.params.end() ? fallback : it->second;
}

void putLe(Bytes& out, std::uint64_t v, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF));
}

// A stored value that writes replace.
class StaticModel : public ValueModel {
 public:
  explicit StaticModel(Bytes initial) : value_(std::move(initial)) {}
  Bytes read(absl::Time) override { return value_; }
  std::uint8_t write(const Bytes& value, bool command, absl::Time now) override {
    value_ = value;
    return ValueModel::write(value, command, now);
  }

 private:
  Bytes value_;
};

// A quantity that wanders around a mean (Ornstein-Uhlenbeck-like), encoded as a little-endian
// integer in units of `resolution`: Temperature 0x2A6E (sint16, 0.01 °C), Humidity 0x2A6F
// (uint16, 0.01 %) (GATT Specification Supplement).
class DriftModel : public ValueModel {
 public:
  DriftModel(const CharacteristicSpec& spec, ModelContext& ctx, double mean, double lo, double hi,
             bool isSigned)
      : ctx_(ctx),
        mean_(param(spec, "mean", mean)),
        drift_(param(spec, "drift", 0.05)),
        lo_(param(spec, "min", lo)),
        hi_(param(spec, "max", hi)),
        signed_(isSigned),
        value_(mean_) {}

  Bytes read(absl::Time now) override {
    advance(now);
    const double units = std::round(value_ * 100.0);
    Bytes out;
    if (signed_) {
      putLe(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(units)), 2);
    } else {
      putLe(out, static_cast<std::uint16_t>(units), 2);
    }
    return out;
  }

 private:
  void advance(absl::Time now) {
    if (last_ == absl::InfinitePast()) {
      last_ = now;
      return;
    }
    const double dt = std::clamp(absl::ToDoubleSeconds(now - last_), 0.0, 3600.0);
    last_ = now;
    if (dt <= 0) return;
    std::normal_distribution<double> noise(0.0, drift_ * std::sqrt(dt));
    // Pulled back towards the mean over about a minute.
    value_ += noise(*ctx_.rng) + (mean_ - value_) * std::min(1.0, dt / 60.0);
    value_ = std::clamp(value_, lo_, hi_);
  }

  ModelContext& ctx_;
  double mean_, drift_, lo_, hi_;
  bool signed_;
  double value_;
  absl::Time last_ = absl::InfinitePast();
};

// Heart Rate Measurement 0x2A37: flags 0x00 (uint8 value, no contact, no energy, no RR) then bpm.
class HeartRateModel : public ValueModel {
 public:
  HeartRateModel(const CharacteristicSpec& spec, ModelContext& ctx)
      : ctx_(ctx), mean_(param(spec, "bpm", 72)), spread_(param(spec, "variability", 4)),
        bpm_(mean_) {}
  Bytes read(absl::Time) override { return {0x00, static_cast<std::uint8_t>(std::lround(bpm_))}; }
  Bytes notification(absl::Time now) override {
    std::normal_distribution<double> step(0.0, spread_ / 3.0);
    bpm_ = std::clamp(bpm_ + step(*ctx_.rng) + (mean_ - bpm_) * 0.1, 40.0, 200.0);
    return read(now);
  }

 private:
  ModelContext& ctx_;
  double mean_, spread_, bpm_;
};

// Battery Level 0x2A19: one byte of percent, draining `drain` percent per hour.
class BatteryModel : public ValueModel {
 public:
  explicit BatteryModel(const CharacteristicSpec& spec)
      : start_(param(spec, "start", 100)), drain_(param(spec, "drain", 2)) {}
  Bytes read(absl::Time now) override {
    if (born_ == absl::InfinitePast()) born_ = now;
    const double hours = absl::ToDoubleHours(now - born_);
    const double level = std::clamp(start_ - drain_ * hours, 0.0, 100.0);
    return {static_cast<std::uint8_t>(std::lround(level))};
  }

 private:
  double start_, drain_;
  absl::Time born_ = absl::InfinitePast();
};

// A little-endian uint32 that counts notifications, padded to `size` bytes (load tests: 20, 244).
class CounterModel : public ValueModel {
 public:
  explicit CounterModel(const CharacteristicSpec& spec)
      : size_(static_cast<std::size_t>(std::clamp(param(spec, "size", 4), 4.0, 512.0))),
        timestamp_(param(spec, "timestamp", 0) != 0 && size_ >= 12) {}
  Bytes read(absl::Time) override {
    Bytes out;
    putLe(out, count_, 4);
    // Benchmarks' latency probe: the wall clock when the value was made (Unix ns), read now rather
    // than the loop's cached time so the stamp is taken as late as the simulator can.
    if (timestamp_) putLe(out, static_cast<std::uint64_t>(absl::ToUnixNanos(absl::Now())), 8);
    out.resize(size_, 0xA5);
    return out;
  }
  Bytes notification(absl::Time now) override {
    ++count_;
    return read(now);
  }

 private:
  std::size_t size_;
  bool timestamp_;
  std::uint32_t count_ = 0;
};

// A large value (a camera snapshot): `size` bytes, different after each regenerate().
class BlobModel : public ValueModel {
 public:
  BlobModel(const CharacteristicSpec& spec, ModelContext& ctx)
      : ctx_(ctx), size_(static_cast<std::size_t>(std::clamp(param(spec, "size", 600), 1.0, 512.0))) {
    regenerate();
  }
  Bytes read(absl::Time) override { return value_; }
  void regenerate() {
    value_.resize(size_);
    // A small header (generation, length) then pseudo-random "image" bytes.
    ++generation_;
    for (std::size_t i = 0; i < size_; ++i) value_[i] = static_cast<std::uint8_t>((*ctx_.rng)() & 0xFF);
    if (size_ >= 4) {
      value_[0] = static_cast<std::uint8_t>(generation_ & 0xFF);
      value_[1] = static_cast<std::uint8_t>((generation_ >> 8) & 0xFF);
      value_[2] = static_cast<std::uint8_t>(size_ & 0xFF);
      value_[3] = static_cast<std::uint8_t>((size_ >> 8) & 0xFF);
    }
  }

 private:
  ModelContext& ctx_;
  std::size_t size_;
  std::uint32_t generation_ = 0;
  Bytes value_;
};

// The camera's status: [state, snapshots (uint16 LE), streaming]; state 0 idle, 1 streaming.
class CameraStatusModel : public ValueModel {
 public:
  Bytes read(absl::Time) override {
    return {static_cast<std::uint8_t>(streaming_ ? 1 : 0), static_cast<std::uint8_t>(snapshots_ & 0xFF),
            static_cast<std::uint8_t>(snapshots_ >> 8), static_cast<std::uint8_t>(streaming_ ? 1 : 0)};
  }
  void captured() { ++snapshots_; }
  void setStreaming(bool on) { streaming_ = on; }
  void reset() {
    snapshots_ = 0;
    streaming_ = false;
  }

 private:
  std::uint16_t snapshots_ = 0;
  bool streaming_ = false;
};

// The camera's control point: write with response, one opcode (camera:: constants) per write; any
// other opcode, or an empty write, fails with the application ATT error `error` (default 0x80).
// It drives the device's camera_status and blob (snapshot) characteristics.
class CameraControlModel : public ValueModel {
 public:
  CameraControlModel(const CharacteristicSpec& spec, ModelContext& ctx)
      : ctx_(ctx), error_(static_cast<std::uint8_t>(param(spec, "error", 0x80))) {}
  Bytes read(absl::Time) override { return last_; }
  std::uint8_t write(const Bytes& value, bool command, absl::Time now) override {
    if (value.empty()) return error_;
    ValueModel* statusModel = ctx_.findModel ? ctx_.findModel("camera_status") : nullptr;
    ValueModel* snapshotModel = ctx_.findModel ? ctx_.findModel("blob") : nullptr;
    auto* status = dynamic_cast<CameraStatusModel*>(statusModel);
    auto* snapshot = dynamic_cast<BlobModel*>(snapshotModel);
    switch (value[0]) {
      case camera::kCapture:
        if (snapshot != nullptr) snapshot->regenerate();
        if (status != nullptr) status->captured();
        break;
      case camera::kStartStream:
        if (status != nullptr) status->setStreaming(true);
        break;
      case camera::kStopStream:
        if (status != nullptr) status->setStreaming(false);
        break;
      case camera::kReset:
        if (status != nullptr) status->reset();
        break;
      default:
        return error_;
    }
    last_ = value;
    if (statusModel != nullptr && ctx_.notify) ctx_.notify(statusModel);
    return ValueModel::write(value, command, now);
  }

 private:
  ModelContext& ctx_;
  std::uint8_t error_;
  Bytes last_;
};

// Takes writes (a stream of Write Commands) and counts them.
class SinkModel : public ValueModel {
 public:
  Bytes read(absl::Time) override { return {}; }
};

}  // namespace

std::uint8_t ValueModel::write(const Bytes& value, bool, absl::Time) {
  ++writes_;
  bytesWritten_ += value.size();
  return 0;
}

absl::StatusOr<std::unique_ptr<ValueModel>> makeValueModel(const CharacteristicSpec& spec,
                                                           ModelContext& context) {
  const std::string& m = spec.model;
  if (m == "static") return std::make_unique<StaticModel>(spec.value);
  if (m == "temperature") return std::make_unique<DriftModel>(spec, context, 21.0, -40.0, 85.0, true);
  if (m == "humidity") return std::make_unique<DriftModel>(spec, context, 45.0, 0.0, 100.0, false);
  if (m == "heart_rate") return std::make_unique<HeartRateModel>(spec, context);
  if (m == "battery") return std::make_unique<BatteryModel>(spec);
  if (m == "counter") return std::make_unique<CounterModel>(spec);
  if (m == "blob") return std::make_unique<BlobModel>(spec, context);
  if (m == "camera_status") return std::make_unique<CameraStatusModel>();
  if (m == "camera_control") return std::make_unique<CameraControlModel>(spec, context);
  if (m == "sink") return std::make_unique<SinkModel>();
  return err::invalidField("model", absl::StrCat("unknown model \"", m, "\""));
}

}  // namespace gattway::sim
