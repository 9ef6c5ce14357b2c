// Backtest throughput: rows per second of wall time through InferenceLoop's
// backtest mode, against two anchors measured in the same run on the same rows:
//
//   BM_BatchPredict/T        anchor: the same predictor class on the same
//                            rows in plain batches, T threads each predicting
//                            a contiguous block in one call (no loop at all):
//                            what a backtest on T threads could reach
//   BM_LiveLoopEveryRow      the live loop, 1 replica, spin_then_block;
//                            publish a row, wait_for its result, next row
//                            (every row predicted, as a backtest needs)
//   BM_Backtest/T/R          backtest mode, T compute threads, zero latency,
//                            1 simulated replica (every row predicted); R=1:
//                            latest() after every publish (an event-driven
//                            engine), R=0: publish only
//   BM_Replay/T              replay(), as `inferloop backtest` and the Python
//                            package run it: every row up front, predicted
//                            in rounds of large calls (zero latency, 1
//                            replica, T compute threads)
//   BM_ReplayMachinery/L     the same with a predictor that writes zeros: what
//                            the simulation and the delivery cost per row
//                            (ns_per_row), with nothing to predict; L as below
//   BM_ReplayBesideBatch/T/L BM_Replay/T and the batch anchor in turns, one
//                            pass of each per iteration: replay_vs_batch is
//                            their time ratio under the same conditions (the
//                            steadier figure where the machine's speed drifts);
//                            L: a constant simulated latency in microseconds
//                            (0: zero latency; 25: below the rows' 1 ms
//                            spacing, so every row is still predicted, through
//                            the general simulation)
//
// Each backtest iteration replays kRows rows 1 ms apart, from the first publish()
// (BM_Replay: from the replay's start) to stop(); building and starting the
// loop are not timed (replay() itself builds one: BM_Replay builds it the
// same way and times what replay() does after that).
// Counters: rows_per_s (wall time); ratio_vs_batch = rows_per_s / the batch
// anchor's with the same thread count; ratio_vs_live = rows_per_s / the live loop's.
//
// The model: --model=PATH, else $INFERLOOP_BENCH_MODEL, else <build>/demo-model
// (bench/run_loop_overhead.sh trains it with examples/train_demo_model.py);
// the predictor: --predictor=NAME (default ForestPredictor).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "inferloop/inferloop.hpp"
#include "loop/loop_access.hpp"  // LoopAccess::replay: replay() without building its loop

namespace {

std::string g_model_uri = INFERLOOP_BENCH_DEFAULT_MODEL;
std::string g_predictor = "ForestPredictor";
// Written by the anchors' reports, read by the later ones (one reporting thread).
double g_live_rows_per_s = 0;
std::map<std::int64_t, double> g_batch_rows_per_s;  // threads -> rows/s

constexpr std::size_t kRows = 1000000;

std::vector<float> make_rows(std::size_t cols, std::size_t count) {
  std::vector<float> rows(cols * count);
  const float base[] = {100.0f, 0.02f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f};
  for (std::size_t r = 0; r < count; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const float jitter = std::sin(static_cast<float>(r * 31 + c * 7));
      rows[r * cols + c] = (c < 8 ? base[c] : 0.0f) + jitter * (c == 0 ? 0.5f : 1.0f);
    }
  }
  return rows;
}

inferloop::InferenceConfig bench_config() {
  inferloop::InferenceConfig config;
  config.model_uri = g_model_uri;
  config.predictor_class_name = g_predictor;
  config.num_replicas = 1;
  return config;
}

