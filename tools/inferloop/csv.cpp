// CSV for the inferloop CLI; see csv.hpp for the dialect and its limits.
//
// One parser (CsvParser) takes the text a line at a time; read_csv feeds it
// from the file in large blocks, parse_csv from memory, so both read the
// same dialect with the same checks.
#include "csv.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <optional>
#include <ostream>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop::cli {
namespace {

// Bytes read from the file at a time: several maximal lines, so that a
// line never needs more than the block, and few enough reads to keep the
// system calls out of the profile.
constexpr std::size_t kReadBlockBytes = 4 * kMaxCsvLineBytes;
static_assert(kReadBlockBytes > kMaxCsvLineBytes, "a whole line must fit in a block");

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

bool is_missing(std::string_view cell) {
  return cell.empty() || cell == "nan" || cell == "NaN" || cell == "NAN" || cell == "NA" ||
         cell == "-nan";
}

enum class FloatCell { kOk, kOutOfRange, kNotANumber };

// from_chars rounds the decimal text to the nearest float directly, so a
// value written by format_float reads back bit-identical (parsing to double
// first and narrowing can round twice).
FloatCell parse_float(std::string_view cell, float& value) {
  if (is_missing(cell)) {
    value = std::numeric_limits<float>::quiet_NaN();
    return FloatCell::kOk;
  }
  if (cell.starts_with('+')) cell.remove_prefix(1);  // from_chars takes '-' only
  const char* const end = cell.data() + cell.size();
  const auto [stop, error] = std::from_chars(cell.data(), end, value);
  if (error == std::errc::result_out_of_range && stop == end) return FloatCell::kOutOfRange;
  if (error != std::errc() || stop != end || cell.empty()) return FloatCell::kNotANumber;
  return FloatCell::kOk;
}

// The fast path for the common cell, a plain number ("0.25", "-3",
// "1700000000000000000", blanks around it allowed): parsed where it lies,
// in one scan, and `rest` moved past it and its comma. Anything else (a
// missing value, a '+', an out-of-range or malformed number) returns false
// with `rest` untouched, and the caller takes the careful path (take_cell),
// which reads it as before or reports it.
template <typename Number>
bool take_plain_number(std::string_view& rest, Number& value, bool& last) noexcept {
  const char* begin = rest.data();
  const char* const end = begin + rest.size();
  while (begin != end && (*begin == ' ' || *begin == '\t')) ++begin;
  Number parsed{};
  const auto [stop, error] = std::from_chars(begin, end, parsed);
  if (error != std::errc()) return false;
  const char* after = stop;
  while (after != end && (*after == ' ' || *after == '\t' || *after == '\r')) ++after;
  if (after != end && *after != ',') return false;
  value = parsed;
  last = after == end;
  rest = last ? std::string_view() : std::string_view(after + 1, static_cast<std::size_t>(end - after - 1));
  return true;
}

// The next cell of a line, trimmed, and `rest` moved past it; `last` is set
// when it was the line's last cell.
std::string_view take_cell(std::string_view& rest, bool& last) noexcept {
  const std::size_t comma = rest.find(',');
  const std::string_view cell = trim(rest.substr(0, comma));
  last = comma == std::string_view::npos;
  rest = last ? std::string_view() : rest.substr(comma + 1);
  return cell;
}

// The cells of one line, as trimmed views into it.
class CellCursor {
 public:
  explicit CellCursor(std::string_view line) : rest_(line) {}
  [[nodiscard]] bool done() const noexcept { return done_; }
  std::string_view next() noexcept {
    const std::size_t comma = rest_.find(',');
    const std::string_view cell = trim(rest_.substr(0, comma));
    if (comma == std::string_view::npos) {
      done_ = true;
    } else {
      rest_.remove_prefix(comma + 1);
    }
    return cell;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

std::size_t count_cells(std::string_view line) {
  std::size_t cells = 1;
  for (const char c : line) cells += c == ',' ? 1 : 0;
  return cells;
}

// What a header for `columns` columns could look like, for the hint given
// when the first line is data: "timestamp_ns,f0,f1,...,f31".
std::string header_example(std::size_t columns, std::string_view timestamp_column) {
  std::string text(timestamp_column);
  const std::size_t features = columns - (timestamp_column.empty() ? 0 : 1);
  constexpr std::size_t kShown = 2;
  for (std::size_t f = 0; f < features; ++f) {
    if (f == kShown && features > kShown + 1) {
      text += ",...";
      f = features - 1;
    }
    if (!text.empty()) text += ',';
    text += 'f' + std::to_string(f);
  }
  return text;
}

class CsvParser {
 public:
  CsvParser(std::string_view name, const CsvOptions& options) : name_(name), options_(options) {}

  // One line without its '\n'; `line_number` counts from 1.
  void line(std::string_view text, std::size_t line_number) {
    if (text.size() > kMaxCsvLineBytes) too_long(text, line_number);
    if (line_number == 1 && text.starts_with(kByteOrderMark)) text.remove_prefix(kByteOrderMark.size());
    if (trim(text).empty()) return;
    if (table_.header.empty()) {
      header(text, line_number);
    } else {
      row(text, line_number);
    }
  }

  // A line that ran past kMaxCsvLineBytes without ending; `start` is its beginning.
  [[noreturn]] void too_long(std::string_view start, std::size_t line_number) const {
    throw Error(where(line_number) + ": the line is longer than " +
                std::to_string(kMaxCsvLineBytes) + " bytes (it starts " + detail::quote(start) +
                "); a feature file has one short line per row: is this a CSV file?");
  }

  [[nodiscard]] bool has_header() const noexcept { return !table_.header.empty(); }

  // A parser for later rows of the same file: the header, no rows.
  [[nodiscard]] CsvParser fork() const {
    CsvParser copy(name_, options_);
    copy.table_.header = table_.header;
    copy.table_.value_columns = table_.value_columns;
    return copy;
  }

  // Appends the rows `part` (a fork) read after this parser's.
  void append(CsvParser&& part) {
    CsvTable& from = part.table_;
    table_.values.insert(table_.values.end(), from.values.begin(), from.values.end());
    table_.timestamps.insert(table_.timestamps.end(), from.timestamps.begin(), from.timestamps.end());
    table_.lines.insert(table_.lines.end(), from.lines.begin(), from.lines.end());
  }

  CsvTable finish() && {
    if (table_.header.empty()) {
      throw Error(std::string(name_) + ": is empty; expected a header line naming the columns");
    }
    return std::move(table_);
  }

 private:
  std::string where(std::size_t line_number) const {
    return std::string(name_) + ":" + std::to_string(line_number);
  }
  std::string column_text(std::size_t column) const {
    return "column " + std::to_string(column + 1) + " (" + detail::quote(table_.header[column]) + ")";
  }

  void header(std::string_view text, std::size_t line_number) {
    const std::size_t columns = count_cells(text);
    if (columns > kMaxCsvColumns) {
      throw Error(where(line_number) + ": the header names " + std::to_string(columns) +
                  " columns; at most " + std::to_string(kMaxCsvColumns) + " are read");
    }
    if (looks_like_data(text)) {
      throw Error(where(line_number) + ": the first line looks like data (all numbers), not a "
                  "header; add a header line: " + header_example(columns, options_.timestamp_column) +
                  " (the first line of the file is taken as the header, so it must name the "
                  "columns)");
    }
    CellCursor cells(text);
    for (std::size_t c = 0; !cells.done(); ++c) {
      const std::string_view cell = cells.next();
      if (cell.empty()) {
        throw Error(where(line_number) + ": column " + std::to_string(c + 1) +
                    " of the header has no name; the first line must name every column");
      }
      table_.header.emplace_back(cell);
    }
    const std::string_view timestamp = options_.timestamp_column;
    if (!timestamp.empty() && (table_.header.size() < 2 || table_.header.front() != timestamp)) {
      throw Error(where(line_number) + ": the first column must be " + std::string(timestamp) +
                  " followed by one column per feature; found " + detail::quote(table_.header.front()) +
                  (table_.header.size() < 2 ? " and no feature columns" : " first"));
    }
    table_.value_columns = table_.header.size() - (timestamp.empty() ? 0 : 1);
  }

  // A first line of numbers (or missing values) only: a data row, not names.
  static bool looks_like_data(std::string_view text) {
    CellCursor cells(text);
    bool any_number = false;
    while (!cells.done()) {
      const std::string_view cell = cells.next();
      float ignored = 0.0F;
      if (is_missing(cell)) continue;
      if (parse_float(cell, ignored) == FloatCell::kNotANumber) return false;
      any_number = true;
    }
    return any_number;
  }

  void row(std::string_view text, std::size_t line_number) {
    const std::size_t columns = table_.header.size();
    const bool has_timestamp = !options_.timestamp_column.empty();
    const std::size_t first_value = table_.values.size();
    table_.values.resize(first_value + table_.value_columns);
    float* const values = table_.values.data() + first_value;
    std::string_view rest = text;
    bool last = false;
    std::size_t column = 0;
    for (; !last; ++column) {
      if (column == columns) wrong_width(text, line_number);
      if (has_timestamp && column == 0) {
        std::int64_t timestamp = 0;
        if (!take_plain_number(rest, timestamp, last)) {
          const std::string_view cell = take_cell(rest, last);
          const std::optional<std::int64_t> parsed = detail::to_integer(cell);
          if (!parsed) {
            throw Error(where(line_number) + ": " + column_text(0) +
                        ": expected integer nanoseconds, found " + detail::quote(cell));
          }
          timestamp = *parsed;
        }
        table_.timestamps.push_back(timestamp);
        continue;
      }
      float& value = values[column - (has_timestamp ? 1 : 0)];
      if (take_plain_number(rest, value, last)) continue;
      const std::string_view cell = take_cell(rest, last);
      switch (parse_float(cell, value)) {
        case FloatCell::kOk:
          break;
        case FloatCell::kOutOfRange:
          throw Error(where(line_number) + ": " + column_text(column) + ": " + detail::quote(cell) +
                      " is out of the range of a 32-bit float");
        case FloatCell::kNotANumber:
          throw Error(where(line_number) + ": " + column_text(column) +
                      ": expected a number, found " + detail::quote(cell));
      }
    }
    if (column != columns) wrong_width(text, line_number);
    table_.lines.push_back(line_number);
  }

  [[noreturn]] void wrong_width(std::string_view text, std::size_t line_number) const {
    throw Error(where(line_number) + ": has " + std::to_string(count_cells(text)) +
                " columns, but the header has " + std::to_string(table_.header.size()) +
                "; every row needs one cell per column");
  }

  std::string_view name_;
  const CsvOptions& options_;
  CsvTable table_;
};

// Parses `text`, line by line ('\n' ends each; a last line without one
// counts too); its first line is line `line_number` + 1. Returns the line
// number of its last line.
std::size_t parse_lines(CsvParser& parser, std::string_view text, std::size_t line_number) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t newline = text.find('\n', start);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    parser.line(text.substr(start, end - start), ++line_number);
    start = end + 1;
  }
  return line_number;
}

// parse_lines(), on options.threads threads once the header is read and
// the text is at least options.parallel_min_bytes: one run of whole lines
// each, each run into a fork of the parser, appended in order. The same rows
// and, when lines are wrong, the same error (the first line's) as
// parse_lines() on one thread.
std::size_t parse_block(CsvParser& parser, std::string_view text, std::size_t line_number,
                        const CsvOptions& options) {
  const std::size_t threads = options.threads;
  if (threads <= 1 || text.size() < options.parallel_min_bytes) {
    return parse_lines(parser, text, line_number);
  }
  if (!parser.has_header()) {
    // The header first (it decides the columns every fork reads).
    std::size_t start = 0;
    while (!parser.has_header() && start < text.size()) {
      const std::size_t newline = text.find('\n', start);
      const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
      parser.line(text.substr(start, end - start), ++line_number);
      start = end + 1;
    }
    text.remove_prefix(std::min(start, text.size()));
    if (text.size() < options.parallel_min_bytes) return parse_lines(parser, text, line_number);
  }
  struct Part {
    std::string_view text;
    std::size_t line_number = 0;  // of the line before its first
    std::exception_ptr error;
  };
  std::vector<Part> parts(threads);
  std::size_t begin = 0;
  std::size_t line = line_number;
  for (std::size_t t = 0; t < threads; ++t) {
    std::size_t end = text.size();
    if (t + 1 < threads) {
      const std::size_t newline = text.find('\n', std::max(begin, text.size() / threads * (t + 1)));
      end = newline == std::string_view::npos ? text.size() : newline + 1;
    }
    parts[t].text = text.substr(begin, end - begin);
    parts[t].line_number = line;
    line += static_cast<std::size_t>(std::count(parts[t].text.begin(), parts[t].text.end(), '\n'));
    begin = end;
  }
  std::vector<CsvParser> forks;
  forks.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) forks.push_back(parser.fork());
  auto parse_part = [&](CsvParser& into, Part& part) noexcept {
    try {
      (void)parse_lines(into, part.text, part.line_number);
    } catch (...) {
      part.error = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> helpers;
    for (std::size_t t = 1; t < threads; ++t) {
      helpers.emplace_back([&, t] { parse_part(forks[t - 1], parts[t]); });
    }
    parse_part(parser, parts[0]);
  }  // joined
  for (const Part& part : parts) {
    if (part.error) std::rethrow_exception(part.error);
  }
  for (CsvParser& fork : forks) parser.append(std::move(fork));
  // A last line without its '\n' counts too.
  return line + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

}  // namespace

CsvTable parse_csv(std::string_view text, std::string_view name, const CsvOptions& options) {
  CsvParser parser(name, options);
  (void)parse_block(parser, text, 0, options);
  return std::move(parser).finish();
}

CsvTable read_csv(const std::filesystem::path& file, const CsvOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(file.string() + ": cannot open for reading (" + std::strerror(errno) +
                "); check the path and its permissions");
  }
  const std::string name = file.string();
  CsvParser parser(name, options);
  std::string block(kReadBlockBytes, '\0');
  std::size_t filled = 0;  // bytes of `block` holding text not yet parsed
  std::size_t line_number = 0;
  while (true) {
    in.read(block.data() + filled, static_cast<std::streamsize>(block.size() - filled));
    const auto read = static_cast<std::size_t>(in.gcount());
    if (in.bad()) {
      throw Error(name + ": read error after line " + std::to_string(line_number) + " (" +
                  std::strerror(errno) + ")");
    }
    filled += read;
    const bool at_end = read == 0 || in.eof();
    const std::string_view text(block.data(), filled);
    const std::size_t last_newline = text.rfind('\n');
    const std::size_t start = last_newline == std::string_view::npos ? 0 : last_newline + 1;
    line_number = parse_block(parser, text.substr(0, start), line_number, options);
    const std::string_view unfinished = text.substr(start);
    if (at_end) {
      if (!unfinished.empty()) parser.line(unfinished, ++line_number);
      break;
    }
    if (unfinished.size() > kMaxCsvLineBytes) parser.too_long(unfinished, line_number + 1);
    std::memmove(block.data(), unfinished.data(), unfinished.size());
    filled = unfinished.size();
  }
  return std::move(parser).finish();
}

