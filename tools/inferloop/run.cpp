// `inferloop run`: serve a model in-process against a feature stream and
// report what the loop did.
//
// The main thread plays the engine: it paces snapshots with sleep_until (a
// timer, never a busy loop), publishes them into the loop's FeatureSlot,
// prints a status line once a second (status_line.hpp), and on the end
// (duration, end of file or Ctrl-C) stops the loop and prints a summary.
// With --metrics the loop also serves Prometheus metrics (docs/metrics.md).
// The results file is created before anything runs and filled while the
// run goes on (result_writer.hpp): replica threads hand each result to the
// writer, whose own thread appends them to the file, so an interrupted run
// keeps them.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"
#include "subcommand.hpp"
#include "console.hpp"
#include "feature_file.hpp"
#include "inferloop/inferloop.hpp"
#include "loop/loop_access.hpp"
#include "metrics/latency_window.hpp"
#include "output_file.hpp"
#include "result_writer.hpp"
#include "status_line.hpp"
#include "synthetic_feed.hpp"
#include "util/listen_address.hpp"
#include "util/text.hpp"

namespace inferloop::cli {

namespace {

constexpr const char* kRunUsage = R"(usage: inferloop run CONFIG [options]

Starts an InferenceLoop from CONFIG (a YAML file; see docs/configuration.md),
publishes feature snapshots into it and reports latency and counters.

options:
  --features CSV      replay this feature file instead of the synthetic feed
  --rate HZ           snapshots per second, 0.001 to 1000000 (default: the
                      file's own pace from timestamp_ns; 1000 for the
                      synthetic feed)
  --duration S        stop after S seconds, 0.001 to 31536000 (default 10 for
                      the synthetic feed; the whole file for --features)
  --results CSV       write every result that became the latest to CSV, with
                      its timestamps (started_at_ns..completed_at_ns is the
                      latency `inferloop backtest --latency replay:CSV` replays);
                      created before the run starts and written as it goes,
                      so an interrupted run keeps its results
  --max-results N     write at most N results to --results, 1 to 1000000000
                      (default 10000000)
  --seed N            seed of the synthetic feed, 0 to 2^63-1 (default 1)
  --metrics HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics
                      while the run goes on, e.g. 127.0.0.1:9464 (HOST an IPv4
                      address or localhost; port 0 = any free port); overrides
                      the config's metrics_listen. docs/metrics.md
  --quiet             no live status line
  -h, --help          this text

Feature CSV format: a header line (required: a first line of numbers is
refused, not taken as the header), then one line per row. The first column is
timestamp_ns (integer nanoseconds, the engine's timestamp of the snapshot),
then one column per model feature, in the model's feature order; empty, nan
and NA cells are missing values. Each line is one snapshot; when the config's
max_rows is above 1, consecutive lines with the same timestamp_ns form one
snapshot (one row per instrument, at most max_rows).

Synthetic feed: a seeded random-walk market for one instrument with the 8
features mid_price, spread, book_imbalance, return_1, return_10, return_100,
volatility_50, trade_imbalance (then noise_8, ... for wider models).

Ctrl-C stops early and still prints the summary (the results written so far
stay in --results); a second Ctrl-C kills.
Exit status: 0 success, 1 error (config, model, data, or a prediction
failed), 2 usage error.
)";

struct RunOptions {
  std::filesystem::path config;
  std::optional<std::filesystem::path> features;
  std::optional<std::chrono::nanoseconds> publish_period;  // from --rate
  std::optional<std::chrono::nanoseconds> duration;
  std::optional<std::filesystem::path> results;
  std::uint64_t max_results = 10'000'000;
  std::uint64_t seed = 1;
  std::optional<std::string> metrics_listen;
  bool quiet = false;
};

constexpr std::uint64_t kMaxResultsFlagLimit = 1'000'000'000;

RunOptions parse_run_options(const std::vector<std::string>& args) {
  RunOptions options;
  std::vector<std::string> positional;
  ArgumentReader reader(args);
  while (!reader.done()) {
    const std::string arg = reader.next();
    if (arg == "--features") {
      options.features = reader.value();
    } else if (arg == "--rate") {
      options.publish_period = parse_rate_flag(arg, reader.value());
    } else if (arg == "--duration") {
      options.duration = parse_duration_flag(arg, reader.value());
    } else if (arg == "--results") {
      options.results = reader.value();
    } else if (arg == "--max-results") {
      options.max_results = parse_count_flag(arg, reader.value(), 1, kMaxResultsFlagLimit);
    } else if (arg == "--seed") {
      options.seed = parse_seed_flag(arg, reader.value());
    } else if (arg == "--metrics") {
      const std::string listen = reader.value();
      try {
        options.metrics_listen = detail::parse_listen_address(listen, arg).text();
      } catch (const Error& error) {
        throw UsageError(error.what());
      }
    } else if (arg == "--quiet") {
      reader.no_value();
      options.quiet = true;
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
  options.config = positional.front();
  return options;
}

// Ctrl-C: the handler only sets a flag the main thread polls between sleeps.
// SA_RESETHAND restores the default action, so a second Ctrl-C kills.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void on_sigint(int) { g_interrupted.store(true, std::memory_order_relaxed); }

class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, &previous_);
  }
  ~SigintGuard() { sigaction(SIGINT, &previous_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
};

double micros(std::chrono::nanoseconds value) {
  return std::chrono::duration<double, std::micro>(value).count();
}

void print_latency(std::ostream& out, const char* name, const LatencySummary& summary) {
  out << "  " << std::left << std::setw(20) << name << std::right << std::setw(10)
      << summary.count << std::fixed << std::setprecision(1);
  for (auto value : {summary.p50, summary.p90, summary.p99, summary.p999, summary.max}) {
    out << std::setw(10) << micros(value);
  }
  out << '\n';
}

void print_summary(std::ostream& out, const InferenceLoop& loop, const LoopStats& stats,
                   double elapsed_s, const std::string& stop_reason) {
  const ModelInfo info = loop.model_info();
  const InferenceConfig& config = loop.config();
  out << "\ninferloop run: stopped after " << std::fixed << std::setprecision(2) << elapsed_s
      << " s (" << stop_reason << ")\n";
  out << "model        " << info.model.model_file.string() << " ("
      << to_string(info.model.format) << ", " << saved_by_text(info.model)
      << "; linked xgboost "
      << detail::version_text(linked_xgboost_version()) << ")\n";
  if (!info.model.registry_name.empty()) {
    out << "registry     " << info.model.registry_name << " version " << info.model.registry_version
        << " (" << info.model.uri << ")\n";
  }
  out << "predictor    " << info.predictor << ", " << info.num_features << " features -> "
      << info.num_outputs << " output(s), model_version " << info.model_version << "\n";
  out << "loop         " << config.num_replicas << " replica(s), wait_strategy "
      << to_string(config.wait_strategy) << ", max_rows " << config.max_rows << "\n";
  out << "counters     published " << stats.snapshots_published << "  rejected "
      << stats.snapshots_rejected << "  dispatched " << stats.dispatched << "  conflated "
      << stats.conflated << "  discarded_at_stop " << stats.discarded_at_stop << "\n"
      << "             predictions " << stats.predictions << "  errors " << stats.errors
      << "  stale_results " << stats.stale_results << "  history_dropped "
      << stats.history_dropped << "\n"
      << "             model_swaps " << stats.model_swaps << "  model_reload_failures "
      << stats.model_reload_failures << "\n";
  if (elapsed_s > 0) {
    out << "rates        " << std::setprecision(1)
        << static_cast<double>(stats.snapshots_published) / elapsed_s << " published/s, "
        << static_cast<double>(stats.predictions) / elapsed_s << " predictions/s\n";
  }
  out << "latency (us) " << std::setw(17) << "count" << std::setw(10) << "p50" << std::setw(10)
      << "p90" << std::setw(10) << "p99" << std::setw(10) << "p99.9" << std::setw(10) << "max"
      << "\n";
  print_latency(out, "queue_wait", stats.queue_wait);
  print_latency(out, "predict", stats.predict);
  print_latency(out, "publish_to_visible", stats.publish_to_visible);
}

// The wait between two snapshots at the file's own pace. A decreasing
// timestamp is no wait; a wait is capped at the longest --duration, so that
// timestamps far apart (int64 extremes, whose difference overflows int64)
// cannot overflow the clock: such a run waits for --duration or Ctrl-C.
std::chrono::nanoseconds file_gap(std::int64_t timestamp_ns, std::int64_t next_timestamp_ns) {
  if (next_timestamp_ns <= timestamp_ns) return std::chrono::nanoseconds(0);
  // Unsigned arithmetic: exact for any next > this, where int64 could overflow.
  const std::uint64_t gap =
      static_cast<std::uint64_t>(next_timestamp_ns) - static_cast<std::uint64_t>(timestamp_ns);
  const auto longest = static_cast<std::uint64_t>(kMaxDurationFlag.count());
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(gap, longest)));
}

// Sleeps until `deadline`, waking at least every 100 ms so that Ctrl-C is
// noticed promptly. Returns false when interrupted.
bool sleep_until(std::chrono::steady_clock::time_point deadline) {
  constexpr auto kSlice = std::chrono::milliseconds(100);
  while (!g_interrupted.load(std::memory_order_relaxed)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_until(std::min(deadline, now + kSlice));
  }
  return false;
}

int run(const RunOptions& options) {
  // A results path that cannot be written fails now, not after the run; the
  // file is created once the config and the features have been read.
  if (options.results) check_output_path(*options.results, "--results");
  InferenceConfig config = load_config(options.config);
  if (options.metrics_listen) config.metrics_listen = *options.metrics_listen;
  std::optional<FeatureFile> file;
  if (options.features) file = load_feature_file(*options.features, config.max_rows);
  std::optional<OutputFile> results_file;
  if (options.results) results_file.emplace(*options.results, "--results");
  using steady = std::chrono::steady_clock;
  const std::optional<std::chrono::nanoseconds> duration =
      file ? options.duration : options.duration.value_or(std::chrono::seconds(10));
  // The synthetic feed's default pace; a file without --rate keeps its own.
  const std::chrono::nanoseconds fixed_period =
      options.publish_period.value_or(std::chrono::milliseconds(1));
  const bool file_pace = file && !options.publish_period;

  // Declared before the loop, so it outlives the replica threads that call it.
  std::unique_ptr<ResultWriter> results;
  LoopOptions loop_options;
  if (results_file) {
    results = std::make_unique<ResultWriter>(*results_file, options.max_results);
    loop_options.on_result = [results = results.get()](const Prediction& prediction) {
      results->record(prediction);
    };
  }

  // Model swaps and failed reloads happen on the loop's refresh thread; the
  // main thread prints them between status lines.
  std::mutex notes_mutex;
  std::vector<std::string> notes;
  loop_options.on_model_change = [&](const ModelInfo& changed) {
    const std::lock_guard lock(notes_mutex);
    notes.push_back("inferloop run: swapped in " +
                    (changed.model.registry_version.empty()
                         ? changed.model.model_file.string()
                         : "registry version " + changed.model.registry_version) +
                    " of " + changed.model.uri + " as model_version " +
                    std::to_string(changed.model_version));
  };
  loop_options.on_error = [&](const LoopError& error) {
    if (error.feature_seq != 0) return;  // prediction errors: counted, summarised at the end
    const std::lock_guard lock(notes_mutex);
    notes.push_back("inferloop run: " + error.message);
  };
  if (config.model_refresh_interval.count() > 0) {
    bool moving = false;
    try {
      moving = parse_model_uri(config.model_uri).moving();
    } catch (const Error&) {
    }
    if (!moving) {
      print(std::cerr, "inferloop run: note: model_refresh_interval is set but " +
                           config.model_uri +
                           " names a fixed model (not an MLflow alias, stage or latest); "
                           "nothing to poll\n");
    }
  }

  InferenceLoop loop(config, std::move(loop_options));
  print(std::cerr, "inferloop run: loading " + config.model_uri + " into " +
                       std::to_string(config.num_replicas) + " replica(s)...\n");
  loop.start();
  if (const std::string url = metrics_url(loop); !url.empty()) {
    print(std::cerr, "inferloop run: serving metrics at " + url + "\n");
  }
  FeatureSlot& slot = loop.features();
  const std::size_t cols = slot.cols();
  if (file && file->cols != cols) {
    throw Error(options.features->string() + ":1: has " + std::to_string(file->cols) +
                " feature columns after timestamp_ns but the model (" + config.model_uri +
                ") takes " + std::to_string(cols) +
                "; write one column per model feature, in the model's order");
  }
  const ModelInfo info = loop.model_info();
  if (file && !info.model.signature_inputs.empty()) {
    for (std::size_t i = 0; i < cols && i < info.model.signature_inputs.size(); ++i) {
      if (info.model.signature_inputs[i].name != file->feature_names[i]) {
        print(std::cerr, "inferloop run: warning: " + options.features->string() + ":1: column " +
                             std::to_string(i + 2) + " is " + detail::quote(file->feature_names[i]) +
                             " but the model signature names feature " + std::to_string(i + 1) +
                             " " + detail::quote(info.model.signature_inputs[i].name) + "\n");
      }
    }
  }
  if (results) results->start(info.num_outputs);

  const SigintGuard sigint_guard;
  StatusLine status(!options.quiet);
  Prediction latest = loop.make_prediction();
  detail::LatencyWindow latency_window;
  std::optional<SyntheticFeed> feed;
  std::vector<float> synthetic_row;
  if (!file) {
    feed.emplace(cols, options.seed);
    synthetic_row.resize(cols);
  }

  const auto started = steady::now();
  // duration is at most a year (parse_duration_flag), so this cannot overflow.
  const auto end = duration ? started + *duration : steady::time_point::max();
  auto next_status = started + std::chrono::seconds(1);
  auto last_status = started;
  LoopStats status_before = loop.stats();
  auto next_publish = started;
  std::string stop_reason;
  std::size_t snapshot_index = 0;

  while (true) {
    if (file && snapshot_index >= file->snapshots.size()) {
      stop_reason = "end of " + options.features->string();
      break;
    }
    const auto wake = std::min({next_publish, next_status, end});
    if (!sleep_until(wake)) {
      stop_reason = "interrupted";
      break;
    }
    const auto now = steady::now();
    if (now >= end) {
      stop_reason = "duration reached";
      break;
    }
    if (now >= next_status) {
      {
        const std::lock_guard lock(notes_mutex);
        for (const std::string& text : notes) status.note(text);
        notes.clear();
      }
      const detail::LoopObservation seen = detail::LoopAccess::observe(loop);
      std::vector<const detail::LatencyHistogram*> publish_to_visible;
      for (const detail::ReplicaCounters* replica : seen.replicas) {
        publish_to_visible.push_back(&replica->publish_to_visible);
      }
      const LoopStats& stats = seen.stats;
      const double window_s = std::chrono::duration<double>(now - last_status).count();
      StatusSample sample;
      sample.elapsed = now - started;
      sample.published_per_s =
          static_cast<double>(stats.snapshots_published - status_before.snapshots_published) / window_s;
      sample.predicted_per_s = static_cast<double>(stats.predictions - status_before.predictions) / window_s;
      sample.window = latency_window.advance(publish_to_visible);
      if (seen.newest) sample.age = seen.now - seen.newest->completed_at;
      sample.conflated = stats.conflated;
      sample.errors = stats.errors + stats.source_errors;
      sample.model_version = seen.model ? seen.model->model_version : 0;
      if (loop.latest(latest) && latest.rows > 0 && latest.cols > 0) sample.latest = latest.value();
      status.print(sample);
      status_before = stats;
      last_status = now;
      next_status += std::chrono::seconds(1);
    }
    if (now < next_publish) continue;

    if (file) {
      const auto& snapshot = file->snapshots[snapshot_index];
      const std::span<const float> values(file->values.data() + snapshot.first_row * cols,
                                          snapshot.rows * cols);
      (void)slot.publish(values, Timestamp{snapshot.timestamp_ns});
      ++snapshot_index;
      if (file_pace && snapshot_index < file->snapshots.size()) {
        next_publish += file_gap(snapshot.timestamp_ns, file->snapshots[snapshot_index].timestamp_ns);
      } else {
        next_publish += fixed_period;
      }
    } else {
      feed->next(synthetic_row);
      (void)slot.publish(synthetic_row, system_clock()->now());
      next_publish += fixed_period;
    }
    // A publisher that fell more than a second behind (a stalled machine)
    // resumes from now rather than bursting to catch up.
    if (now - next_publish > std::chrono::seconds(1)) next_publish = now;
  }

  // Let the last snapshot be predicted, so that a replayed file ends with the
  // prediction for its last row rather than losing it to stop().
  if (stop_reason != "interrupted" && slot.last_published_seq() != 0) {
    (void)loop.wait_for(slot.last_published_seq(), std::chrono::seconds(5));
  }
  const double elapsed_s = std::chrono::duration<double>(steady::now() - started).count();
  loop.stop();
  for (const std::string& text : notes) status.note(text);
  status.finish();
  const LoopStats stats = loop.stats();
  std::ostringstream summary;
  print_summary(summary, loop, stats, elapsed_s, stop_reason);

  int exit_code = 0;
  if (results) {
    results->finish();
    summary << "results      " << results->written() << " written to "
            << options.results->string();
    if (const std::uint64_t dropped = results->dropped_over_max(); dropped > 0) {
      summary << "; --max-results " << options.max_results << " reached, " << dropped
              << " later results not written";
    }
    if (const std::uint64_t dropped = results->dropped_behind(); dropped > 0) {
      summary << "; " << dropped << " results lost: the file could not be written fast enough";
    }
    summary << "\n";
  }
  print(std::cout, summary.str());
  if (stats.errors > 0) {
    const auto error = loop.last_error();
    print(std::cerr, "inferloop run: error: " + std::to_string(stats.errors) +
                         " prediction(s) failed; last: " +
                         (error ? error->message : std::string("(not recorded)")) + "\n");
    exit_code = 1;
  }
  return exit_code;
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  return run_subcommand("run", kRunUsage, args, parse_run_options, run);
}

}  // namespace inferloop::cli
