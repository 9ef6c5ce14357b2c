// CSV reading and writing for the inferloop CLI (feature files in, result
// files out). A deliberately small dialect: comma-separated, one header line,
// numeric cells, no quoting inside numeric files. Empty cells, "nan", "NaN"
// and "NA" read as NaN (a missing value for XGBoost). Blank lines are
// skipped; a UTF-8 byte order mark before the header is ignored.
//
// The header is required, and checked: a first line whose cells are all
// numbers is refused with a hint rather than taken as the header, which
// would silently lose the first row. Lines are at most kMaxCsvLineBytes and
// rows at most kMaxCsvColumns cells, so a damaged file costs a bounded
// message, never unbounded memory per line.
//
// Errors throw inferloop::Error naming the file, the line (1-based) and the
// column, quoting input only through detail::quote, e.g.
// "features.csv:17: column 3 ('spread'): expected a number, found 'abc'".
//
// read_csv reads the file in one pass, in large blocks, parsing each cell in
// place (std::from_chars on a string_view; no allocation per cell), the
// lines of a block on CsvOptions::threads threads (parse_csv: the whole text
// is one block).
// parse_csv reads the same dialect from memory (the fuzz target uses it).
// Pure functions; any thread (read_csv starts threads - 1 threads of its own
// per block and joins them before it returns or throws).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace inferloop::cli {

// The longest line read, in bytes, and the most columns a header may name.
// 65536 columns of 16 characters fit in a line.
inline constexpr std::size_t kMaxCsvLineBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxCsvColumns = std::size_t{1} << 16;

struct CsvOptions {
  // Non-empty: the first column must carry this name (e.g. "timestamp_ns")
  // and holds integer nanoseconds, read exactly as int64 into
  // CsvTable::timestamps; at least one more column must follow. Empty:
  // every column is a float column.
  std::string_view timestamp_column;
  // The rows of each block read from the file (parse_csv: of the text) are
  // parsed on this many threads (runs of whole lines, appended in order):
  // the same table, and for a bad file the same first error, as with one.
  std::size_t threads = 1;
  // Below this many bytes a block is parsed on one thread: starting threads
  // costs more than it saves. Tests and the fuzzer lower it to reach the
  // threaded path with small inputs.
  std::size_t parallel_min_bytes = 256 * 1024;
};

struct CsvTable {
  std::vector<std::string> header;        // every column name, in file order
  std::vector<std::int64_t> timestamps;   // per row, when read with a timestamp column
  std::vector<float> values;              // row-major, rows() x value_columns
  std::vector<std::size_t> lines;         // per row, its 1-based line in the file
  std::size_t value_columns = 0;          // header.size(), less the timestamp column
  [[nodiscard]] std::size_t rows() const noexcept { return lines.size(); }
};

// Reads a numeric CSV file with a header line.
[[nodiscard]] CsvTable read_csv(const std::filesystem::path& file, const CsvOptions& options = {});

// The same, from text in memory; `name` stands for the file in messages.
[[nodiscard]] CsvTable parse_csv(std::string_view text, std::string_view name,
                                 const CsvOptions& options = {});

// Writes `header` then the rows of `values` (row-major). Floats are written
// in the shortest form that reads back bit-identical (std::to_chars).
void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<float>& values);

// One line: the cells of `first`, then those of `second` (either may be
// empty), comma-separated, as write_csv writes them.
void write_csv_row(std::ostream& out, std::span<const float> first,
                   std::span<const float> second = {});

// Formats one float so that parsing it back gives the same bits ("nan" for NaN).
[[nodiscard]] std::string format_float(float value);

// The most characters format_float() writes.
inline constexpr std::size_t kMaxFloatText = 32;
// Writes format_float(value) at `out`, which has room for kMaxFloatText
// characters, and returns the end of what it wrote.
char* write_float(char* out, float value);

}  // namespace inferloop::cli
