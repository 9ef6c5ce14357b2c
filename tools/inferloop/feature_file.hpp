// What `inferloop run` and `inferloop backtest` share: the feature file they
// replay and the results file they write (feature_file.cpp).
//
// Results file: a header, then one line per row of every result that became
// the latest, in feature_seq order:
//   feature_seq,feature_time_ns,published_at_ns,started_at_ns,completed_at_ns,
//   model_version,replica_id,row,prediction (or prediction_0, prediction_1, ...)
// completed_at_ns - started_at_ns is the inference latency that
// `inferloop backtest --latency replay:FILE` replays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "inferloop/prediction.hpp"

namespace inferloop::cli {

// The snapshots of a feature file: values row-major, and per snapshot its
// first row, row count, timestamp and the file line it starts on.
struct FeatureFile {
  std::vector<std::string> feature_names;
  std::vector<float> values;
  std::size_t cols = 0;
  struct Snapshot {
    std::size_t first_row;
    std::size_t rows;
    std::int64_t timestamp_ns;
    std::size_t line;  // 1-based, for messages
  };
  std::vector<Snapshot> snapshots;
};

// Reads a feature CSV (a header line; first column timestamp_ns, then the
// features) in one pass. When max_rows > 1, consecutive lines with the same
// timestamp_ns form one snapshot. Throws inferloop::Error naming the file
// and line.
// `threads`: parse on this many threads (csv.hpp, CsvOptions::threads).
[[nodiscard]] FeatureFile load_feature_file(const std::filesystem::path& file, std::size_t max_rows,
                                            std::size_t threads = 1);

// A result's metadata, as written to a results file.
struct ResultFields {
  std::uint64_t feature_seq = 0;
  Timestamp feature_time{0}, published_at{0}, started_at{0}, completed_at{0};
  std::uint64_t model_version = 0;
  std::uint32_t replica_id = 0, rows = 0, cols = 0;

  static ResultFields of(const Prediction& p) {
    return {p.feature_seq, p.feature_time, p.published_at, p.started_at, p.completed_at,
            p.model_version, p.replica_id, p.rows, p.cols};
  }
};

void write_results_header(std::ostream& out, std::size_t num_outputs);
// One line per row; `values` holds rows x cols predictions.
void write_result_rows(std::ostream& out, const ResultFields& result, const float* values);

}  // namespace inferloop::cli
