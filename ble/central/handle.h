// A move-only handle on something an owner keeps for its holder (a subscription, a queued
// request, a connection slot): destroying or resetting the handle gives it back by calling
// `(owner->*Release)(key)`. The owner must outlive its handles. Loop thread only.
#pragma once

#include <utility>

namespace gattway {

template <typename Owner, typename Key, void (Owner::*Release)(const Key&)>
class OwnedHandle {
 public:
  OwnedHandle() = default;
  OwnedHandle(Owner* owner, Key key) : owner_(owner), key_(std::move(key)) {}
  OwnedHandle(OwnedHandle&& o) noexcept
      : owner_(std::exchange(o.owner_, nullptr)), key_(std::move(o.key_)) {}
  OwnedHandle& operator=(OwnedHandle&& o) noexcept {
    if (this != &o) {
      reset();
      owner_ = std::exchange(o.owner_, nullptr);
      key_ = std::move(o.key_);
    }
    return *this;
  }
  OwnedHandle(const OwnedHandle&) = delete;
  OwnedHandle& operator=(const OwnedHandle&) = delete;
  ~OwnedHandle() { reset(); }

  // Gives it back now.
  void reset() {
    if (Owner* o = std::exchange(owner_, nullptr)) (o->*Release)(key_);
  }
  // Forgets it without giving it back (the owner keeps it running on its own).
  void detach() { owner_ = nullptr; }
  bool held() const { return owner_ != nullptr; }
  const Key& key() const { return key_; }

 private:
  Owner* owner_ = nullptr;
  Key key_{};
};

}  // namespace gattway
