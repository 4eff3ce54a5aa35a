// A file descriptor the gateway owns, and a watch that lets the EventLoop poll one: for the
// SOCK_SEQPACKET socket AcquireNotify hands over (bluez-5.66-api.md §3).
#pragma once

#include "absl/functional/any_invocable.h"
#include "ble/event_loop.h"

namespace gattway::bluez {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Polls `fd` for `events` on the loop; `onReady(revents)` runs on the loop thread. Its return
// value is the PollSource's: true when it stopped early with more to read. Registers in the
// constructor and unregisters in the destructor; it must not be destroyed from inside onReady.
class FdWatch final : public PollSource {
 public:
  FdWatch(EventLoop& loop, int fd, short events, absl::AnyInvocable<bool(short)> onReady);
  ~FdWatch() override;
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  Interest interest() override;
  bool dispatch(short revents) override;

 private:
  EventLoop& loop_;
  const int fd_;
  const short events_;
  absl::AnyInvocable<bool(short)> onReady_;
};

}  // namespace gattway::bluez
