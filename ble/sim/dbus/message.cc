#include "ble/sim/dbus/message.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace gattway::sim::dbus {

Writer& Writer::b(bool v) {
  const int i = v ? 1 : 0;
  return check(sd_bus_message_append_basic(m_, 'b', &i));
}
Writer& Writer::y(std::uint8_t v) { return check(sd_bus_message_append_basic(m_, 'y', &v)); }
Writer& Writer::n(std::int16_t v) { return check(sd_bus_message_append_basic(m_, 'n', &v)); }
Writer& Writer::q(std::uint16_t v) { return check(sd_bus_message_append_basic(m_, 'q', &v)); }
Writer& Writer::i(std::int32_t v) { return check(sd_bus_message_append_basic(m_, 'i', &v)); }
Writer& Writer::u(std::uint32_t v) { return check(sd_bus_message_append_basic(m_, 'u', &v)); }
Writer& Writer::x(std::int64_t v) { return check(sd_bus_message_append_basic(m_, 'x', &v)); }
Writer& Writer::t(std::uint64_t v) { return check(sd_bus_message_append_basic(m_, 't', &v)); }
Writer& Writer::d(double v) { return check(sd_bus_message_append_basic(m_, 'd', &v)); }
Writer& Writer::s(absl::string_view v) {
  return check(sd_bus_message_append_basic(m_, 's', std::string(v).c_str()));
}
Writer& Writer::o(absl::string_view v) {
  return check(sd_bus_message_append_basic(m_, 'o', std::string(v).c_str()));
}
Writer& Writer::h(int fd) { return check(sd_bus_message_append_basic(m_, 'h', &fd)); }
Writer& Writer::bytes(absl::Span<const std::uint8_t> v) {
  return check(sd_bus_message_append_array(m_, 'y', v.data(), v.size()));
}
Writer& Writer::strings(const std::vector<std::string>& v) {
  open('a', "s");
  for (const auto& s1 : v) s(s1);
  return close();
}
Writer& Writer::paths(const std::vector<std::string>& v) {
  open('a', "o");
  for (const auto& p : v) o(p);
  return close();
}
Writer& Writer::open(char type, const char* contents) {
  return check(sd_bus_message_open_container(m_, type, contents));
}
Writer& Writer::close() { return check(sd_bus_message_close_container(m_)); }

// --- Value ------------------------------------------------------------------------------------

std::optional<bool> Value::asBool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

std::optional<std::int64_t> Value::asInt(const char* sig) const {
  if (sig != nullptr && signature != sig) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<std::uint64_t>(&data)) return static_cast<std::int64_t>(*u);
  return std::nullopt;
}

const std::string* Value::asString() const { return std::get_if<std::string>(&data); }
const Bytes* Value::asBytes() const { return std::get_if<Bytes>(&data); }
const std::vector<std::string>* Value::asStrings() const {
  return std::get_if<std::vector<std::string>>(&data);
}
const Value::Entries* Value::asDict() const { return std::get_if<Entries>(&data); }
const Value* Value::variantContent() const {
  if (signature != "v") return nullptr;
  const auto* items = std::get_if<Items>(&data);
  return items != nullptr && items->size() == 1 ? &items->front() : nullptr;
}

// --- Reader -----------------------------------------------------------------------------------

namespace {
template <typename T>
bool readBasic(sd_bus_message* m, char type, T& out) {
  return sd_bus_message_read_basic(m, type, &out) > 0;
}
}  // namespace

bool Reader::b(bool& v) {
  int i = 0;
  if (!readBasic(m_, 'b', i)) return false;
  v = i != 0;
  return true;
}
bool Reader::y(std::uint8_t& v) { return readBasic(m_, 'y', v); }
bool Reader::n(std::int16_t& v) { return readBasic(m_, 'n', v); }
bool Reader::q(std::uint16_t& v) { return readBasic(m_, 'q', v); }
bool Reader::u(std::uint32_t& v) { return readBasic(m_, 'u', v); }
bool Reader::s(std::string& v) {
  const char* p = nullptr;
  if (sd_bus_message_read_basic(m_, 's', &p) <= 0) return false;
  v = p;
  return true;
}
bool Reader::o(std::string& v) {
  const char* p = nullptr;
  if (sd_bus_message_read_basic(m_, 'o', &p) <= 0) return false;
  v = p;
  return true;
}
bool Reader::h(int& fd) { return readBasic(m_, 'h', fd); }

bool Reader::bytes(Bytes& v) {
  const void* p = nullptr;
  std::size_t size = 0;
  if (sd_bus_message_read_array(m_, 'y', &p, &size) < 0) return false;
  const auto* b = static_cast<const std::uint8_t*>(p);
  v.assign(b, b + size);
  return true;
}

bool Reader::strings(std::vector<std::string>& v) {
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m_, &type, &contents) <= 0 || type != 'a' || contents == nullptr ||
      (std::strcmp(contents, "s") != 0 && std::strcmp(contents, "o") != 0)) {
    return false;
  }
  const char elem = contents[0];
  if (sd_bus_message_enter_container(m_, 'a', contents) <= 0) return false;
  v.clear();
  const char* p = nullptr;
  while (sd_bus_message_read_basic(m_, elem, &p) > 0) v.emplace_back(p);
  return sd_bus_message_exit_container(m_) >= 0;
}

