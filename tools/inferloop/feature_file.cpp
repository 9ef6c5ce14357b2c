// Feature files in and results files out, for `inferloop run` and
// `inferloop backtest`; see feature_file.hpp.
#include "feature_file.hpp"

#include <ostream>
#include <utility>

#include "csv.hpp"
#include "inferloop/error.hpp"

namespace inferloop::cli {

FeatureFile load_feature_file(const std::filesystem::path& file, std::size_t max_rows) {
  // The timestamps are read as the int64 they are in the same pass: a
  // float32 cannot hold a nanosecond epoch timestamp (1.7e18 needs 61 bits).
  CsvTable table = read_csv(file, {.timestamp_column = "timestamp_ns"});
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
  for (std::uint32_t r = 0; r < result.rows; ++r) {
    out << result.feature_seq << ',' << result.feature_time.count() << ','
        << result.published_at.count() << ',' << result.started_at.count() << ','
        << result.completed_at.count() << ',' << result.model_version << ','
        << result.replica_id << ',' << r;
    for (std::uint32_t c = 0; c < result.cols; ++c) {
      out << ',' << format_float(values[std::size_t{r} * result.cols + c]);
    }
    out << '\n';
  }
}

}  // namespace inferloop::cli
