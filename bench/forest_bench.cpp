// ForestModel (what ForestPredictor runs) against XGBoost's C API on the same
// models, rows and machine, in one run: 1, 16, 256 and 10,000 rows per call,
// models of 100x6, 500x6 and 1000x8 trees (binary:logistic, 32 features).
//
// The XGBoost anchor is XGBoosterPredictFromDense with a reused proxy DMatrix
// and nthread=1, as XGBoostPredictor calls it. After the run a summary prints,
// per model and batch, XGBoost time / ForestModel time, and the traversal
// limit ratio: single-row time / (nodes visited per row x cost per node),
// where the cost per node is measured from the 10k-row batch (the walk with
// its latency hidden by many rows), i.e. single-row time / 10k per-row time.
// A third column times the textbook one-tree-at-a-time walk on the same nodes.
//
// Times are this thread's CPU time (see thread_cpu_seconds).
//
// Kernels: ForestModel runs the set load() chooses for this CPU, or the one
// INFERLOOP_FOREST_BENCH_KERNELS names (baseline, avx2, avx512; with
// "+tiles", the tile walk for every batch), to compare the paths.
//
// Models: bench/make_forest_models.py writes them; the folder comes from
// INFERLOOP_FOREST_BENCH_MODELS, else BUILD_DIR/forest-bench-models.
//   .venv-xgb17/bin/python bench/make_forest_models.py --out BUILD_DIR/forest-bench-models
//   BUILD_DIR/bench/forest_bench --benchmark_min_time=0.3
#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "forest/forest_model.hpp"
#include "inferloop/forest.hpp"

namespace {

namespace fs = std::filesystem;

// The summary uses this thread's CPU time, not wall time: on a shared machine
// a preempted iteration would otherwise count time spent running other work.
// Both evaluators run on the calling thread (XGBoost with nthread=1).
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

const char* const kModels[] = {"forest_100x6.ubj", "forest_500x6.ubj", "forest_1000x8.ubj"};

fs::path models_dir() {
  if (const char* dir = std::getenv("INFERLOOP_FOREST_BENCH_MODELS")) return dir;
  return INFERLOOP_FOREST_BENCH_DEFAULT_MODELS;
}

// The models' width (make_forest_models.py trains all three on the same
// features), read from the first model.
std::size_t num_features() {
  static const std::size_t width =
      inferloop::ForestModel::load(models_dir() / kModels[0]).num_features();
  return width;
}

// `model` on the kernels INFERLOOP_FOREST_BENCH_KERNELS names, if it names any.
inferloop::ForestModel with_chosen_kernels(const inferloop::ForestModel& model) {
  const char* chosen = std::getenv("INFERLOOP_FOREST_BENCH_KERNELS");
  if (chosen == nullptr || *chosen == '\0') return model;
  std::string name = chosen;
  const bool tiles = name.ends_with("+tiles");
  if (tiles) name.resize(name.size() - std::strlen("+tiles"));
  for (const auto isa : {inferloop::detail::ForestIsa::kBaseline, inferloop::detail::ForestIsa::kAvx2,
                         inferloop::detail::ForestIsa::kAvx512}) {
    if (name == inferloop::detail::to_string(isa)) {
      return inferloop::detail::ForestModelAccess::with_isa(
          model, isa,
          tiles ? inferloop::detail::ForestWalks::kTileEveryBatch : inferloop::detail::ForestWalks::kBySize);
    }
  }
  std::fprintf(stderr, "forest_bench: INFERLOOP_FOREST_BENCH_KERNELS=%s: expected baseline, avx2 "
                       "or avx512, optionally followed by +tiles\n", chosen);
  std::exit(1);
}

std::vector<std::uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "forest_bench: cannot read %s; train the models with "
                         "bench/make_forest_models.py --out %s\n",
                 file.c_str(), models_dir().c_str());
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::vector<float>& features() {
  static const std::vector<float> rows = [] {
    const auto bytes = read_bytes(models_dir() / "features.f32");
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    return values;
  }();
  return rows;
}

std::size_t total_rows() { return features().size() / num_features(); }

