// libFuzzer target for the CLI's CSV reader (tools/inferloop/csv.cpp): any
// bytes, read as a plain numeric CSV and as a feature file (timestamp_ns
// first), must give a table or an inferloop::Error; never a crash, a bad
// read, a hang or an unbounded message. A table that reads is also checked
// against the reader's own invariants, and its values are written with
// write_csv_row and read back bit for bit (NaN as NaN), so a reader that
// mis-splits cells or rounds a value shows up as a crash. Build and run:
// see fuzz/CMakeLists.txt.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const std::string_view timestamp_column : {std::string_view(), std::string_view("timestamp_ns")}) {
    try {
      const inferloop::cli::CsvTable table =
          inferloop::cli::parse_csv(text, "fuzz.csv", {.timestamp_column = timestamp_column});
      check_table(table, !timestamp_column.empty());
    } catch (const inferloop::Error& error) {
      // The expected outcome for most mutated inputs; its message must stay
      // bounded whatever the input (quoted cells, a line prefix, a path).
      require(std::strlen(error.what()) < 2000);
    }
  }
  return 0;
}
