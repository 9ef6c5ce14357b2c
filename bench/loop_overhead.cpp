// What the loop costs on top of the model: publish-to-visible latency through
// InferenceLoop (one replica, each wait strategy) against a direct
// XGBoosterPredictFromDense call on the same model in the same run (the
// anchor), plus the two wait-free hot-path calls, latest() and publish().
//
// Each latency benchmark times every iteration itself and reports p50/p90/p99
// (microseconds) as counters; the loop benchmarks also report
// overhead_p50_us = their p50 - the anchor's p50, and ratio_p50. The anchor is
// registered first so that it has run when the loop benchmarks need it.
//
// The model: --model=PATH (a model file or an MLflow model folder), else
// $INFERLOOP_BENCH_MODEL, else <build>/demo-model, which
// bench/run_loop_overhead.sh trains with examples/train_demo_model.py.
#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "inferloop/inferloop.hpp"

namespace {

std::string g_model_uri = INFERLOOP_BENCH_DEFAULT_MODEL;
double g_anchor_p50_us = 0;  // written by the anchor benchmark, read by the loop ones

using steady = std::chrono::steady_clock;

// Percentiles of one benchmark run's samples, reported as counters.
void report_latency(benchmark::State& state, std::vector<double>& samples_us) {
  if (samples_us.empty()) return;
  std::sort(samples_us.begin(), samples_us.end());
  auto at = [&](double quantile) {
    const auto index = static_cast<std::size_t>(
        std::ceil(quantile * static_cast<double>(samples_us.size()))) - 1;
    return samples_us[std::min(index, samples_us.size() - 1)];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p90_us"] = at(0.90);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = samples_us.back();
}

double micros_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

// Distinct, realistic rows (the demo model's 8 market features, jittered),
// so that successive calls do not walk the same tree paths.
std::vector<float> make_rows(std::size_t cols, std::size_t count) {
  std::vector<float> rows(cols * count);
  for (std::size_t r = 0; r < count; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const float base[] = {100.0f, 0.02f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f};
      const float jitter = std::sin(static_cast<float>(r * 31 + c * 7));
      rows[r * cols + c] = (c < 8 ? base[c] : 0.0f) + jitter * (c == 0 ? 0.5f : 1.0f);
    }
  }
  return rows;
}

constexpr std::size_t kDistinctRows = 1024;
constexpr std::size_t kLatencySamplesReserve = 1 << 16;

void check_xgboost(int status, const char* what) {
  if (status != 0) {
    std::fprintf(stderr, "loop_overhead: %s failed: %s\n", what, XGBGetLastError());
    std::exit(1);
  }
}

void BM_DirectPredictFromDense(benchmark::State& state) {
  const inferloop::ResolvedModel model = inferloop::resolve_model(g_model_uri);
  BoosterHandle booster = nullptr;
  check_xgboost(XGBoosterCreate(nullptr, 0, &booster), "XGBoosterCreate");
  check_xgboost(XGBoosterLoadModel(booster, model.model_file.c_str()), "XGBoosterLoadModel");
  check_xgboost(XGBoosterSetParam(booster, "nthread", "1"), "XGBoosterSetParam(nthread)");
  bst_ulong num_features = 0;
  check_xgboost(XGBoosterGetNumFeature(booster, &num_features), "XGBoosterGetNumFeature");
  DMatrixHandle proxy = nullptr;
  check_xgboost(XGProxyDMatrixCreate(&proxy), "XGProxyDMatrixCreate");
  const std::vector<float> rows = make_rows(num_features, kDistinctRows);
  const char* config =
      R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
  std::vector<std::string> interfaces;
  for (std::size_t r = 0; r < kDistinctRows; ++r) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer,
                  R"({"data":[%llu,true],"shape":[1,%llu],"typestr":"<f4","version":3})",
                  static_cast<unsigned long long>(
                      reinterpret_cast<std::uintptr_t>(rows.data() + r * num_features)),
                  static_cast<unsigned long long>(num_features));
    interfaces.emplace_back(buffer);
  }
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  // Warm-up: the first call configures the learner.
  check_xgboost(XGBoosterPredictFromDense(booster, interfaces[0].c_str(), config, proxy, &shape,
                                          &dims, &result),
                "XGBoosterPredictFromDense");
  std::vector<double> samples;
  samples.reserve(kLatencySamplesReserve);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto start = steady::now();
    XGBoosterPredictFromDense(booster, interfaces[i++ % kDistinctRows].c_str(), config, proxy,
                              &shape, &dims, &result);
    benchmark::DoNotOptimize(result[0]);
    samples.push_back(micros_between(start, steady::now()));
  }
  report_latency(state, samples);
  g_anchor_p50_us = state.counters["p50_us"];
  XGDMatrixFree(proxy);
  XGBoosterFree(booster);
}

inferloop::InferenceConfig loop_config(inferloop::WaitStrategy strategy) {
  inferloop::InferenceConfig config;
  config.deployment_name = "loop_overhead";
  config.model_uri = g_model_uri;
  config.num_replicas = 1;
  config.wait_strategy = strategy;
  return config;
}