char* write_float(char* out, float value) {
  constexpr std::string_view kNan = "nan";
  if (std::isnan(value)) return std::copy(kNan.begin(), kNan.end(), out);
  // Shortest text that parses back to the same float (to_chars guarantees
  // the round trip).
  const auto [end, error] = std::to_chars(out, out + kMaxFloatText, value);
  if (error != std::errc()) return std::copy(kNan.begin(), kNan.end(), out);  // unreachable
  return end;
}

std::string format_float(float value) {
  std::array<char, kMaxFloatText> buffer{};
  return std::string(buffer.data(), write_float(buffer.data(), value));
}

void write_csv_row(std::ostream& out, std::span<const float> first, std::span<const float> second) {
  std::array<char, kMaxFloatText + 1> cell;  // the separator, then the value
  bool separate = false;
  for (const std::span<const float> cells : {first, second}) {
    for (const float value : cells) {
      char* at = cell.data();
      if (separate) *at++ = ',';
      at = write_float(at, value);
      out.write(cell.data(), at - cell.data());
      separate = true;
    }
  }
  out.put('\n');
}

void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<float>& values) {
  for (std::size_t c = 0; c < header.size(); ++c) out << (c == 0 ? "" : ",") << header[c];
  out << '\n';
  if (header.empty()) return;
  for (std::size_t first = 0; first + header.size() <= values.size(); first += header.size()) {
    write_csv_row(out, std::span<const float>(values).subspan(first, header.size()));
  }
}

}  // namespace inferloop::cli
