#include "ble/uuid.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway {
namespace {

// 00000000-0000-1000-8000-00805F9B34FB
constexpr std::array<std::uint8_t, 16> kBase = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                                0x80, 0x00, 0x00, 0x80, 0x5F, 0x9B, 0x34, 0xFB};

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Uuid Uuid::fromShort(std::uint32_t value) {
  std::array<std::uint8_t, 16> b = kBase;
  b[0] = static_cast<std::uint8_t>(value >> 24);
  b[1] = static_cast<std::uint8_t>(value >> 16);
  b[2] = static_cast<std::uint8_t>(value >> 8);
  b[3] = static_cast<std::uint8_t>(value);
  return Uuid(b);
}

absl::StatusOr<Uuid> Uuid::parse(absl::string_view text, absl::string_view field) {
  auto bad = [&] {
    return err::invalidField(
        field, absl::StrCat("\"", text.substr(0, 64),
                            "\" is not a UUID; expected a SIG short form such as \"180D\" or a "
                            "128-bit UUID such as \"6e400001-b5a3-f393-e0a9-e50e24dcca9e\""));
  };
  absl::string_view digits = text;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
  }
  if (digits.size() == 4 || digits.size() == 8) {
    std::uint32_t v = 0;
    for (char c : digits) {
      const int d = hexDigit(c);
      if (d < 0) return bad();
      v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return fromShort(v);
  }
  if (text.size() != 36) return bad();
  std::array<std::uint8_t, 16> b{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad();
      ++i;
      continue;
    }
    const int hi = hexDigit(text[i]);
    const int lo = hexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    b[out++] = static_cast<std::uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return Uuid(b);
}

std::optional<std::uint32_t> Uuid::shortValue() const {
  for (std::size_t i = 4; i < 16; ++i) {
    if (bytes_[i] != kBase[i]) return std::nullopt;
  }
  return (std::uint32_t{bytes_[0]} << 24) | (std::uint32_t{bytes_[1]} << 16) |
         (std::uint32_t{bytes_[2]} << 8) | std::uint32_t{bytes_[3]};
}

std::string Uuid::toString() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (auto v = shortValue()) {
    const int digits = *v > 0xFFFF ? 8 : 4;
    std::string s(static_cast<std::size_t>(digits), '0');
    std::uint32_t x = *v;
    for (int i = digits - 1; i >= 0; --i, x >>= 4) s[static_cast<std::size_t>(i)] = kHex[x & 0xF];
    return s;
  }
  return toLongString();
}

std::string Uuid::toLongString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes_[i] >> 4]);
    s.push_back(kHex[bytes_[i] & 0x0f]);
  }
  return s;
}

}  // namespace gattway
