// `inferloop backtest`: replay a feature file through the loop in simulated
// time (include/inferloop/backtest.hpp) and write every result that would
// have become visible, as fast as the machine computes.
//
// The main thread plays the engine: for each snapshot it sets a ManualClock
// to the snapshot's timestamp_ns and publishes it. After the last one it
// moves the clock to when the loop will be idle (so the last snapshot's
// prediction is kept), stops the loop and prints a summary. Results reach the
// file through on_result, which in backtest mode runs on this thread, in
// feature_seq order, and go straight to the file (created before anything
// runs), so a backtest that fails part way keeps what it computed.
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"
#include "subcommand.hpp"
#include "console.hpp"
#include "feature_file.hpp"
#include "inferloop/inferloop.hpp"
#include "output_file.hpp"
#include "util/text.hpp"

namespace inferloop::cli {
namespace {

constexpr const char* kBacktestUsage = R"(usage: inferloop backtest CONFIG --features CSV --latency SPEC --results CSV [options]

Replays a feature file through an InferenceLoop in simulated time: each
snapshot is published at its timestamp_ns, predictions become visible after a
modelled inference latency on the config's num_replicas simulated replicas
(busy replicas conflate snapshots exactly as a live loop would), and every
result that becomes visible is written to --results. The same inputs, config,
latency and seed give a byte-identical results file, whatever --threads is.

options:
  --features CSV   the feature file (as for `inferloop run`): timestamp_ns, then
                   one column per model feature; timestamps must not decrease
  --latency SPEC   the inference latency of each simulated prediction:
                     zero                  visible the instant it starts
                     constant:50us         always 50 us
                     lognormal:40us,15us   random, mean 40 us, std dev 15 us
                                           (of the latency itself; seeded)
                     replay:FILE           the latencies (completed_at_ns -
                                           started_at_ns) of a results file from
                                           `inferloop run --results`, cycled
                   units: ns, us, ms, s
  --results CSV    write the results here (the format of `inferloop run --results`);
                   created before the backtest starts and written as it goes
  --threads N      threads computing predictions, 1 to 256 (default 1);
                   changes speed only
  --seed S         seed of the latency model, 0 to 2^63-1 (default 1)
  -h, --help       this text

Exit status: 0 success, 1 error (config, model, data, or a prediction
failed), 2 usage error.
)";

struct BacktestCliOptions {
  std::filesystem::path config;
  std::filesystem::path features;
  std::string latency;
  std::filesystem::path results;
  std::size_t threads = 1;
  std::uint64_t seed = 1;
};

BacktestCliOptions parse_options(const std::vector<std::string>& args) {
  BacktestCliOptions options;
  std::vector<std::string> positional;
  bool have_features = false, have_latency = false, have_results = false;
  ArgumentReader reader(args);
  while (!reader.done()) {
    const std::string arg = reader.next();
    if (arg == "--features") {
      options.features = reader.value();
      have_features = true;
    } else if (arg == "--latency") {
      options.latency = reader.value();
      have_latency = true;
    } else if (arg == "--results") {
      options.results = reader.value();
      have_results = true;
    } else if (arg == "--threads") {
      options.threads = parse_threads_flag(arg, reader.value());
    } else if (arg == "--seed") {
      options.seed = parse_seed_flag(arg, reader.value());
    } else if (reader.is_option()) {
      throw UsageError("unknown option " + detail::quote(arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 1) {
    throw UsageError(positional.empty() ? "missing CONFIG"
                                        : "expected one CONFIG, found " +
                                              std::to_string(positional.size()) + " arguments");
  }
  if (!have_features) throw UsageError("missing --features CSV");
  if (!have_latency) throw UsageError("missing --latency SPEC (e.g. --latency constant:50us)");
  if (!have_results) throw UsageError("missing --results CSV");
  options.config = positional.front();
  return options;
}

int backtest(const BacktestCliOptions& options) {
  // A results path that cannot be written fails now, not after the
  // backtest; the file is created once the inputs have been read.
  check_output_path(options.results, "--results");
  const InferenceConfig config = load_config(options.config);
  BacktestOptions backtest;
  backtest.latency = LatencyModel::parse(options.latency);
  backtest.seed = options.seed;
  backtest.threads = options.threads;
  // The compute threads parse the file first: reading it is a third of a
  // fast backtest's time on one thread.
  const auto read_started = std::chrono::steady_clock::now();
  const FeatureFile file = load_feature_file(options.features, config.max_rows, options.threads);
  const double read_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - read_started).count();
  for (std::size_t i = 1; i < file.snapshots.size(); ++i) {
    if (file.snapshots[i].timestamp_ns < file.snapshots[i - 1].timestamp_ns) {
      throw Error(options.features.string() + ":" + std::to_string(file.snapshots[i].line) +
                  ": timestamp_ns " +
                  std::to_string(file.snapshots[i].timestamp_ns) + " is before the previous " +
                  "snapshot's " + std::to_string(file.snapshots[i - 1].timestamp_ns) +
                  "; a backtest replays events in time order: sort the file by timestamp_ns");
    }
  }

  // Every row at its snapshot's timestamp; replay() groups rows into
  // snapshots again by the same rule (same timestamp, up to max_rows).
  std::vector<std::int64_t> timestamps(file.values.size() / std::max<std::size_t>(file.cols, 1));
  for (const auto& snapshot : file.snapshots) {
    std::fill_n(timestamps.begin() + static_cast<std::ptrdiff_t>(snapshot.first_row), snapshot.rows,
                snapshot.timestamp_ns);
  }

  OutputFile results_file(options.results, "--results");
  std::ostream& results = results_file.stream();
  std::uint64_t results_written = 0;
  bool header_written = false;
  auto on_result = [&](const Prediction& prediction) {
    if (!header_written) {
      write_results_header(results, prediction.cols);
      header_written = true;
    }
    write_result_rows(results, ResultFields::of(prediction), prediction.storage.data());
    ++results_written;
  };
  const auto started = std::chrono::steady_clock::now();
  ReplaySummary replayed;
  try {
    replayed = replay(config, backtest, {timestamps, file.values, file.cols}, on_result);
  } catch (const Error& error) {
    // The file's own name and line say more than a row number.
    throw Error(options.features.string() + ": " + error.what());
  }
  if (!header_written) write_results_header(results, replayed.model.num_outputs);
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  results_file.flush();
  const ModelInfo& info = replayed.model;
  const Timestamp end = replayed.idle_at;
  const LoopStats& stats = replayed.stats;
  const std::size_t rows = replayed.rows;
  std::ostringstream summary;
  summary << "inferloop backtest: " << options.features.string() << " with latency "
            << backtest.latency.describe() << ", seed " << options.seed << "\n"
            << "model        " << info.predictor << ", " << info.num_features << " features -> "
            << info.num_outputs << " output(s)\n"
            << "simulated    " << config.num_replicas << " replica(s), "
            << std::fixed << std::setprecision(6)
            << static_cast<double>(end.count() - file.snapshots.front().timestamp_ns) / 1e9
            << " s of simulated time\n"
            << "counters     rows " << rows << "  snapshots " << stats.snapshots_published
            << "  dispatched " << stats.dispatched << "  conflated " << stats.conflated
            << "  stale " << stats.stale_results << "  errors " << stats.errors << "\n"
            << "results      " << results_written << " written to " << options.results.string()
            << "\n"
            << "throughput   " << std::setprecision(0)
            << (elapsed_s > 0 ? static_cast<double>(rows) / elapsed_s : 0.0) << " rows/s ("
            << std::setprecision(3) << elapsed_s
            << " s wall loading the model, simulating, predicting and writing results, "
            << options.threads << " compute thread(s); reading the features took " << read_s
            << " s more)\n";
  print(std::cout, summary.str());
  if (stats.errors > 0) {
    const auto& error = replayed.last_error;
    print(std::cerr, "inferloop backtest: error: " + std::to_string(stats.errors) +
                         " prediction(s) failed; last: " +
                         (error ? error->message : std::string("(not recorded)")) + "\n");
    return 1;
  }
  return 0;
}

}  // namespace

int backtest_command(const std::vector<std::string>& args) {
  return run_subcommand("backtest", kBacktestUsage, args, parse_options, backtest);
}

}  // namespace inferloop::cli
