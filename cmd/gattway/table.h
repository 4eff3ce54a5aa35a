// Plain-text tables for the CLI: columns padded to their widest cell (counted in characters, so
// "°C" is two), two spaces apart, no trailing blanks. Streams print rows as they come with fixed
// widths (StreamTable), so the header is known before the first row.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace gattway::cli {

// Display width of UTF-8 text: code points, not bytes.
size_t displayWidth(absl::string_view text);

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // A row with fewer cells than headers is padded with empty cells; extra cells are an error in
  // the caller, and dropped.
  void addRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // Header line then rows, each ending in '\n'.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Rows printed one at a time with fixed column widths; a cell wider than its column pushes the
// rest of its row to the right rather than being cut. The last column is never padded.
class StreamTable {
 public:
  struct Column {
    std::string header;
    size_t width;
  };
  explicit StreamTable(std::vector<Column> columns);
  std::string header() const;
  std::string row(const std::vector<std::string>& cells) const;

 private:
  std::string line(const std::vector<std::string>& cells) const;
  std::vector<Column> columns_;
};

}  // namespace gattway::cli
