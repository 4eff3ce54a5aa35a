#include "ble/bluez/fd_watch.h"

#include <unistd.h>

namespace gattway::bluez {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

FdWatch::FdWatch(EventLoop& loop, int fd, short events, absl::AnyInvocable<bool(short)> onReady)
    : loop_(loop), fd_(fd), events_(events), onReady_(std::move(onReady)) {
  loop_.addSource(this);
}

FdWatch::~FdWatch() { loop_.removeSource(this); }

PollSource::Interest FdWatch::interest() {
  Interest in;
  in.fd = fd_;
  in.events = events_;
  return in;
}

bool FdWatch::dispatch(short revents) { return onReady_(revents); }

}  // namespace gattway::bluez
