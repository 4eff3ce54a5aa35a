#include "ble/bounded_queue.h"

#include "gtest/gtest.h"

namespace gattway {
namespace {

TEST(ABoundedQueue, DropsTheOldestWhenFullAndCountsThem) {
  BoundedQueue<int> q(3);
  for (int i = 1; i <= 5; ++i) q.push(i);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.takeDropped(), 2u);
  EXPECT_EQ(q.takeDropped(), 0u) << "the gap is reported once";
  EXPECT_EQ(q.take(10), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(q.droppedTotal(), 2u);
}

TEST(ABoundedQueue, TakesAtMostTheRequestedNumber) {
  BoundedQueue<int> q(10);
  for (int i = 0; i < 5; ++i) q.push(i);
  EXPECT_EQ(q.take(2), (std::vector<int>{0, 1}));
  EXPECT_EQ(q.size(), 3u);
}

}  // namespace
}  // namespace gattway
