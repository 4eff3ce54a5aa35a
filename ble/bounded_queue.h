// A FIFO with a fixed capacity that drops its oldest entries when full and counts them, so a
// slow consumer never blocks its producer (ARCHITECTURE.md: every queue is bounded, and what it
// drops is counted and reported). Not synchronised: owners that share one across threads hold
// their own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace gattway {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Appends `item`; when full, first drops the oldest entry. Returns true when it dropped one.
  bool push(T item) {
    bool dropped = false;
    if (items_.size() >= capacity_) {
      items_.pop_front();
      ++droppedSinceTake_;
      ++droppedTotal_;
      dropped = true;
    }
    items_.push_back(std::move(item));
    return dropped;
  }

  // Removes and returns up to `max` entries, oldest first.
  std::vector<T> take(std::size_t max) {
    std::vector<T> out;
    const std::size_t n = max < items_.size() ? max : items_.size();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return out;
  }

  // Entries dropped since the last call (the size of the gap to report), and resets it.
  std::uint64_t takeDropped() {
    const std::uint64_t n = droppedSinceTake_;
    droppedSinceTake_ = 0;
    return n;
  }

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t droppedTotal() const { return droppedTotal_; }
  void clear() { items_.clear(); }

 private:
  std::size_t capacity_;
  std::deque<T> items_;
  std::uint64_t droppedSinceTake_ = 0;
  std::uint64_t droppedTotal_ = 0;
};

}  // namespace gattway
