// ForestPredictor (inferloop's native LightGBM evaluator) against
// LightGBMPredictor (LightGBM's own C API: the single-row fast path for one
// row, LGBM_BoosterPredictForMat for more) on the same LightGBM models, rows
// and machine, in one run: 1, 16, 256 and 10,000 rows per call, binary
// models of 100x6, 500x6 and 1000x8 trees on 32 features.
//
// Both are created through the predictor registry and called through the
// Predictor interface, as the loop calls them, on one thread
// (predictor_threads 1: LightGBM's num_threads=1). After the run a summary
// prints, per model and batch, ns per row for each, the ratio C API time /
// ForestPredictor time, and how many of the 10,000 rows each predictor
// scored bit-identically to lightgbm's own predict() rounded to float.
//
// Times are this thread's CPU time, so that time the shared machine spent
// on other work does not count.
//
// Models: bench/make_lightgbm_models.py writes them (bench/run_lightgbm_bench.sh
// does everything); the folder comes from INFERLOOP_LIGHTGBM_BENCH_MODELS, else
// BUILD_DIR/lightgbm-bench-models.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace {

namespace fs = std::filesystem;

const char* const kModels[] = {"lgb_100x6", "lgb_500x6", "lgb_1000x8"};
const char* const kPredictors[] = {"ForestPredictor", "LightGBMPredictor"};
constexpr std::size_t kFeatures = 32;

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

fs::path models_dir() {
  if (const char* dir = std::getenv("INFERLOOP_LIGHTGBM_BENCH_MODELS")) return dir;
  return INFERLOOP_LIGHTGBM_BENCH_DEFAULT_MODELS;
}

template <typename T>
std::vector<T> read_values(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "lightgbm_bench: cannot read %s; train the models with "
                         "bench/make_lightgbm_models.py --out %s\n",
                 file.c_str(), models_dir().c_str());
    std::exit(1);
  }
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

const std::vector<float>& features() {
  static const std::vector<float> rows = read_values<float>(models_dir() / "features.f32");
  return rows;
}

std::size_t total_rows() { return features().size() / kFeatures; }

std::unique_ptr<inferloop::Predictor> make_predictor(const char* predictor, int model) {
  inferloop::InferenceConfig config;
  config.model_uri = (models_dir() / (std::string(kModels[model]) + ".txt")).string();
  config.predictor_class_name = predictor;
  const inferloop::ResolvedModel resolved = inferloop::resolve_model(config.model_uri);
  inferloop::SharedPredictorState shared;
  return inferloop::PredictorRegistry::global().create(
      predictor, inferloop::PredictorContext{config, resolved, 0, shared});
}

std::map<std::tuple<int, int, int>, double> g_seconds_per_call;  // {predictor, model, rows}
std::map<std::tuple<int, int>, std::size_t> g_exact_rows;        // {predictor, model}

// Rows (of total_rows()) whose output equals lightgbm's predict() rounded to float.
std::size_t exact_rows(inferloop::Predictor& predictor, int model) {
  const std::vector<double> want =
      read_values<double>(models_dir() / (std::string(kModels[model]) + ".f64"));
  std::vector<float> got(total_rows());
  predictor.predict(features(), total_rows(), got);
  std::size_t exact = 0;
  for (std::size_t row = 0; row < got.size() && row < want.size(); ++row) {
    const float rounded = static_cast<float>(want[row]);
    exact += std::memcmp(&got[row], &rounded, sizeof rounded) == 0;
  }
  return exact;
}

void BM_Predict(benchmark::State& state) {
  const int predictor_index = static_cast<int>(state.range(0));
  const int model = static_cast<int>(state.range(1));
  const auto batch = static_cast<std::size_t>(state.range(2));
  auto predictor = make_predictor(kPredictors[predictor_index], model);
  if (batch == 1) g_exact_rows[{predictor_index, model}] = exact_rows(*predictor, model);
  const std::vector<float>& rows = features();
  const std::size_t starts = total_rows() / batch;
  std::vector<float> out(batch);
  std::size_t next = 0;
  std::size_t calls = 0;
  const double started = thread_cpu_seconds();
  for (auto _ : state) {
    predictor->predict(std::span(rows).subspan(next * batch * kFeatures, batch * kFeatures), batch,
                       out);
    benchmark::DoNotOptimize(out.data());
    next = next + 1 == starts ? 0 : next + 1;
    ++calls;
  }
  g_seconds_per_call[{predictor_index, model, static_cast<int>(batch)}] =
      (thread_cpu_seconds() - started) / static_cast<double>(calls);
  state.SetItemsProcessed(static_cast<std::int64_t>(calls * batch));
  state.SetLabel(std::string(kPredictors[predictor_index]) + " " + kModels[model]);
}

void arguments(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"predictor", "model", "rows"});
  for (int model = 0; model < 3; ++model) {
    for (int batch : {1, 16, 256, 10000}) {
      for (int predictor = 0; predictor < 2; ++predictor) benchmark->Args({predictor, model, batch});
    }
  }
}

BENCHMARK(BM_Predict)->Apply(arguments);

void print_summary() {
  std::printf("\nSummary, thread CPU time per row (ForestPredictor vs LightGBMPredictor, "
              "one thread; exact = rows of %zu equal to lightgbm's predict() rounded to float):\n",
              total_rows());
  std::printf("%-11s %6s %16s %16s %13s\n", "model", "rows", "forest ns/row", "c api ns/row",
              "c api/forest");
  for (int model = 0; model < 3; ++model) {
    for (int batch : {1, 16, 256, 10000}) {
      const auto forest = g_seconds_per_call.find({0, model, batch});
      const auto c_api = g_seconds_per_call.find({1, model, batch});
      if (forest == g_seconds_per_call.end() || c_api == g_seconds_per_call.end()) continue;
      std::printf("%-11s %6d %16.1f %16.1f %12.2fx\n", kModels[model] + 4, batch,
                  forest->second / batch * 1e9, c_api->second / batch * 1e9,
                  c_api->second / forest->second);
    }
    for (int predictor = 0; predictor < 2; ++predictor) {
      if (const auto exact = g_exact_rows.find({predictor, model}); exact != g_exact_rows.end()) {
        std::printf("            %s exact: %zu / %zu rows\n", kPredictors[predictor], exact->second,
                    total_rows());
      }
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
