// CSV reading and writing for the inferloop CLI (feature files in, result
// files out). A deliberately small dialect: comma-separated, one header line,
// numeric cells, no quoting inside numeric files. Empty cells, "nan", "NaN"
// and "NA" read as NaN (a missing value for XGBoost).
//
// Errors throw inferloop::Error naming the file, the line (1-based) and the
// column, e.g. "features.csv:17: column 3 ('spread'): expected a number, found 'abc'".
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace inferloop::cli {

struct CsvTable {
  std::vector<std::string> header;  // column names, in file order
  std::vector<float> values;        // row-major, rows() x header.size()
  std::size_t rows() const noexcept { return header.empty() ? 0 : values.size() / header.size(); }
};

// Reads a numeric CSV with a header line.
[[nodiscard]] CsvTable read_csv(const std::filesystem::path& file);

// Writes `header` then `rows` rows of `values` (row-major). Floats are written
// in the shortest form that reads back bit-identical (std::to_chars).
void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<float>& values);

// Formats one float so that parsing it back gives the same bits ("nan" for NaN).
[[nodiscard]] std::string format_float(float value);

}  // namespace inferloop::cli
