// CSV for the inferloop CLI; see csv.hpp for the dialect.
#include "csv.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <ostream>
#include <string_view>

#include "inferloop/error.hpp"

namespace inferloop::cli {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

bool is_missing(std::string_view cell) {
  return cell.empty() || cell == "nan" || cell == "NaN" || cell == "NAN" || cell == "NA" ||
         cell == "-nan";
}

}  // namespace

CsvTable read_csv(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(file.string() + ": cannot open for reading; check the path and its permissions");
  }
  CsvTable table;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // UTF-8 BOM
    if (trim(line).empty()) continue;
    const std::vector<std::string_view> cells = split(line);
    if (table.header.empty()) {
      for (std::size_t c = 0; c < cells.size(); ++c) {
        if (cells[c].empty()) {
          throw Error(file.string() + ":" + std::to_string(line_number) + ": column " +
                      std::to_string(c + 1) + " of the header has no name; the first line " +
                      "must name every column");
        }
        table.header.emplace_back(cells[c]);
      }
      continue;
    }
    if (cells.size() != table.header.size()) {
      throw Error(file.string() + ":" + std::to_string(line_number) + ": has " +
                  std::to_string(cells.size()) + " columns, but the header has " +
                  std::to_string(table.header.size()) + "; every row needs one cell per column");
    }
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string_view cell = cells[c];
      if (is_missing(cell)) {
        table.values.push_back(std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      // from_chars rounds the decimal text to the nearest float directly, so
      // a value written by format_float reads back bit-identical (parsing to
      // double first and narrowing can round twice).
      std::string_view number = cell.starts_with('+') ? cell.substr(1) : cell;
      float value = 0.0F;
      const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
      if (error == std::errc::result_out_of_range) {
        throw Error(file.string() + ":" + std::to_string(line_number) + ": column " +
                    std::to_string(c + 1) + " ('" + table.header[c] + "'): '" + std::string(cell) +
                    "' is out of the range of a 32-bit float");
      }
      if (error != std::errc() || end != number.data() + number.size()) {
        throw Error(file.string() + ":" + std::to_string(line_number) + ": column " +
                    std::to_string(c + 1) + " ('" + table.header[c] + "'): expected a number, " +
                    "found '" + std::string(cell) + "'");
      }
      table.values.push_back(value);
    }
  }
  if (in.bad()) throw Error(file.string() + ": read error after line " + std::to_string(line_number));
  if (table.header.empty()) {
    throw Error(file.string() + ": is empty; expected a header line naming the columns");
  }
  return table;
}

std::string format_float(float value) {
  if (std::isnan(value)) return "nan";
  // Shortest text that parses back to the same float (to_chars guarantees
  // the round trip).
  std::array<char, 32> buffer{};
  const auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (error != std::errc()) return "nan";  // unreachable: 32 chars hold any float
  return std::string(buffer.data(), end);
}

void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<float>& values) {
  for (std::size_t c = 0; c < header.size(); ++c) out << (c == 0 ? "" : ",") << header[c];
  out << '\n';
  if (header.empty()) return;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out << format_float(values[i]) << ((i + 1) % header.size() == 0 ? '\n' : ',');
  }
}

}  // namespace inferloop::cli