bool Reader::value(Value& v) {
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m_, &type, &contents) <= 0) return false;
  v = Value{};
  switch (type) {
    case 'b': {
      bool b1 = false;
      if (!b(b1)) return false;
      v.signature = "b";
      v.data = b1;
      return true;
    }
    case 'y': case 'q': case 'u': case 't': {
      std::uint64_t out = 0;
      bool ok = false;
      if (type == 'y') { std::uint8_t x = 0; ok = readBasic(m_, 'y', x); out = x; }
      if (type == 'q') { std::uint16_t x = 0; ok = readBasic(m_, 'q', x); out = x; }
      if (type == 'u') { std::uint32_t x = 0; ok = readBasic(m_, 'u', x); out = x; }
      if (type == 't') { std::uint64_t x = 0; ok = readBasic(m_, 't', x); out = x; }
      if (!ok) return false;
      v.signature = std::string(1, type);
      v.data = out;
      return true;
    }
    case 'n': case 'i': case 'x': case 'h': {
      std::int64_t out = 0;
      bool ok = false;
      if (type == 'n') { std::int16_t x = 0; ok = readBasic(m_, 'n', x); out = x; }
      if (type == 'i') { std::int32_t x = 0; ok = readBasic(m_, 'i', x); out = x; }
      if (type == 'x') { std::int64_t x = 0; ok = readBasic(m_, 'x', x); out = x; }
      if (type == 'h') { int x = 0; ok = readBasic(m_, 'h', x); out = x; }
      if (!ok) return false;
      v.signature = std::string(1, type);
      v.data = out;
      return true;
    }
    case 'd': {
      double d = 0;
      if (!readBasic(m_, 'd', d)) return false;
      v.signature = "d";
      v.data = d;
      return true;
    }
    case 's': case 'o': case 'g': {
      const char* p = nullptr;
      if (sd_bus_message_read_basic(m_, type, &p) <= 0) return false;
      v.signature = std::string(1, type);
      v.data = std::string(p);
      return true;
    }
    case 'v': {
      if (sd_bus_message_enter_container(m_, 'v', contents) <= 0) return false;
      Value inner;
      if (!value(inner)) return false;
      if (sd_bus_message_exit_container(m_) < 0) return false;
      v.signature = "v";
      v.data = Value::Items{std::move(inner)};
      return true;
    }
    case 'a': {
      const std::string c = contents;
      v.signature = "a" + c;
      if (c == "y") {
        Bytes bs;
        if (!bytes(bs)) return false;
        v.data = std::move(bs);
        return true;
      }
      if (c == "s" || c == "o") {
        std::vector<std::string> ss;
        if (!strings(ss)) return false;
        v.data = std::move(ss);
        return true;
      }
      if (sd_bus_message_enter_container(m_, 'a', contents) <= 0) return false;
      if (!c.empty() && c[0] == '{') {
        Value::Entries entries;
        const std::string entrySig = c.substr(1, c.size() - 2);
        while (sd_bus_message_enter_container(m_, 'e', entrySig.c_str()) > 0) {
          Value key, val;
          if (!value(key) || !value(val)) return false;
          if (sd_bus_message_exit_container(m_) < 0) return false;
          entries.emplace_back(std::move(key), std::move(val));
        }
        v.data = std::move(entries);
      } else {
        Value::Items items;
        while (sd_bus_message_at_end(m_, 0) == 0) {
          Value item;
          if (!value(item)) return false;
          items.push_back(std::move(item));
        }
        v.data = std::move(items);
      }
      return sd_bus_message_exit_container(m_) >= 0;
    }
    case 'r': {
      if (sd_bus_message_enter_container(m_, 'r', contents) <= 0) return false;
      Value::Items items;
      while (sd_bus_message_at_end(m_, 0) == 0) {
        Value item;
        if (!value(item)) return false;
        items.push_back(std::move(item));
      }
      v.signature = absl::StrCat("(", contents, ")");
      v.data = std::move(items);
      return sd_bus_message_exit_container(m_) >= 0;
    }
    default:
      return false;
  }
}

bool Reader::dict(Dict& v) {
  v.clear();
  if (sd_bus_message_enter_container(m_, 'a', "{sv}") <= 0) return false;
  while (sd_bus_message_enter_container(m_, 'e', "sv") > 0) {
    std::string key;
    if (!s(key)) return false;
    Value wrapped;
    if (!value(wrapped)) return false;
    const Value* content = wrapped.variantContent();
    if (content == nullptr) return false;
    v[key] = *content;
    if (sd_bus_message_exit_container(m_) < 0) return false;
  }
  return sd_bus_message_exit_container(m_) >= 0;
}

bool Reader::atEnd() { return sd_bus_message_at_end(m_, 1) > 0; }

std::string hex(absl::Span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

}  // namespace gattway::sim::dbus
