// A file descriptor the EventLoop watches and closes: the simulator's end of an AcquireNotify or
// AcquireWrite socket. Loop thread only.
#pragma once

#include <unistd.h>

#include <functional>

#include "ble/event_loop.h"

namespace gattway::sim {

class FdWatch final : public PollSource {
 public:
  // Takes ownership of `fd`. `onEvent` gets poll's revents (POLLHUP arrives without asking).
  FdWatch(EventLoop& loop, int fd, short events, std::function<void(short revents)> onEvent)
      : loop_(loop), fd_(fd), events_(events), onEvent_(std::move(onEvent)) {
    loop_.addSource(this);
  }
  ~FdWatch() override {
    loop_.removeSource(this);
    ::close(fd_);
  }
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  int fd() const { return fd_; }
  Interest interest() override { return Interest{fd_, events_, std::nullopt}; }
  bool dispatch(short revents) override {
    if (revents != 0) {
      auto fn = onEvent_;  // the handler may destroy this watch
      fn(revents);
    }
    return false;
  }

 private:
  EventLoop& loop_;
  int fd_;
  short events_;
  std::function<void(short)> onEvent_;
};

}  // namespace gattway::sim