// The batch anchor: `threads` predictors of the benchmarked class, each
// predicting a contiguous block of kRows rows in one call per pass.
struct BatchAnchor {
  explicit BatchAnchor(std::size_t threads) {
    const inferloop::InferenceConfig config = bench_config();
    const inferloop::ResolvedModel model = inferloop::resolve_model(config.model_uri);
    for (std::size_t t = 0; t < threads; ++t) {
      predictors.push_back(inferloop::PredictorRegistry::global().create(
          config.predictor_class_name, inferloop::PredictorContext{config, model, t, shared}));
    }
    cols = predictors.front()->num_features();
    outputs = predictors.front()->num_outputs();
    rows = make_rows(cols, kRows);
    out.resize(kRows * outputs);
  }
  void predict_all() {
    const std::size_t threads = predictors.size();
    const std::size_t block_rows = (kRows + threads - 1) / threads;
    auto predict_block = [&](std::size_t t) {
      const std::size_t first = t * block_rows;
      const std::size_t count = std::min(block_rows, kRows - first);
      predictors[t]->predict(std::span<const float>(rows).subspan(first * cols, count * cols), count,
                             std::span<float>(out).subspan(first * outputs, count * outputs));
    };
    std::vector<std::thread> helpers;
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(predict_block, t);
    predict_block(0);
    for (std::thread& helper : helpers) helper.join();
    benchmark::DoNotOptimize(out.data());
  }
  inferloop::SharedPredictorState shared;
  std::vector<std::unique_ptr<inferloop::Predictor>> predictors;
  std::size_t cols = 0;
  std::size_t outputs = 0;
  std::vector<float> rows;
  std::vector<float> out;
};

void BM_BatchPredict(benchmark::State& state) {
  BatchAnchor anchor(static_cast<std::size_t>(state.range(0)));
  std::size_t rows_done = 0;
  for (auto _ : state) {
    anchor.predict_all();
    rows_done += kRows;
  }
  state.counters["rows"] = static_cast<double>(rows_done);
}

void BM_LiveLoopEveryRow(benchmark::State& state) {
  inferloop::InferenceLoop loop(bench_config());
  loop.start();
  const std::size_t cols = loop.features().cols();
  const std::vector<float> rows = make_rows(cols, kRows);
  std::size_t next = 0;
  for (auto _ : state) {
    const std::span<const float> row(rows.data() + (next % kRows) * cols, cols);
    const auto seq = loop.features().publish(row, inferloop::Timestamp{0});
    if (!loop.wait_for(seq, std::chrono::seconds(10))) {
      state.SkipWithError("the live loop gave no result within 10 s");
      return;
    }
    ++next;
  }
  loop.stop();
  state.counters["rows"] = static_cast<double>(state.iterations());
}

// A started backtest loop on a ManualClock at 0; `registry` (optional)
// supplies a predictor class named by `predictor`.
struct BacktestLoop {
  BacktestLoop(std::size_t threads, inferloop::PredictorRegistry* registry = nullptr,
               const std::string& predictor = g_predictor,
               inferloop::LatencyModel latency = inferloop::LatencyModel::zero()) {
    inferloop::LoopOptions options;
    options.clock = clock;
    options.backtest = inferloop::BacktestOptions{};
    options.backtest->threads = threads;
    options.backtest->latency = std::move(latency);
    options.registry = registry;
    inferloop::InferenceConfig config = bench_config();
    config.predictor_class_name = predictor;
    loop = std::make_unique<inferloop::InferenceLoop>(config, std::move(options));
    loop->start();
  }
  // Moves the clock to `idle_at` and stops; false (the benchmark skipped)
  // when a row was not predicted.
  bool stop_at(benchmark::State& state, inferloop::Timestamp idle_at) {
    clock->set(idle_at);
    loop->stop();
    if (loop->stats().predictions == kRows) return true;
    state.SkipWithError("a row was not predicted");
    return false;
  }
  std::shared_ptr<inferloop::ManualClock> clock =
      std::make_shared<inferloop::ManualClock>(inferloop::Timestamp{0});
  std::unique_ptr<inferloop::InferenceLoop> loop;
};

