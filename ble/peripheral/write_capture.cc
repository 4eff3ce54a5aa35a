#include "ble/peripheral/write_capture.h"

#include <algorithm>

namespace gattway::peripheral {

void WriteCapture::reset(std::size_t heldCapacity) {
  heldCapacity_ = heldCapacity;
  held_.clear();
  sequence_.clear();
}

std::uint64_t WriteCapture::subscribe(Filter filter, Sink sink) {
  const std::uint64_t id = nextSubscriber_++;
  auto& s = subscribers_[id];
  s.filter = std::move(filter);
  s.sink = std::move(sink);
  deliverHeld(s);
  return id;
}

void WriteCapture::setFilter(std::uint64_t subscription, Filter filter) {
  auto it = subscribers_.find(subscription);
  if (it == subscribers_.end()) return;
  it->second.filter = std::move(filter);
  deliverHeld(it->second);
}

void WriteCapture::unsubscribe(std::uint64_t subscription) { subscribers_.erase(subscription); }

void WriteCapture::deliverHeld(Subscriber& s) {
  // Held writes of every selected characteristic, merged back into arrival order.
  struct Item {
    std::uint64_t arrival;
    std::uint64_t dropped;
    CapturedWrite write;
  };
  std::vector<Item> items;
  for (auto it = held_.begin(); it != held_.end();) {
    if (!selects(s.filter, it->first)) {
      ++it;
      continue;
    }
    std::uint64_t dropped = it->second.takeDropped();
    for (Held& h : it->second.take(it->second.size())) {
      items.push_back({h.arrival, dropped, std::move(h.write)});
      dropped = 0;
    }
    it = held_.erase(it);
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.arrival < b.arrival; });
  for (Item& item : items) s.sink(item.write, item.dropped);
}

void WriteCapture::capture(AttributeId characteristic, CapturedWrite write) {
  write.sequence = ++sequence_[characteristic];
  metrics_.writesCaptured.add();
  bool delivered = false;
  for (auto& [id, s] : subscribers_) {
    if (!selects(s.filter, characteristic)) continue;
    s.sink(write, 0);
    delivered = true;
  }
  if (delivered) return;
  auto [it, inserted] = held_.try_emplace(characteristic, heldCapacity_);
  if (it->second.push(Held{++arrivals_, std::move(write)})) metrics_.writesDropped.add();
}

std::size_t WriteCapture::held(AttributeId characteristic) const {
  auto it = held_.find(characteristic);
  return it == held_.end() ? 0 : it->second.size();
}

}  // namespace gattway::peripheral