// Internal nodes on each row's path, summed over trees, averaged over rows:
// the work any exact evaluator must do.
double nodes_visited_per_row(const fs::path& model_file) {
  const auto forest = inferloop::detail::read_forest(read_bytes(model_file),
                                                     inferloop::ModelFormat::kUbjson, "bench");
  const auto& rows = features();
  const std::size_t sample = std::min<std::size_t>(total_rows(), 2000);
  std::size_t visited = 0;
  for (std::size_t r = 0; r < sample; ++r) {
    const float* row = rows.data() + r * num_features();
    for (const std::uint32_t root : forest->tree_root) {
      std::uint32_t index = root;
      while (forest->nodes[index].left != index) {
        const auto& node = forest->nodes[index];
        const float value = row[node.meta & inferloop::detail::kFeatureMask];
        const bool right = (value >= node.threshold) ||
                           (value != value && (node.meta & inferloop::detail::kMissingRightBit));
        index = node.left + (right ? 1 : 0);
        ++visited;
      }
    }
  }
  return static_cast<double>(visited) / static_cast<double>(sample);
}

// Mean seconds per call, by (evaluator, model, batch), for the summary.
std::map<std::tuple<std::string, int, int>, double> g_seconds_per_call;
std::map<int, double> g_nodes_per_row;
std::string g_kernels;  // the ForestModel kernels that ran

void record(benchmark::State& state, const char* evaluator, double elapsed_seconds) {
  const auto model = static_cast<int>(state.range(0));
  const auto batch = static_cast<int>(state.range(1));
  const double per_call = elapsed_seconds / static_cast<double>(state.iterations());
  g_seconds_per_call[{evaluator, model, batch}] = per_call;
  state.counters["rows"] = static_cast<double>(batch);
  state.counters["ns_per_row"] = per_call * 1e9 / batch;
}

void BM_ForestModel(benchmark::State& state) {
  const auto model_index = state.range(0);
  const auto batch = static_cast<std::size_t>(state.range(1));
  const fs::path file = models_dir() / kModels[model_index];
  const auto model = with_chosen_kernels(inferloop::ForestModel::load(file));
  g_kernels = inferloop::detail::to_string(inferloop::detail::ForestModelAccess::isa_of(model));
  if (const char* chosen = std::getenv("INFERLOOP_FOREST_BENCH_KERNELS")) g_kernels = chosen;
  state.SetLabel(g_kernels);
  if (!g_nodes_per_row.contains(static_cast<int>(model_index))) {
    g_nodes_per_row[static_cast<int>(model_index)] = nodes_visited_per_row(file);
  }
  const auto& rows = features();
  std::vector<float> out(batch);
  std::size_t first = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    model.predict(std::span(rows).subspan(first * num_features(), batch * num_features()), batch,
                  out, inferloop::OutputKind::kTransformed);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    first = first + batch + batch <= total_rows() ? first + batch : 0;
  }
  record(state, "forest", thread_cpu_seconds() - start);
  state.counters["nodes_per_row"] = g_nodes_per_row[static_cast<int>(model_index)];
}

// The textbook walk over the same flat nodes: one tree at a time, one node at
// a time, each load waiting on the last. An anchor for how much the lockstep
// walk gains; margins only, summed in tree order like ForestModel.
void BM_NaiveWalk(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(1));
  const fs::path file = models_dir() / kModels[state.range(0)];
  const auto forest = inferloop::detail::read_forest(read_bytes(file),
                                                     inferloop::ModelFormat::kUbjson, "bench");
  const auto& rows = features();
  std::vector<float> out(batch);
  std::size_t first = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    for (std::size_t r = 0; r < batch; ++r) {
      const float* row = rows.data() + (first + r) * num_features();
      float margin = forest->base_margin[0];
      for (const std::uint32_t root : forest->tree_root) {
        std::uint32_t index = root;
        while (forest->nodes[index].left != index) {
          const auto& node = forest->nodes[index];
          const float value = row[node.meta & inferloop::detail::kFeatureMask];
          const bool right = (value >= node.threshold) ||
                             (value != value && (node.meta & inferloop::detail::kMissingRightBit));
          index = node.left + (right ? 1 : 0);
        }
        margin += forest->leaf_values[index];
      }
      out[r] = margin;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    first = first + batch + batch <= total_rows() ? first + batch : 0;
  }
  record(state, "naive", thread_cpu_seconds() - start);
}

void check_xgboost(int status, const char* what) {
  if (status != 0) {
    std::fprintf(stderr, "forest_bench: %s failed: %s\n", what, XGBGetLastError());
    std::exit(1);
  }
}

