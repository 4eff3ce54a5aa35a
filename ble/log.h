// Structured, levelled logs: one line per event, as key=value or JSON (--log_format), through
// spdlog. An event has a dotted name ("session.connected") and fields; never log per
// advertisement or per notification above debug level.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gattway::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// One key and its value, rendered once.
struct Field {
  template <typename T>
    requires std::is_arithmetic_v<T>
  Field(absl::string_view k, T v) : key(k), value(absl::StrCat(v)), quoted(false) {
    if constexpr (std::is_same_v<T, bool>) value = v ? "true" : "false";
  }
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  Field(absl::string_view k, const absl::Status& s) : key(k), value(s.ToString()) {}

  absl::string_view key;
  std::string value;
  bool quoted = true;
};

// Configures the process-wide logger (stderr). Call once, early; until then text/info applies.
void configure(Format format, Level level);
bool parseLevel(absl::string_view text, Level* out);
bool parseFormat(absl::string_view text, Format* out);

bool enabled(Level level);
void write(Level level, absl::string_view event, std::initializer_list<Field> fields);

inline void debug(absl::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, event, fields);
}
inline void info(absl::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kInfo)) write(Level::kInfo, event, fields);
}
inline void warn(absl::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kWarn)) write(Level::kWarn, event, fields);
}
inline void error(absl::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::kError, event, fields);
}

}  // namespace gattway::log
