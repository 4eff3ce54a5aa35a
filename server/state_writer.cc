#include "server/state_writer.h"

#include <utility>

#include "ble/log.h"

namespace gattway::server {

StateWriter::StateWriter(StateFile file) : file_(std::move(file)), thread_([this] { run(); }) {}

StateWriter::~StateWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void StateWriter::post(v1::GatewayConfig state) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_) ++superseded_;
    pending_ = std::move(state);
  }
  wake_.notify_one();
}

absl::Status StateWriter::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return !pending_ && !writing_; });
  return last_;
}

std::uint64_t StateWriter::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

std::uint64_t StateWriter::superseded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return superseded_;
}

void StateWriter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return pending_ || stop_; });
    if (!pending_) return;  // stopping, and everything is written
    v1::GatewayConfig state = std::move(*pending_);
    pending_.reset();
    writing_ = true;
    lock.unlock();
    absl::Status s = file_.save(state);
    if (!s.ok()) log::error("state.save_failed", {{"file", file_.path()}, {"error", s}});
    lock.lock();
    writing_ = false;
    if (s.ok()) ++written_;
    last_ = std::move(s);
    if (!pending_) idle_.notify_all();
  }
}

}  // namespace gattway::server