void BM_XGBoostCApi(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(1));
  const fs::path file = models_dir() / kModels[state.range(0)];
  BoosterHandle booster = nullptr;
  check_xgboost(XGBoosterCreate(nullptr, 0, &booster), "XGBoosterCreate");
  check_xgboost(XGBoosterLoadModel(booster, file.c_str()), "XGBoosterLoadModel");
  check_xgboost(XGBoosterSetParam(booster, "nthread", "1"), "XGBoosterSetParam(nthread)");
  DMatrixHandle proxy = nullptr;
  check_xgboost(XGProxyDMatrixCreate(&proxy), "XGProxyDMatrixCreate");
  const char* config =
      R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
  // One array-interface string per window of rows, built before timing.
  const auto& rows = features();
  std::vector<std::string> interfaces;
  for (std::size_t first = 0; first + batch <= total_rows() && interfaces.size() < 1024;
       first += batch) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer,
                  R"({"data":[%llu,true],"shape":[%zu,%zu],"typestr":"<f4","version":3})",
                  static_cast<unsigned long long>(
                      reinterpret_cast<std::uintptr_t>(rows.data() + first * num_features())),
                  batch, num_features());
    interfaces.emplace_back(buffer);
  }
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  check_xgboost(XGBoosterPredictFromDense(booster, interfaces[0].c_str(), config, proxy, &shape,
                                          &dims, &result),
                "XGBoosterPredictFromDense");  // warm-up: configures the learner
  std::size_t i = 0;
  const double start = thread_cpu_seconds();
  for (auto _ : state) {
    XGBoosterPredictFromDense(booster, interfaces[i++ % interfaces.size()].c_str(), config, proxy,
                              &shape, &dims, &result);
    benchmark::DoNotOptimize(result[0]);
  }
  record(state, "xgboost", thread_cpu_seconds() - start);
  XGDMatrixFree(proxy);
  XGBoosterFree(booster);
}

void arguments(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"model", "rows"});
  for (int model = 0; model < 3; ++model) {
    for (int batch : {1, 16, 256, 10000}) benchmark->Args({model, batch});
  }
}

BENCHMARK(BM_ForestModel)->Apply(arguments);
BENCHMARK(BM_XGBoostCApi)->Apply(arguments);
BENCHMARK(BM_NaiveWalk)->Apply(arguments);

void print_summary() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  std::printf("\nSummary, thread CPU time per call (libxgboost %d.%d.%d; ForestModel kernels "
              "%s; model 0=100x6, 1=500x6, 2=1000x8):\n",
              major, minor, patch, g_kernels.c_str());
  std::printf("%-10s %6s %14s %15s %14s %9s %12s %12s\n", "model", "rows", "forest ns/call",
              "xgboost ns/call", "naive ns/call", "vs xgb", "vs naive", "vs limit");
  for (int model = 0; model < 3; ++model) {
    for (int batch : {1, 16, 256, 10000}) {
      const auto forest = g_seconds_per_call.find({"forest", model, batch});
      const auto xgboost = g_seconds_per_call.find({"xgboost", model, batch});
      const auto naive = g_seconds_per_call.find({"naive", model, batch});
      const auto batch_10k = g_seconds_per_call.find({"forest", model, 10000});
      if (forest == g_seconds_per_call.end()) continue;
      const double speedup =
          xgboost == g_seconds_per_call.end() ? 0.0 : xgboost->second / forest->second;
      // Per-row time over the best per-row time: how far a call of `batch`
      // rows is from nodes visited x (cost per node in the 10k-row walk).
      const double limit = batch_10k == g_seconds_per_call.end()
                               ? 0.0
                               : (forest->second / batch) / (batch_10k->second / 10000);
      const double naive_speedup =
          naive == g_seconds_per_call.end() ? 0.0 : naive->second / forest->second;
      std::printf("%-10s %6d %14.0f %15.0f %14.0f %8.2fx %11.2fx %11.2fx\n", kModels[model] + 7,
                  batch, forest->second * 1e9,
                  xgboost == g_seconds_per_call.end() ? 0.0 : xgboost->second * 1e9,
                  naive == g_seconds_per_call.end() ? 0.0 : naive->second * 1e9, speedup,
                  naive_speedup, limit);
    }
    if (g_nodes_per_row.contains(model) &&
        g_seconds_per_call.contains({"forest", model, 10000})) {
      std::printf("         nodes visited per row %.0f, cost per node %.2f ns (10k-row walk)\n",
                  g_nodes_per_row[model],
                  g_seconds_per_call[{"forest", model, 10000}] / 10000 * 1e9 /
                      g_nodes_per_row[model]);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_summary();
  return 0;
}
