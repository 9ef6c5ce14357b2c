// Feature files in and results files out, for `inferloop run` and
// `inferloop backtest`; see feature_file.hpp.
#include "feature_file.hpp"

#include <charconv>
#include <ostream>
#include <utility>
#include <vector>

#include "csv.hpp"
#include "inferloop/error.hpp"

namespace inferloop::cli {

FeatureFile load_feature_file(const std::filesystem::path& file, std::size_t max_rows,
                              std::size_t threads) {
  // The timestamps are read as the int64 they are in the same pass: a
  // float32 cannot hold a nanosecond epoch timestamp (1.7e18 needs 61 bits).
  CsvTable table = read_csv(file, {.timestamp_column = "timestamp_ns", .threads = threads});
  if (table.rows() == 0) throw Error(file.string() + ": no data rows after the header");

  FeatureFile out;
  out.feature_names.assign(table.header.begin() + 1, table.header.end());
  out.cols = table.value_columns;
  out.values = std::move(table.values);
  for (std::size_t row = 0; row < table.rows(); ++row) {
    const std::int64_t timestamp = table.timestamps[row];
    const bool joins_previous =
        max_rows > 1 && !out.snapshots.empty() && out.snapshots.back().timestamp_ns == timestamp;
    if (!joins_previous) {
      out.snapshots.push_back({row, 1, timestamp, table.lines[row]});
      continue;
    }
    if (++out.snapshots.back().rows > max_rows) {
      throw Error(file.string() + ":" + std::to_string(table.lines[row]) +
                  ": more than max_rows (" + std::to_string(max_rows) +
                  ") consecutive rows share timestamp_ns " + std::to_string(timestamp) +
                  "; raise max_rows in the config or give the rows distinct timestamps");
    }
  }
  return out;
}

namespace {

// write_result_rows()'s line, kept between calls so that a replay of a
// million results does not allocate one per call.
std::vector<char>& line_buffer() {
  thread_local std::vector<char> line;
  return line;
}

}  // namespace

void write_results_header(std::ostream& out, std::size_t num_outputs) {
  out << "feature_seq,feature_time_ns,published_at_ns,started_at_ns,completed_at_ns,model_version,"
         "replica_id,row";
  if (num_outputs == 1) {
    out << ",prediction";
  } else {
    for (std::size_t c = 0; c < num_outputs; ++c) out << ",prediction_" << c;
  }
  out << '\n';
}

void write_result_rows(std::ostream& out, const ResultFields& result, const float* values) {
  // Each line is formatted with std::to_chars into one buffer and written
  // at once: through the stream's operator<< field by field, writing took
  // longer than replaying and predicting a backtest (perf, 1M rows).
  constexpr std::size_t kIntegerText = 21;  // a signed 64-bit integer, with its sign
  std::vector<char>& line = line_buffer();
  line.resize(8 * (kIntegerText + 1) + std::size_t{result.cols} * (kMaxFloatText + 1) + 1);
  const auto integer = [](char* at, auto value) {
    *at = ',';
    return std::to_chars(at + 1, at + 1 + kIntegerText, value).ptr;
  };
  for (std::uint32_t r = 0; r < result.rows; ++r) {
    char* at = std::to_chars(line.data(), line.data() + kIntegerText, result.feature_seq).ptr;
    at = integer(at, result.feature_time.count());
    at = integer(at, result.published_at.count());
    at = integer(at, result.started_at.count());
    at = integer(at, result.completed_at.count());
    at = integer(at, result.model_version);
    at = integer(at, result.replica_id);
    at = integer(at, r);
    for (std::uint32_t c = 0; c < result.cols; ++c) {
      *at++ = ',';
      at = write_float(at, values[std::size_t{r} * result.cols + c]);
    }
    *at++ = '\n';
    out.write(line.data(), at - line.data());
  }
}

}  // namespace inferloop::cli
