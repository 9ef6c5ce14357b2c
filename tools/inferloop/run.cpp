// `inferloop run`: serve a model in-process against a feature stream and
// report what the loop did.
//
// The main thread plays the engine: it paces snapshots with sleep_until (a
// timer, never a busy loop), publishes them into the loop's FeatureSlot,
// prints a status line once a second, and on the end (duration, end of file
// or Ctrl-C) stops the loop and prints a summary. Results reach the optional
// results file through the loop's on_result callback, which runs on replica
// threads and appends to a buffer capped at --max-results.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "csv.hpp"
#include "feature_file.hpp"
#include "inferloop/inferloop.hpp"
#include "synthetic_feed.hpp"

namespace inferloop::cli {

// read_csv reads every cell as float32, which cannot hold a nanosecond epoch
// timestamp (1.7e18 needs 61 bits), so the first column is read again here as
// the integer it is.
namespace {
std::vector<std::int64_t> read_timestamps(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw Error(file.string() + ": cannot open: " + std::strerror(errno));
  }
  std::vector<std::int64_t> timestamps;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1) continue;  // header, checked by the caller
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string cell = line.substr(0, line.find(','));
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
    if (ec != std::errc{} || ptr != cell.data() + cell.size()) {
      throw Error(file.string() + ":" + std::to_string(line_number) +
                  ": column 1 ('timestamp_ns'): expected integer nanoseconds, found '" + cell +
                  "'");
    }
    timestamps.push_back(value);
  }
  return timestamps;
}

}  // namespace

