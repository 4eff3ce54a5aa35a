// Writing and reading sd-bus messages for the simulated BlueZ.
//
// The simulator speaks sd-bus directly rather than through sdbus-c++'s object API: sd-bus vtables
// cannot leave a property out of GetAll, and BlueZ does that all the time (RSSI after discovery,
// Value before the first read, MTU while disconnected: bluez-5.66-api.md §0). Byte arrays go in and
// out in one piece (DBUS-PERF.md).
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace gattway::sim::dbus {

using Bytes = std::vector<std::uint8_t>;

// An owned reference to an sd_bus_message.
class Message {
 public:
  Message() = default;
  // Takes over one reference.
  static Message adopt(sd_bus_message* m) { return Message(m); }
  // Adds a reference.
  static Message ref(sd_bus_message* m) { return Message(sd_bus_message_ref(m)); }
  Message(Message&& other) noexcept : m_(std::exchange(other.m_, nullptr)) {}
  Message& operator=(Message&& other) noexcept {
    if (this != &other) {
      reset();
      m_ = std::exchange(other.m_, nullptr);
    }
    return *this;
  }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  ~Message() { reset(); }
  void reset() {
    if (m_ != nullptr) sd_bus_message_unref(m_);
    m_ = nullptr;
  }
  sd_bus_message* get() const { return m_; }
  explicit operator bool() const { return m_ != nullptr; }

 private:
  explicit Message(sd_bus_message* m) : m_(m) {}
  sd_bus_message* m_ = nullptr;
};

// Appends to a message. The first failure is remembered and later appends do nothing; ok() tells.
// (sd-bus only fails here on allocation or a signature mistake in our own code.)
class Writer {
 public:
  explicit Writer(sd_bus_message* m) : m_(m) {}

  Writer& b(bool v);
  Writer& y(std::uint8_t v);
  Writer& n(std::int16_t v);
  Writer& q(std::uint16_t v);
  Writer& i(std::int32_t v);
  Writer& u(std::uint32_t v);
  Writer& x(std::int64_t v);
  Writer& t(std::uint64_t v);
  Writer& d(double v);
  Writer& s(absl::string_view v);
  Writer& s(const std::string& v) { return check(sd_bus_message_append_basic(m_, 's', v.c_str())); }
  Writer& s(const char* v) { return check(sd_bus_message_append_basic(m_, 's', v)); }
  Writer& o(absl::string_view v);
  Writer& o(const std::string& v) { return check(sd_bus_message_append_basic(m_, 'o', v.c_str())); }
  Writer& h(int fd);  // sd-bus duplicates the descriptor
  Writer& bytes(absl::Span<const std::uint8_t> v);  // ay, in one piece
  Writer& strings(const std::vector<std::string>& v);  // as
  Writer& paths(const std::vector<std::string>& v);    // ao

  Writer& open(char type, const char* contents);
  Writer& close();

  // A dictionary entry {sv}: the key, then `value` writes the variant's content of type `sig`.
  template <typename F>
  Writer& entry(absl::string_view key, const char* sig, F&& value) {
    open('e', "sv").s(key).open('v', sig);
    value(*this);
    return close().close();
  }
  Writer& entry(absl::string_view key, bool v) {
    return entry(key, "b", [&](Writer& w) { w.b(v); });
  }
  Writer& entryString(absl::string_view key, absl::string_view v) {
    return entry(key, "s", [&](Writer& w) { w.s(v); });
  }
  Writer& entryPath(absl::string_view key, absl::string_view v) {
    return entry(key, "o", [&](Writer& w) { w.o(v); });
  }
  Writer& entryU16(absl::string_view key, std::uint16_t v) {
    return entry(key, "q", [&](Writer& w) { w.q(v); });
  }
  Writer& entryBytes(absl::string_view key, absl::Span<const std::uint8_t> v) {
    return entry(key, "ay", [&](Writer& w) { w.bytes(v); });
  }

  bool ok() const { return r_ >= 0; }
  sd_bus_message* raw() const { return m_; }

 private:
  Writer& check(int r) {
    if (r < 0 && r_ >= 0) r_ = r;
    return *this;
  }
  sd_bus_message* m_;
  int r_ = 0;
};

// A D-Bus value read without knowing its type beforehand: method options, discovery filters,
// advertisement properties, a hosted application's objects. Integers keep their signature, so a
// parser can insist on BlueZ's exact types ("RSSI" must be `n`).
class Value {
 public:
  using Items = std::vector<Value>;                     // arrays (other than ay, as, ao)
  using Entries = std::vector<std::pair<Value, Value>>;  // dictionaries a{..}

  std::string signature;  // the complete type, e.g. "n", "ay", "a{sv}"
  std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Bytes,
               std::vector<std::string>, Items, Entries>
      data;

  std::optional<bool> asBool() const;
  // Any integer type (y n q i u x t), or only the given signature when `sig` is set.
  std::optional<std::int64_t> asInt(const char* sig = nullptr) const;
  // s, o and g.
  const std::string* asString() const;
  // ay.
  const Bytes* asBytes() const;
  // as and ao.
  const std::vector<std::string>* asStrings() const;
  // Any dictionary.
  const Entries* asDict() const;
  // A variant's content is stored as a one-item Items with signature "v".
  const Value* variantContent() const;
};

// name → value, from an a{sv}.
using Dict = std::map<std::string, Value>;

// Reads from a message. Every method returns false when the next item is not of that type.
class Reader {
 public:
  explicit Reader(sd_bus_message* m) : m_(m) {}
  bool b(bool& v);
  bool y(std::uint8_t& v);
  bool n(std::int16_t& v);
  bool q(std::uint16_t& v);
  bool u(std::uint32_t& v);
  bool s(std::string& v);
  bool o(std::string& v);
  bool h(int& fd);  // borrowed: owned by the message
  bool bytes(Bytes& v);
  bool strings(std::vector<std::string>& v);  // as or ao
  // Any single complete type at the current position.
  bool value(Value& v);
  // An a{sv}; keys are unique (a repeated key keeps its last value).
  bool dict(Dict& v);
  bool atEnd();
  sd_bus_message* raw() const { return m_; }

 private:
  sd_bus_message* m_;
};

// Lower-case hex without separators, for logs and error messages.
std::string hex(absl::Span<const std::uint8_t> bytes);

}  // namespace gattway::sim::dbus
