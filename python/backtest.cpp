// backtest(): a whole backtest over numpy arrays in one call, on
// inferloop::replay() (include/inferloop/replay.hpp), the engine of
// `inferloop backtest`: the same inputs, config, latency and seed give the
// same results, bit for bit, whatever `threads` is.
//
// The replay runs with the GIL released; its results are collected into
// plain vectors on the replaying thread (replay() delivers them there, in
// feature_seq order) and handed to numpy without a copy (numpy_output.hpp).
// python/inferloop/_backtest.py wraps the columns in a BacktestResult.
//
// Snapshots: replay() publishes consecutive rows with the same timestamp as
// one snapshot, at most max_rows rows (its documented rule); snapshot k gets
// feature_seq k + 1. The table below follows that rule to map each result
// back to its input rows, and checks every result against it (rows and
// feature_time), so a change of the rule fails loudly instead of mislabelling
// rows.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "config_conversion.hpp"
#include "inferloop/error.hpp"
#include "inferloop/replay.hpp"
#include "numpy_output.hpp"

namespace inferloop::python {
namespace {

struct Columns {
  std::vector<std::uint64_t> feature_seq;
  std::vector<std::int64_t> row;  // the input row each value predicts
  std::vector<std::int64_t> feature_time_ns;
  std::vector<std::int64_t> published_at_ns;
  std::vector<std::int64_t> started_at_ns;
  std::vector<std::int64_t> visible_at_ns;
  std::vector<std::uint64_t> model_version;
  std::vector<std::uint32_t> replica_id;
  std::vector<float> values;  // rows x outputs

