// Byte arrays (`ay`) in and out of sdbus-c++ 1.2 messages in one piece.
//
// sdbus-c++ 1.2 (de)serialises `ay` one byte at a time, ~5x slower than sd-bus's array functions
// at 244 bytes (DBUS-PERF.md). Advertisement and notification payloads go through here instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sdbus-c++/Message.h"

struct sd_bus_message;

namespace gattway::dbus {

// The sd-bus message inside an sdbus-c++ one, for code that reads messages by hand with sd-bus's
// own functions (ble/bluez/message_parsing.h: the signal hot paths).
sd_bus_message* rawMessage(sdbus::Message& message);

// Reads an `ay` at the message's current position. Returns false (and leaves `out` empty) when
// the next item is not a byte array.
bool readBytes(sdbus::Message& message, std::vector<std::uint8_t>& out);

// Appends `ay` at the message's current position.
void appendBytes(sdbus::Message& message, const std::uint8_t* data, std::size_t size);
inline void appendBytes(sdbus::Message& message, const std::vector<std::uint8_t>& bytes) {
  appendBytes(message, bytes.data(), bytes.size());
}

// Skips the next complete value of type `signature` (e.g. "v") without decoding it: for the
// properties a signal handler does not want. Returns false when the next item is not of that type.
// Arrays of fixed-size elements (`ay` above all, at any depth) are skipped in one read, not
// element by element as sd_bus_message_skip does.
bool skip(sdbus::Message& message, const char* signature);

}  // namespace gattway::dbus
