// Which kind of server-initiated update a subscription asks for; shared by the subscription hub
// and the policies that keep subscriptions.
#pragma once

#include <cstdint>

namespace gattway {

// Mirrors gattway.v1.SubscribeMode (common.proto).
enum class SubscribeMode : std::uint8_t { kAuto, kNotify, kIndicate };

}  // namespace gattway
