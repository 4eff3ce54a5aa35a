#include "ble/log.h"

#include <atomic>
#include <memory>
#include <mutex>

#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace gattway::log {
namespace {

std::atomic<Format> gFormat{Format::kText};
std::atomic<Level> gLevel{Level::kInfo};

spdlog::level::level_enum toSpd(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

void applyPattern(spdlog::logger& logger, Format format) {
  // Timestamps in UTC, RFC 3339 with milliseconds.
  const char* pattern = format == Format::kJson
                            ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})"
                            : "ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v";
  logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(
      pattern, spdlog::pattern_time_type::utc));
}

spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto l = std::make_shared<spdlog::logger>(
        "gattway", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    applyPattern(*l, Format::kText);
    l->set_level(spdlog::level::debug);  // filtering happens in enabled()
    l->flush_on(spdlog::level::debug);
    return l;
  }();
  return *instance;
}

bool needsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void appendEscaped(std::string& out, absl::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

void configure(Format format, Level level) {
  gFormat.store(format);
  gLevel.store(level);
  applyPattern(logger(), format);
}

bool parseLevel(absl::string_view text, Level* out) {
  if (text == "debug") *out = Level::kDebug;
  else if (text == "info") *out = Level::kInfo;
  else if (text == "warn" || text == "warning") *out = Level::kWarn;
  else if (text == "error") *out = Level::kError;
  else return false;
  return true;
}

bool parseFormat(absl::string_view text, Format* out) {
  if (text == "text") *out = Format::kText;
  else if (text == "json") *out = Format::kJson;
  else return false;
  return true;
}

bool enabled(Level level) { return level >= gLevel.load(std::memory_order_relaxed); }

void write(Level level, absl::string_view event, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(64 + fields.size() * 24);
  if (gFormat.load(std::memory_order_relaxed) == Format::kJson) {
    line += "\"event\":\"";
    appendEscaped(line, event);
    line += '"';
    for (const Field& f : fields) {
      line += ",\"";
      appendEscaped(line, f.key);
      line += "\":";
      if (f.quoted) line += '"';
      appendEscaped(line, f.value);
      if (f.quoted) line += '"';
    }
  } else {
    line += "event=";
    line.append(event.data(), event.size());
    for (const Field& f : fields) {
      line += ' ';
      line.append(f.key.data(), f.key.size());
      line += '=';
      if (needsQuotes(f.value)) {
        line += '"';
        appendEscaped(line, f.value);
        line += '"';
      } else {
        line += f.value;
      }
    }
  }
  logger().log(toSpd(level), "{}", line);
}

}  // namespace gattway::log