FeatureFile load_feature_file(const std::filesystem::path& file, std::size_t max_rows) {
  CsvTable table = read_csv(file);
  if (table.header.size() < 2 || table.header.front() != "timestamp_ns") {
    throw Error(file.string() +
                ":1: the first column must be timestamp_ns followed by one column per feature; "
                "found header '" +
                (table.header.empty() ? std::string() : table.header.front()) + "'" +
                (table.header.size() < 2 ? " and no feature columns" : ""));
  }
  const std::vector<std::int64_t> timestamps = read_timestamps(file);
  if (timestamps.size() != table.rows()) {
    throw Error(file.string() + ": read " + std::to_string(table.rows()) + " rows but " +
                std::to_string(timestamps.size()) +
                " timestamps; remove blank lines inside the file");
  }
  if (table.rows() == 0) throw Error(file.string() + ": no data rows after the header");

  FeatureFile out;
  out.feature_names.assign(table.header.begin() + 1, table.header.end());
  out.cols = out.feature_names.size();
  const std::size_t width = table.header.size();
  out.values.reserve(table.rows() * out.cols);
  for (std::size_t row = 0; row < table.rows(); ++row) {
    const float* cells = table.values.data() + row * width;
    out.values.insert(out.values.end(), cells + 1, cells + width);
    const bool joins_previous = max_rows > 1 && !out.snapshots.empty() &&
                                out.snapshots.back().timestamp_ns == timestamps[row];
    if (joins_previous) {
      auto& snapshot = out.snapshots.back();
      if (++snapshot.rows > max_rows) {
        throw Error(file.string() + ":" + std::to_string(row + 2) + ": more than max_rows (" +
                    std::to_string(max_rows) + ") consecutive rows share timestamp_ns " +
                    std::to_string(timestamps[row]) +
                    "; raise max_rows in the config or give the rows distinct timestamps");
      }
    } else {
      out.snapshots.push_back({row, 1, timestamps[row]});
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

namespace {

constexpr const char* kRunUsage = R"(usage: inferloop run CONFIG [options]

Starts an InferenceLoop from CONFIG (a YAML file; see docs/configuration.md),
publishes feature snapshots into it and reports latency and counters.

options:
  --features CSV      replay this feature file instead of the synthetic feed
  --rate HZ           snapshots per second (default: the file's own pace from
                      timestamp_ns; 1000 for the synthetic feed)
  --duration S        stop after S seconds (default 10 for the synthetic feed;
                      the whole file for --features)
  --results CSV       write every result that became the latest to CSV, with
                      its timestamps (started_at_ns..completed_at_ns is the
                      latency `inferloop backtest --latency replay:CSV` replays)
  --max-results N     keep at most N results for --results (default 10000000)
  --seed N            seed of the synthetic feed (default 1)
  --quiet             no live status line
  -h, --help          this text

Feature CSV format: a header line, then one line per row. The first column is
timestamp_ns (integer nanoseconds, the engine's timestamp of the snapshot),
then one column per model feature, in the model's feature order; empty, nan
and NA cells are missing values. Each line is one snapshot; when the config's
max_rows is above 1, consecutive lines with the same timestamp_ns form one
snapshot (one row per instrument, at most max_rows).

Synthetic feed: a seeded random-walk market for one instrument with the 8
features mid_price, spread, book_imbalance, return_1, return_10, return_100,
volatility_50, trade_imbalance (then noise_8, ... for wider models).

Ctrl-C stops early and still prints the summary; a second Ctrl-C kills.
Exit status: 0 success, 1 error (config, model, data, or a prediction
failed), 2 usage error.
)";

struct RunOptions {
  std::filesystem::path config;
  std::optional<std::filesystem::path> features;
  std::optional<double> rate_hz;
  std::optional<double> duration_s;
  std::optional<std::filesystem::path> results;
  std::size_t max_results = 10'000'000;
  std::uint64_t seed = 1;
  bool quiet = false;
};

struct UsageError {
  std::string message;
};

template <typename Number>
Number parse_number(const std::string& option, const std::string& text) {
  Number value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end) {
    throw UsageError{option + ": expected a number, found '" + text + "'"};
  }
  return value;
}

RunOptions parse_run_options(const std::vector<std::string>& args) {
  RunOptions options;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.starts_with("--") && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError{arg + " needs a value"};
      return args[++i];
    };
    if (arg == "--features") {
      options.features = value();
    } else if (arg == "--rate") {
      options.rate_hz = parse_number<double>(arg, value());
      if (!(*options.rate_hz > 0)) throw UsageError{"--rate must be above 0"};
    } else if (arg == "--duration") {
      options.duration_s = parse_number<double>(arg, value());
      if (!(*options.duration_s > 0)) throw UsageError{"--duration must be above 0"};
    } else if (arg == "--results") {
      options.results = value();
    } else if (arg == "--max-results") {
      options.max_results = parse_number<std::size_t>(arg, value());
    } else if (arg == "--seed") {
      options.seed = parse_number<std::uint64_t>(arg, value());
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg.starts_with("-") && arg != "-") {
      throw UsageError{"unknown option '" + arg + "'"};
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 1) {
    throw UsageError{positional.empty() ? "missing CONFIG"
                                        : "expected one CONFIG, found " +
                                              std::to_string(positional.size()) + " arguments"};
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

// Every result that became the latest, in a buffer that stops growing at
// `capacity` results (then counts what it dropped).
class ResultRecorder {
 public:
  struct Row {
    ResultFields fields;
    std::size_t value_offset;
  };

  ResultRecorder(std::size_t capacity, std::size_t expected, std::size_t values_per_result)
      : capacity_(capacity) {
    // Reserved up front so that recording, on a replica thread, does not
    // reallocate in the common case; beyond a million results it grows.
    constexpr std::size_t kMaxReserve = 1'000'000;
    const std::size_t reserve = std::min({capacity, expected, kMaxReserve});
    rows_.reserve(reserve);
    values_.reserve(reserve * values_per_result);
  }

  // Replica threads.
  void record(const Prediction& prediction) {
    const std::lock_guard lock(mutex_);
    if (rows_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    rows_.push_back({ResultFields::of(prediction), values_.size()});
    const auto values = prediction.values();
    values_.insert(values_.end(), values.begin(), values.end());
  }

  // After the loop stopped. Returns the number of results written.
  std::size_t write(const std::filesystem::path& file, std::size_t num_outputs) {
    const std::lock_guard lock(mutex_);
    // Replicas publish in feature_seq order but may call back out of order.
    std::vector<std::size_t> order(rows_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return rows_[a].fields.feature_seq < rows_[b].fields.feature_seq;
    });
    std::ofstream out(file);
    if (!out) throw Error(file.string() + ": cannot create the results file: " + std::strerror(errno));
    write_results_header(out, num_outputs);
    for (std::size_t index : order) {
      const Row& row = rows_[index];
      write_result_rows(out, row.fields, values_.data() + row.value_offset);
    }
    out.flush();
    if (!out) throw Error(file.string() + ": writing the results failed: " + std::strerror(errno));
    return rows_.size();
  }

  [[nodiscard]] std::size_t dropped() {
    const std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::vector<Row> rows_;       // guarded by mutex_
  std::vector<float> values_;   // guarded by mutex_
  std::size_t dropped_ = 0;     // guarded by mutex_
};

double micros(std::chrono::nanoseconds value) {
  return std::chrono::duration<double, std::micro>(value).count();
}

class StatusLine {
 public:
  explicit StatusLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

  // A line of its own (a model swap, a failed reload), between status lines.
  void note(const std::string& text) {
    if (open_) std::cerr << '\n';
    open_ = false;
    last_width_ = 0;
    std::cerr << text << '\n' << std::flush;
  }

  void print(double elapsed_s, const LoopStats& now, const LoopStats& before, double window_s,
             const std::optional<float>& latest, std::uint64_t model_version,
             const std::string& registry_version) {
    if (!enabled_) return;
    std::ostringstream line;
    line << std::fixed << std::setprecision(1) << elapsed_s << "s  published/s "
         << std::setprecision(0)
         << static_cast<double>(now.snapshots_published - before.snapshots_published) / window_s
         << "  predictions/s "
         << static_cast<double>(now.predictions - before.predictions) / window_s
         << std::setprecision(1) << "  p50/p99 " << micros(now.publish_to_visible.p50) << "/"
         << micros(now.publish_to_visible.p99) << " us  conflated " << now.conflated
         << "  errors " << now.errors << "  model v" << model_version;
    if (!registry_version.empty()) line << " (registry " << registry_version << ")";
    line << "  latest ";
    if (latest) {
      line << std::setprecision(6) << *latest;
    } else {
      line << "-";
    }
    const std::string text = line.str();
    if (tty_) {
      // Pad so that a shorter line fully covers the previous one.
      std::cerr << '\r' << text << std::string(last_width_ > text.size() ? last_width_ - text.size() : 0, ' ')
                << std::flush;
      last_width_ = text.size();
      open_ = true;
    } else {
      std::cerr << text << '\n' << std::flush;
    }
  }

  void finish() {
    if (open_) std::cerr << '\n' << std::flush;
    open_ = false;
  }

 private:
  const bool enabled_;
  const bool tty_;
  std::size_t last_width_ = 0;
  bool open_ = false;
};

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
      << to_string(info.model.format) << ", saved by xgboost "
      << (info.model.saved_by_version.empty() ? std::string("unknown")
                                              : version_string(info.model.saved_by_version))
      << "; linked xgboost "
      << version_string(linked_xgboost_version()) << ")\n";
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
  InferenceConfig config = load_config(options.config);

  std::optional<FeatureFile> file;
  if (options.features) file = load_feature_file(*options.features, config.max_rows);
  const double duration_s = options.duration_s.value_or(file ? 0.0 : 10.0);
  const double synthetic_rate = options.rate_hz.value_or(1000.0);
  const std::size_t expected_snapshots =
      file ? file->snapshots.size()
           : static_cast<std::size_t>(synthetic_rate * duration_s) + 1;

  // Declared before the loop, so it outlives the replica threads that call it.
  std::unique_ptr<ResultRecorder> recorder;
  LoopOptions loop_options;
  if (options.results) {
    // One output per row is the common case; wider results grow the buffer.
    recorder = std::make_unique<ResultRecorder>(options.max_results, expected_snapshots,
                                                config.max_rows);
    loop_options.on_result = [recorder = recorder.get()](const Prediction& prediction) {
      recorder->record(prediction);
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
      std::cerr << "inferloop run: note: model_refresh_interval is set but " << config.model_uri
                << " names a fixed model (not an MLflow alias, stage or latest); nothing to poll\n";
    }
  }

  InferenceLoop loop(config, std::move(loop_options));
  std::cerr << "inferloop run: loading " << config.model_uri << " into " << config.num_replicas
            << " replica(s)...\n";
  loop.start();
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
        std::cerr << "inferloop run: warning: " << options.features->string() << ":1: column "
                  << i + 2 << " is '" << file->feature_names[i]
                  << "' but the model signature names feature " << i + 1 << " '"
                  << info.model.signature_inputs[i].name << "'\n";
      }
    }
  }

  const SigintGuard sigint_guard;
  StatusLine status(!options.quiet);
  Prediction latest = loop.make_prediction();
  std::optional<SyntheticFeed> feed;
  std::vector<float> synthetic_row;
  if (!file) {
    feed.emplace(cols, options.seed);
    synthetic_row.resize(cols);
  }

  using steady = std::chrono::steady_clock;
  const auto started = steady::now();
  const auto end = duration_s > 0 ? started + std::chrono::duration_cast<steady::duration>(
                                                  std::chrono::duration<double>(duration_s))
                                  : steady::time_point::max();
  auto next_status = started + std::chrono::seconds(1);
  auto last_status = started;
  LoopStats status_before = loop.stats();
  auto next_publish = started;
  const auto fixed_period = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(1.0 / (file ? options.rate_hz.value_or(1.0) : synthetic_rate)));
  const bool file_pace = file && !options.rate_hz;
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
      const LoopStats stats = loop.stats();
      std::optional<float> latest_value;
      if (loop.latest(latest) && latest.rows > 0 && latest.cols > 0) latest_value = latest.value();
      {
        const std::lock_guard lock(notes_mutex);
        for (const std::string& text : notes) status.note(text);
        notes.clear();
      }
      const ModelInfo serving = loop.model_info();
      status.print(std::chrono::duration<double>(now - started).count(), stats, status_before,
                   std::chrono::duration<double>(now - last_status).count(), latest_value,
                   serving.model_version, serving.model.registry_version);
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
        const auto gap = file->snapshots[snapshot_index].timestamp_ns - snapshot.timestamp_ns;
        next_publish += std::chrono::nanoseconds(std::max<std::int64_t>(gap, 0));
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
  print_summary(std::cout, loop, stats, elapsed_s, stop_reason);

  int exit_code = 0;
  if (recorder) {
    const std::size_t written = recorder->write(*options.results, info.num_outputs);
    std::cout << "results      " << written << " written to " << options.results->string();
    if (const std::size_t dropped = recorder->dropped(); dropped > 0) {
      std::cout << "; --max-results " << options.max_results << " reached, " << dropped
                << " later results not written";
    }
    std::cout << "\n";
  }
  if (stats.errors > 0) {
    const auto error = loop.last_error();
    std::cerr << "inferloop run: error: " << stats.errors << " prediction(s) failed; last: "
              << (error ? error->message : std::string("(not recorded)")) << "\n";
    exit_code = 1;
  }
  return exit_code;
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  for (const auto& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::cout << kRunUsage;
      return 0;
    }
  }
  RunOptions options;
  try {
    options = parse_run_options(args);
  } catch (const UsageError& error) {
    std::cerr << "inferloop run: " << error.message << "\n\n" << kRunUsage;
    return 2;
  }
  try {
    return run(options);
  } catch (const std::exception& error) {
    std::cerr << "inferloop run: error: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace inferloop::cli
