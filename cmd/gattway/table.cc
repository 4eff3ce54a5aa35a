#include "cmd/gattway/table.h"

#include <algorithm>

namespace gattway::cli {
namespace {

void appendPadded(std::string* out, const std::string& cell, size_t width, bool last) {
  *out += cell;
  if (last) return;
  const size_t w = displayWidth(cell);
  out->append(w < width ? width - w : 0, ' ');
  out->append("  ");
}

void trimRight(std::string* s) {
  while (!s->empty() && s->back() == ' ') s->pop_back();
}

}  // namespace

size_t displayWidth(absl::string_view text) {
  // Every byte that is not a UTF-8 continuation byte (10xxxxxx) starts a code point.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::addRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    widths[c] = displayWidth(headers_[c]);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], displayWidth(row[c]));
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      appendPadded(&line, cells[c], widths[c], c + 1 == cells.size());
    }
    trimRight(&line);
    out += line;
    out += '\n';
  };
  emit(headers_);
  for (const auto& row : rows_) emit(row);
  return out;
}

StreamTable::StreamTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

std::string StreamTable::line(const std::vector<std::string>& cells) const {
  std::string out;
  size_t wanted = 0;  // where the current column should start
  for (size_t c = 0; c < columns_.size(); ++c) {
    const std::string cell = c < cells.size() ? cells[c] : "";
    const size_t at = displayWidth(out);
    if (at < wanted) out.append(wanted - at, ' ');
    out += cell;
    if (c + 1 < columns_.size()) out += "  ";
    wanted += columns_[c].width + 2;
  }
  trimRight(&out);
  return out + "\n";
}

std::string StreamTable::header() const {
  std::vector<std::string> cells;
  for (const auto& c : columns_) cells.push_back(c.header);
  return line(cells);
}

std::string StreamTable::row(const std::vector<std::string>& cells) const { return line(cells); }

}  // namespace gattway::cli