void BM_Backtest(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const bool read_latest = state.range(1) != 0;
  std::size_t rows_done = 0;
  for (auto _ : state) {
    // Building the loop (reading the model) is left out, as the batch
    // anchor's is: a real replay amortises it over far more rows than kRows.
    state.PauseTiming();
    BacktestLoop backtest(threads);
    inferloop::InferenceLoop& loop = *backtest.loop;
    const auto& clock = backtest.clock;
    const std::size_t cols = loop.features().cols();
    const std::vector<float> rows = make_rows(cols, kRows);
    inferloop::Prediction latest = loop.make_prediction();
    state.ResumeTiming();
    for (std::size_t r = 0; r < kRows; ++r) {
      const inferloop::Timestamp at{static_cast<std::int64_t>(r) * 1'000'000};
      clock->set(at);
      (void)loop.features().publish(std::span<const float>(rows.data() + r * cols, cols), at);
      if (read_latest) benchmark::DoNotOptimize(loop.latest(latest));
    }
    if (!backtest.stop_at(state, *loop.backtest_idle_at())) return;
    rows_done += kRows;
  }
  state.counters["rows"] = static_cast<double>(rows_done);
}

// Writes zeros: replay() with nothing to predict.
class ZeroPredictor final : public inferloop::Predictor {
 public:
  explicit ZeroPredictor(std::size_t features) : features_(features) {}
  std::size_t num_features() const noexcept override { return features_; }
  std::size_t num_outputs() const noexcept override { return 1; }
  std::string describe() const override { return "ZeroPredictor"; }
  void warm_up() override {}
  void predict(std::span<const float>, std::size_t, std::span<float> out) override {
    std::fill(out.begin(), out.end(), 0.0F);
  }

 private:
  std::size_t features_;
};

// A constant simulated latency of `latency_us` microseconds, or zero.
inferloop::LatencyModel constant_latency(std::int64_t latency_us) {
  return latency_us == 0 ? inferloop::LatencyModel::zero()
                         : inferloop::LatencyModel::constant(std::chrono::microseconds(latency_us));
}

void replay_rows(benchmark::State& state, std::size_t threads, inferloop::PredictorRegistry* registry,
                 std::int64_t latency_us = 0) {
  std::size_t rows_done = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BacktestLoop backtest(threads, registry, registry != nullptr ? "Zero" : g_predictor,
                          constant_latency(latency_us));
    inferloop::InferenceLoop& loop = *backtest.loop;
    const std::size_t cols = loop.features().cols();
    const std::vector<float> rows = make_rows(cols, kRows);
    std::vector<std::int64_t> times(kRows);
    for (std::size_t r = 0; r < kRows; ++r) times[r] = static_cast<std::int64_t>(r) * 1'000'000;
    state.ResumeTiming();
    const auto end = inferloop::detail::LoopAccess::replay(loop, times, rows);
    if (!backtest.stop_at(state, end.idle_at)) return;
    rows_done += kRows;
  }
  state.counters["rows"] = static_cast<double>(rows_done);
}

void BM_ReplayMachinery(benchmark::State& state) {
  // The demo model's width, from the model itself.
  const inferloop::ResolvedModel model = inferloop::resolve_model(g_model_uri);
  inferloop::SharedPredictorState shared;
  const std::size_t features =
      inferloop::PredictorRegistry::global()
          .create(g_predictor, inferloop::PredictorContext{bench_config(), model, 0, shared})
          ->num_features();
  inferloop::PredictorRegistry registry;
  registry.add("Zero", [features](const inferloop::PredictorContext&) {
    return std::make_unique<ZeroPredictor>(features);
  });
  replay_rows(state, 1, &registry, state.range(0));
  state.counters["ns_per_row"] = benchmark::Counter(
      static_cast<double>(kRows), benchmark::Counter::kIsIterationInvariantRate |
                                      benchmark::Counter::kInvert);
}

void BM_Replay(benchmark::State& state) {
  replay_rows(state, static_cast<std::size_t>(state.range(0)), nullptr);
}

