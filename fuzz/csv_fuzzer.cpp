// libFuzzer target for the CLI's CSV reader (tools/inferloop/csv.cpp): any
// bytes, read as a plain numeric CSV and as a feature file (timestamp_ns
// first), must give a table or an inferloop::Error; never a crash, a bad
// read, a hang or an unbounded message. A table that reads is also checked
// against the reader's own invariants, and its values are written with
// write_csv_row and read back bit for bit (NaN as NaN), so a reader that
// mis-splits cells or rounds a value shows up as a crash. The same bytes
// parsed on 3 threads (runs of lines, csv.hpp's CsvOptions::threads, its
// size threshold lowered to 1 byte) must give the same table, or the same
// error, as on one. Build and run: see fuzz/CMakeLists.txt.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "csv.hpp"
#include "inferloop/error.hpp"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool same_value(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void check_table(const inferloop::cli::CsvTable& table, bool has_timestamp) {
  require(!table.header.empty());
  require(table.header.size() <= inferloop::cli::kMaxCsvColumns);
  require(table.value_columns == table.header.size() - (has_timestamp ? 1 : 0));
  require(table.values.size() == table.rows() * table.value_columns);
  require(table.timestamps.size() == (has_timestamp ? table.rows() : 0));
  for (std::size_t row = 1; row < table.rows(); ++row) require(table.lines[row] > table.lines[row - 1]);

  // Write the values under a plain header and read them back.
  if (table.value_columns == 0) return;
  std::ostringstream text;
  for (std::size_t c = 0; c < table.value_columns; ++c) text << (c == 0 ? "c" : ",c") << c;
  text << '\n';
  for (std::size_t row = 0; row < table.rows(); ++row) {
    inferloop::cli::write_csv_row(
        text, std::span<const float>(table.values).subspan(row * table.value_columns, table.value_columns));
  }
  const inferloop::cli::CsvTable again = inferloop::cli::parse_csv(text.str(), "round-trip");
  require(again.rows() == table.rows());
  for (std::size_t i = 0; i < table.values.size(); ++i) require(same_value(again.values[i], table.values[i]));
}

// The table, or the error's message.
struct Outcome {
  std::optional<inferloop::cli::CsvTable> table;
  std::string error;
};

Outcome parse(std::string_view text, const inferloop::cli::CsvOptions& options) {
  try {
    return {inferloop::cli::parse_csv(text, "fuzz.csv", options), {}};
  } catch (const inferloop::Error& error) {
    return {std::nullopt, error.what()};
  }
}

bool same_table(const inferloop::cli::CsvTable& a, const inferloop::cli::CsvTable& b) {
  if (a.header != b.header || a.timestamps != b.timestamps || a.lines != b.lines ||
      a.value_columns != b.value_columns || a.values.size() != b.values.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    if (!same_value(a.values[i], b.values[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const std::string_view timestamp_column : {std::string_view(), std::string_view("timestamp_ns")}) {
    const Outcome one = parse(text, {.timestamp_column = timestamp_column});
    if (one.table) {
      check_table(*one.table, !timestamp_column.empty());
    } else {
      // The expected outcome for most mutated inputs; its message must stay
      // bounded whatever the input (quoted cells, a line prefix, a path).
      require(one.error.size() < 2000);
    }
    const Outcome threaded = parse(
        text, {.timestamp_column = timestamp_column, .threads = 3, .parallel_min_bytes = 1});
    require(one.table.has_value() == threaded.table.has_value());
    require(one.table ? same_table(*one.table, *threaded.table) : one.error == threaded.error);
  }
  return 0;
}
