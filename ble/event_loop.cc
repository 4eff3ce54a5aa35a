#include "ble/event_loop.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <stdexcept>
#include <system_error>

namespace gattway {

EventLoop::EventLoop() {
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

EventLoop::~EventLoop() {
  // Destroy pending tasks before the fd goes: they may own objects whose destructors post.
  timers_.clear();
  {
    std::lock_guard lock(mu_);
    posted_.clear();
  }
  ::close(wakeFd_);
}

void EventLoop::addSource(PollSource* source) { sources_.push_back(source); }

void EventLoop::removeSource(PollSource* source) { std::erase(sources_, source); }

bool EventLoop::isLoopThread() const { return loopThread_.load() == std::this_thread::get_id(); }

void EventLoop::post(Task task) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_.load(std::memory_order_relaxed)) return;
    posted_.push_back(std::move(task));
    wake = !wakePending_;
    wakePending_ = true;
  }
  if (wake) {
    const std::uint64_t one = 1;
    // A full counter (never in practice) still leaves the fd readable, which is all we need.
    [[maybe_unused]] ssize_t n = ::write(wakeFd_, &one, sizeof one);
  }
}

Timer EventLoop::runAfter(absl::Duration delay, Task task) {
  const auto now = Clock::now();
  const auto at = delay <= absl::ZeroDuration() ? now : now + absl::ToChronoNanoseconds(delay);
  const std::uint64_t id = nextTimerId_++;
  timers_.emplace(std::make_pair(at, id), std::move(task));
  timerDeadlines_.emplace(id, at);
  return Timer(this, id);
}

void EventLoop::cancelTimer(std::uint64_t id) {
  auto it = timerDeadlines_.find(id);
  if (it == timerDeadlines_.end()) return;
  timers_.erase({it->second, id});
  timerDeadlines_.erase(it);
}

void EventLoop::stop() {
  stopping_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeFd_, &one, sizeof one);
}

void EventLoop::runPosted() {
  // Drain the eventfd before taking the batch: a post() that lands after the swap then finds
  // wakePending_ false and writes again, so its wake-up cannot be swallowed.
  std::uint64_t drained;
  [[maybe_unused]] ssize_t n = ::read(wakeFd_, &drained, sizeof drained);
  std::vector<Task> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(posted_);
    wakePending_ = false;
  }
  for (auto& task : batch) task();
}

void EventLoop::runDueTimers() {
  const auto now = Clock::now();
  // Only timers due now; ones armed by these callbacks wait for the next turn. Each is taken out
  // just before it runs: a callback may cancel another timer due in the same turn (destroying the
  // object that owns it, e.g. a session timeout abandoning a connect whose own deadline is also
  // due), and that one must not run.
  std::vector<std::pair<Clock::time_point, std::uint64_t>> due;
  for (auto it = timers_.begin(); it != timers_.end() && it->first.first <= now; ++it) {
    due.push_back(it->first);
  }
  for (const auto& key : due) {
    auto node = timers_.extract(key);
    if (node.empty()) continue;  // cancelled by an earlier callback of this turn
    timerDeadlines_.erase(key.second);
    node.mapped()();
  }
}

int EventLoop::pollTimeoutMs(std::optional<Clock::time_point> sourceDeadline) const {
  std::optional<Clock::time_point> next = sourceDeadline;
  if (!timers_.empty()) {
    const auto t = timers_.begin()->first.first;
    if (!next || t < *next) next = t;
  }
  if (!next) return -1;
  const auto now = Clock::now();
  if (*next <= now) return 0;
  // Round up so that a timer is never woken for early and spun on.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

void EventLoop::run() {
  loopThread_.store(std::this_thread::get_id());
  std::vector<pollfd> fds;
  std::vector<PollSource::Interest> interests;
  bool moreReady = false;
  while (!stopping_.load()) {
    fds.clear();
    interests.clear();
    fds.push_back({wakeFd_, POLLIN, 0});
    std::optional<Clock::time_point> sourceDeadline;
    for (PollSource* s : sources_) {
      interests.push_back(s->interest());
      const auto& in = interests.back();
      fds.push_back({in.fd, in.events, 0});
      if (in.deadline && (!sourceDeadline || *in.deadline < *sourceDeadline)) {
        sourceDeadline = in.deadline;
      }
    }
    const int timeout = moreReady ? 0 : pollTimeoutMs(sourceDeadline);
    const int rc = ::poll(fds.data(), fds.size(), timeout);
    if (rc < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (stopping_.load()) break;

    const bool retry = moreReady;
    moreReady = false;
    if (fds[0].revents != 0) runPosted();
    runDueTimers();
    const auto now = Clock::now();
    // Sources may be removed by the callbacks above; dispatch only those still registered.
    const std::vector<PollSource*> sources = sources_;
    for (std::size_t i = 0; i < sources.size() && i + 1 < fds.size(); ++i) {
      const short revents = fds[i + 1].revents;
      const bool expired = interests[i].deadline && *interests[i].deadline <= now;
      if (revents == 0 && !expired && !retry) continue;
      if (std::find(sources_.begin(), sources_.end(), sources[i]) == sources_.end()) continue;
      moreReady = sources[i]->dispatch(revents) || moreReady;
    }
  }
}

LoopThread::LoopThread(const char* name) {
  std::promise<void> started;
  auto ready = started.get_future();
  thread_ = std::thread([this, name, &started] {
    pthread_setname_np(pthread_self(), name);
    loop_.post([&started] { started.set_value(); });
    loop_.run();
  });
  ready.wait();
}

LoopThread::~LoopThread() {
  loop_.stop();
  if (thread_.joinable()) thread_.join();
}

void LoopThread::runSync(absl::AnyInvocable<void()> fn) {
  if (loop_.isLoopThread()) throw std::logic_error("runSync called on the loop thread");
  std::promise<void> done;
  auto finished = done.get_future();
  loop_.post([&] {
    fn();
    done.set_value();
  });
  finished.wait();
}

}  // namespace gattway