// replay() and the batch anchor in turns, each iteration one pass of each on
// the same rows and thread count: on a machine whose speed drifts (a shared
// VM), the two see the same conditions, so this ratio is the steadier one.
// Reports replay_vs_batch = the batch passes' time / the replays' time.
void BM_ReplayBesideBatch(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  // A constant simulated latency shorter than the rows' spacing: every row
  // is still dispatched and predicted, through the general simulation.
  const std::int64_t latency_us = state.range(1);
  BatchAnchor anchor(threads);
  std::vector<std::int64_t> times(kRows);
  for (std::size_t r = 0; r < kRows; ++r) times[r] = static_cast<std::int64_t>(r) * 1'000'000;
  double batch_s = 0;
  double replay_s = 0;
  for (auto _ : state) {
    // Not timed, as in BM_Replay.
    BacktestLoop backtest(threads, nullptr, g_predictor, constant_latency(latency_us));
    const auto batch_start = std::chrono::steady_clock::now();
    anchor.predict_all();
    const auto replay_start = std::chrono::steady_clock::now();
    const auto end = inferloop::detail::LoopAccess::replay(*backtest.loop, times, anchor.rows);
    const auto replay_end = std::chrono::steady_clock::now();
    if (!backtest.stop_at(state, end.idle_at)) return;
    batch_s += std::chrono::duration<double>(replay_start - batch_start).count();
    replay_s += std::chrono::duration<double>(replay_end - replay_start).count();
    state.SetIterationTime(std::chrono::duration<double>(replay_end - batch_start).count());
  }
  state.counters["replay_vs_batch"] = benchmark::Counter(replay_s > 0 ? batch_s / replay_s : 0);
  state.counters["replay_rows_per_s"] =
      benchmark::Counter(replay_s > 0 ? static_cast<double>(state.iterations() * kRows) / replay_s : 0);
  state.counters["batch_rows_per_s"] =
      benchmark::Counter(batch_s > 0 ? static_cast<double>(state.iterations() * kRows) / batch_s : 0);
}

// rows_per_s from wall time (Counter::kIsRate divides by CPU time, which
// leaves out the time a thread waits), and each backtest's ratio to the
// anchor measured in this run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> copy = runs;
    for (Run& run : copy) {
      auto it = run.counters.find("rows");
      if (it == run.counters.end()) continue;
      const double rate = run.real_accumulated_time > 0
                              ? static_cast<double>(it->second.value) / run.real_accumulated_time
                              : 0;
      run.counters.erase(it);
      run.counters["rows_per_s"] = benchmark::Counter(rate);
      const std::string name = run.benchmark_name();
      // args "threads:T", "threads:T/latest:R" or "threads:T/latency_us:L":
      // the first argument is T.
      const std::string& args = run.run_name.args;
      const std::int64_t threads = args.empty() ? 1 : std::stoll(args.substr(args.find(':') + 1));
      if (name.starts_with("BM_BatchPredict")) {
        g_batch_rows_per_s[threads] = rate;
      } else if (name.starts_with("BM_LiveLoopEveryRow")) {
        g_live_rows_per_s = rate;
      } else if (!name.starts_with("BM_ReplayMachinery")) {
        if (g_live_rows_per_s > 0) {
          run.counters["ratio_vs_live"] = benchmark::Counter(rate / g_live_rows_per_s);
        }
        if (auto batch = g_batch_rows_per_s.find(threads); batch != g_batch_rows_per_s.end()) {
          run.counters["ratio_vs_batch"] = benchmark::Counter(rate / batch->second);
        }
      }
    }
    ConsoleReporter::ReportRuns(copy);
  }
};

}  // namespace

// The anchors first: the ratios need their rates.
BENCHMARK(BM_BatchPredict)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_LiveLoopEveryRow)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_Backtest)
    ->ArgNames({"threads", "latest"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({4, 0})
    ->Args({1, 1})
    ->Args({2, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

BENCHMARK(BM_ReplayMachinery)->ArgName("latency_us")->Arg(0)->Arg(25)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_Replay)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK(BM_ReplayBesideBatch)
    ->ArgNames({"threads", "latency_us"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 25})
    ->Args({2, 25})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(4.0);

int main(int argc, char** argv) {
  if (const char* env = std::getenv("INFERLOOP_BENCH_MODEL")) g_model_uri = env;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--model=", 8) == 0) {
      g_model_uri = argv[i] + 8;
    } else if (std::strncmp(argv[i], "--predictor=", 12) == 0) {
      g_predictor = argv[i] + 12;
    } else {
      args.push_back(argv[i]);
    }
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