  void reserve(std::size_t rows) {
    feature_seq.reserve(rows);
    row.reserve(rows);
    feature_time_ns.reserve(rows);
    published_at_ns.reserve(rows);
    started_at_ns.reserve(rows);
    visible_at_ns.reserve(rows);
    model_version.reserve(rows);
    replica_id.reserve(rows);
  }
};

LatencyModel latency_model(nb::handle latency) {
  if (nb::isinstance<nb::str>(latency)) return LatencyModel::parse(nb::cast<std::string>(latency));
  // A recorded latency per dispatch, in nanoseconds (cycled).
  const TimestampVector latencies = timestamp_vector(latency, "backtest(latency)");
  std::vector<Timestamp> recorded;
  recorded.reserve(latencies.values().size());
  for (const std::int64_t ns : latencies.values()) recorded.emplace_back(ns);
  return LatencyModel::replay(std::move(recorded), "latency array");
}

nb::dict run_backtest(nb::handle config_object, nb::handle timestamps_object,
                      nb::handle features_object, nb::handle latency, std::uint64_t seed,
                      std::size_t threads, std::size_t max_batch_snapshots,
                      std::size_t replay_batch_rows) {
  const InferenceConfig config = to_config(config_object);
  BacktestOptions options;
  options.latency = latency_model(latency);
  options.seed = seed;
  options.threads = threads;
  options.max_batch_snapshots = max_batch_snapshots;
  options.replay_batch_rows = replay_batch_rows;
  const TimestampVector timestamps = timestamp_vector(timestamps_object, "backtest(timestamps)");
  const FeatureMatrix features = feature_matrix(features_object, "backtest(features)");
  const std::span<const std::int64_t> times = timestamps.values();
  if (features.rows != times.size()) {
    throw nb::value_error(("backtest: " + std::to_string(times.size()) + " timestamps but " +
                           std::to_string(features.rows) +
                           " feature rows; give one timestamp per row").c_str());
  }

  // replay()'s snapshot rule (see the file comment).
  std::vector<std::size_t> first_rows;
  for (std::size_t first = 0; first < times.size();) {
    std::size_t count = 1;
    while (first + count < times.size() && count < config.max_rows && times[first + count] == times[first]) {
      ++count;
    }
    first_rows.push_back(first);
    first += count;
  }
  first_rows.push_back(times.size());  // the end of the last snapshot
  const std::size_t snapshots = first_rows.size() - 1;

  Columns columns;
  columns.reserve(times.size());
  // Per snapshot: whether its result became visible. One that did not was
  // conflated, or stale (a newer result was visible first): replay() tells
  // the counts of each (stats), not which snapshot was which.
  std::vector<bool> visible(snapshots, false);
  std::string mismatch;
  auto on_result = [&](const Prediction& prediction) {
    const std::size_t index = prediction.feature_seq - 1;
    if (index >= snapshots || prediction.rows != first_rows[index + 1] - first_rows[index] ||
        prediction.feature_time.count() != times[first_rows[index]]) {
      if (mismatch.empty()) {
        mismatch = "backtest: the result for feature_seq " + std::to_string(prediction.feature_seq) +
                   " (" + std::to_string(prediction.rows) + " rows) matches no snapshot of the "
                   "input; inferloop::replay() grouped rows differently from its documented rule";
      }
      return;
    }
    visible[index] = true;
    const auto values = prediction.values();
    columns.values.insert(columns.values.end(), values.begin(), values.end());
    for (std::size_t r = 0; r < prediction.rows; ++r) {
      columns.feature_seq.push_back(prediction.feature_seq);
      columns.row.push_back(static_cast<std::int64_t>(first_rows[index] + r));
      columns.feature_time_ns.push_back(prediction.feature_time.count());
      columns.published_at_ns.push_back(prediction.published_at.count());
      columns.started_at_ns.push_back(prediction.started_at.count());
      columns.visible_at_ns.push_back(prediction.completed_at.count());
      columns.model_version.push_back(prediction.model_version);
      columns.replica_id.push_back(prediction.replica_id);
    }
  };

  ReplaySummary summary;
  double wall_seconds = 0;
  {
    nb::gil_scoped_release release;
    const auto started = std::chrono::steady_clock::now();
    summary = replay(config, options, {times, features.values(), features.cols}, on_result);
    wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  if (!mismatch.empty()) throw Error(mismatch);
  if (summary.stats.errors > 0) {
    throw Error("backtest: " + std::to_string(summary.stats.errors) + " prediction(s) failed; last: " +
                (summary.last_error ? summary.last_error->message : std::string("(not recorded)")));
  }

  const std::size_t result_rows = columns.feature_seq.size();
  const std::size_t outputs = summary.model.num_outputs;
  nb::dict result;
  result["feature_seq"] = to_numpy(std::move(columns.feature_seq), {result_rows});
  result["row"] = to_numpy(std::move(columns.row), {result_rows});
  result["feature_time_ns"] = to_numpy(std::move(columns.feature_time_ns), {result_rows});
  result["published_at_ns"] = to_numpy(std::move(columns.published_at_ns), {result_rows});
  result["started_at_ns"] = to_numpy(std::move(columns.started_at_ns), {result_rows});
  result["visible_at_ns"] = to_numpy(std::move(columns.visible_at_ns), {result_rows});
  result["model_version"] = to_numpy(std::move(columns.model_version), {result_rows});
  result["replica_id"] = to_numpy(std::move(columns.replica_id), {result_rows});
  result["values"] = outputs == 1 ? to_numpy(std::move(columns.values), {result_rows})
                                  : to_numpy(std::move(columns.values), {result_rows, outputs});
  first_rows.pop_back();
  std::vector<std::int64_t> snapshot_first_row(first_rows.begin(), first_rows.end());
  result["snapshot_first_row"] = to_numpy(std::move(snapshot_first_row), {snapshots});
  std::vector<std::uint8_t> snapshot_visible(visible.begin(), visible.end());
  result["snapshot_visible"] = to_numpy(std::move(snapshot_visible), {snapshots});
  result["stats"] = summary.stats;
  result["model"] = summary.model;
  result["rows"] = summary.rows;
  result["snapshots"] = summary.snapshots;
  result["first_event_ns"] = summary.first_event.count();
  result["idle_at_ns"] = summary.idle_at.count();
  result["latency"] = options.latency.describe();
  result["wall_seconds"] = wall_seconds;
  return result;
}

}  // namespace

void bind_backtest(nb::module_& module) {
  module.def("_backtest", &run_backtest, nb::arg("config"), nb::arg("timestamps"),
             nb::arg("features"), nb::arg("latency"), nb::arg("seed"), nb::arg("threads"),
             nb::arg("max_batch_snapshots"), nb::arg("replay_batch_rows"),
             "The compiled part of inferloop.backtest(); call that instead.");
}

}  // namespace inferloop::python