// Publish one snapshot, spin on latest_feature_seq() until its result is
// visible: the latency an engine sees between handing over features and
// being able to read their prediction.
void BM_PublishToVisible(benchmark::State& state, inferloop::WaitStrategy strategy) {
  inferloop::InferenceLoop loop(loop_config(strategy));
  loop.start();
  inferloop::FeatureSlot& slot = loop.features();
  const std::vector<float> rows = make_rows(slot.cols(), kDistinctRows);
  const auto clock = inferloop::system_clock();
  std::vector<double> samples;
  samples.reserve(kLatencySamplesReserve);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::span<const float> row(rows.data() + (i++ % kDistinctRows) * slot.cols(),
                                     slot.cols());
    const auto start = steady::now();
    const std::uint64_t feature_seq = slot.publish(row, clock->now());
    // Poll like a considerate engine thread: yield the core now and then, so
    // that on a machine with few cores the loop's own threads get to run.
    for (unsigned spins = 1; loop.latest_feature_seq() < feature_seq; ++spins) {
      if (spins % 64 == 0) std::this_thread::yield();
    }
    samples.push_back(micros_between(start, steady::now()));
  }
  loop.stop();
  report_latency(state, samples);
  const inferloop::LoopStats stats = loop.stats();
  state.counters["loop_p50_us"] =
      std::chrono::duration<double, std::micro>(stats.publish_to_visible.p50).count();
  state.counters["conflated"] = static_cast<double>(stats.conflated);
  if (g_anchor_p50_us > 0) {
    state.counters["overhead_p50_us"] = state.counters["p50_us"] - g_anchor_p50_us;
    state.counters["ratio_p50"] = state.counters["p50_us"] / g_anchor_p50_us;
  }
}

// The engine's read of the newest prediction: a seqlock copy, wait-free.
void BM_Latest(benchmark::State& state) {
  inferloop::InferenceLoop loop(loop_config(inferloop::WaitStrategy::kSpinThenBlock));
  loop.start();
  const std::vector<float> row = make_rows(loop.features().cols(), 1);
  const std::uint64_t feature_seq =
      loop.features().publish(row, inferloop::system_clock()->now());
  loop.wait_for(feature_seq, std::chrono::seconds(5));
  inferloop::Prediction prediction = loop.make_prediction();
  for (auto _ : state) {
    benchmark::DoNotOptimize(loop.latest(prediction));
    benchmark::ClobberMemory();
  }
  loop.stop();
}

// The engine's hand-over of a snapshot, with no loop draining the slot
// (publish never waits for the consumer, so this is its cost either way).
void BM_FeatureSlotPublish(benchmark::State& state) {
  const std::size_t cols = 8;
  inferloop::FeatureSlot slot(1, cols, inferloop::system_clock());
  const std::vector<float> rows = make_rows(cols, kDistinctRows);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::span<const float> row(rows.data() + (i++ % kDistinctRows) * cols, cols);
    benchmark::DoNotOptimize(slot.publish(row, inferloop::Timestamp{static_cast<std::int64_t>(i)}));
  }
}

}  // namespace

// A fixed iteration count: each run of a loop benchmark starts a loop (loads
// the model), and percentiles want the same sample size for every variant.
constexpr benchmark::IterationCount kLatencySamples = 20000;
BENCHMARK(BM_DirectPredictFromDense)->Iterations(kLatencySamples)->UseRealTime();
BENCHMARK_CAPTURE(BM_PublishToVisible, spin, inferloop::WaitStrategy::kSpin)
    ->Iterations(kLatencySamples)->UseRealTime();
BENCHMARK_CAPTURE(BM_PublishToVisible, spin_then_block, inferloop::WaitStrategy::kSpinThenBlock)
    ->Iterations(kLatencySamples)->UseRealTime();
BENCHMARK_CAPTURE(BM_PublishToVisible, block, inferloop::WaitStrategy::kBlock)
    ->Iterations(kLatencySamples)->UseRealTime();
BENCHMARK(BM_Latest);
BENCHMARK(BM_FeatureSlotPublish);

int main(int argc, char** argv) {
  if (const char* env = std::getenv("INFERLOOP_BENCH_MODEL"); env && *env) g_model_uri = env;
  // Take --model=PATH out before Google Benchmark sees the arguments.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--model=", 8) == 0) {
      g_model_uri = argv[i] + 8;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  try {
    (void)inferloop::resolve_model(g_model_uri);
  } catch (const std::exception& error) {
    std::fprintf(stderr,
                 "loop_overhead: no model at %s: %s\nTrain one with: python "
                 "examples/train_demo_model.py %s (or run bench/run_loop_overhead.sh), or pass "
                 "--model=PATH / set INFERLOOP_BENCH_MODEL.\n",
                 g_model_uri.c_str(), error.what(), g_model_uri.c_str());
    return 1;
  }
  benchmark::AddCustomContext("model", g_model_uri);
  std::string linked;
  for (int part : inferloop::linked_xgboost_version()) {
    // Two appends: GCC 12 warns (-Wrestrict, falsely) on "." + std::string.
    if (!linked.empty()) linked += '.';
    linked += std::to_string(part);
  }
  benchmark::AddCustomContext("xgboost", linked);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
