// gpu_bench: rows/s and latency of the CUDA evaluator against ForestModel
// (the CPU evaluator) on all cores, in the same run, for batches of 1 to 1M
// rows and models of 100x6 to 2000x8 (trees x depth).
//
//   gpu_bench --out FILE.json [--evaluator cuda|host] [--device N] [--quick]
//
// The models are synthetic binary:logistic forests over 50 features (random
// splits on N(0,1) features, some leaves above the full depth), written as
// XGBoost JSON and read through the admission gate and the reader like any
// model file: trained models this size would not fit the GPU machine's
// 64 MiB transfer. Rows are N(0,1) with 5% NaN. Every GPU batch is also
// checked bit for bit against ForestModel's output for the same rows.
//
// Timing: wall time of each predict() call (copies in and out included),
// repeated until 0.3 s have passed (at least 3 calls, 1 for CPU batches
// over 0.5 s); the median is reported. CPU batches are split over
// std::thread::hardware_concurrency() threads in contiguous slices (batches
// under 64 rows per thread use fewer threads). --quick: the smallest model
// and batches up to 256 rows (scripts/gpu-check --dry-run, with --evaluator
// host, to test this program without a GPU).
#include <algorithm>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "forest/cuda/cuda_evaluator.hpp"
#include "forest/cuda/device_layout.hpp"
#include "forest/cuda/host_reference.hpp"
#include "gpu_check_common.hpp"
#include "util/checked.hpp"
#include "util/device.hpp"
#include "inferloop/forest.hpp"

namespace inferloop::gpu_check {
namespace {

using nlohmann::json;
using detail::gpu::Strategy;

constexpr std::size_t kFeatures = 50;

struct Options {
  std::filesystem::path out;
  bool cuda = true;
  int device = 0;
  bool quick = false;
};

// One tree of depth at most `depth` in XGBoost's JSON form, nodes numbered
// breadth-first as xgboost numbers them.
json synthetic_tree(std::mt19937_64& random, std::size_t depth) {
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  std::uniform_int_distribution<int> feature(0, static_cast<int>(kFeatures) - 1);
  json left = json::array(), right = json::array(), split = json::array(),
       condition = json::array(), default_left = json::array(), split_type = json::array();
  std::vector<std::size_t> level{0};  // depth of each node so far
  for (std::size_t node = 0; node < level.size(); ++node) {
    const bool leaf = level[node] == depth || (level[node] >= 3 && uniform(random) < 0.1);
    if (leaf) {
      left.push_back(-1);
      right.push_back(-1);
      split.push_back(0);
      condition.push_back(static_cast<float>(0.1 * normal(random)));
    } else {
      left.push_back(level.size());
      right.push_back(level.size() + 1);
      level.push_back(level[node] + 1);
      level.push_back(level[node] + 1);
      split.push_back(feature(random));
      condition.push_back(static_cast<float>(0.8 * normal(random)));
    }
    default_left.push_back(uniform(random) < 0.5 ? 1 : 0);
    split_type.push_back(0);
  }
  return {{"tree_param", {{"num_nodes", std::to_string(level.size())}, {"size_leaf_vector", "1"}}},
          {"left_children", left},
          {"right_children", right},
          {"split_indices", split},
          {"split_conditions", condition},
          {"default_left", default_left},
          {"split_type", split_type},
          {"categories", json::array()},
          {"categories_nodes", json::array()},
          {"categories_segments", json::array()},
          {"categories_sizes", json::array()}};
}

std::string synthetic_model(std::size_t trees, std::size_t depth) {
  std::mt19937_64 random(trees * 100 + depth);
  json tree_list = json::array();
  json tree_info = json::array();
  for (std::size_t t = 0; t < trees; ++t) {
    json tree = synthetic_tree(random, depth);
    tree["id"] = t;
    tree_list.push_back(std::move(tree));
    tree_info.push_back(0);
  }
  const json model = {
      {"version", {3, 2, 0}},
      {"learner",
       {{"learner_model_param",
         {{"base_score", "5E-1"}, {"num_feature", std::to_string(kFeatures)},
          {"num_class", "0"}, {"num_target", "1"}}},
        {"objective", {{"name", "binary:logistic"}}},
        {"gradient_booster",
         {{"name", "gbtree"},
          {"model",
           {{"gbtree_model_param", {{"num_trees", std::to_string(trees)}}},
            {"trees", tree_list},
            {"tree_info", tree_info}}}}}}}};
  return model.dump();
}

std::vector<float> synthetic_rows(std::size_t rows) {
  std::mt19937_64 random(7);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform;
  std::vector<float> values(rows * kFeatures);
  for (float& value : values) {
    value = uniform(random) < 0.05F ? std::numeric_limits<float>::quiet_NaN() : normal(random);
  }
  return values;
}

// Median wall time of `call`, repeated for about 0.3 s.
template <class Call>
double median_seconds(Call&& call, double long_call = 1e9) {
  std::vector<double> times;
  const auto started = std::chrono::steady_clock::now();
  do {
    const auto before = std::chrono::steady_clock::now();
    call();
    times.push_back(seconds_since(before));
    if (times.back() > long_call) break;
  } while (times.size() < 3 || (seconds_since(started) < 0.3 && times.size() < 100000));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// ForestModel over `threads` threads, each a contiguous slice of rows.
void predict_on_cpu(const ForestModel& model, const std::vector<float>& rows_in, std::size_t rows,
                    std::vector<float>& out, std::size_t threads) {
  const std::size_t used = std::clamp<std::size_t>(rows / 64, 1, threads);
  const std::size_t slice = (rows + used - 1) / used;
  std::vector<std::thread> workers;
  for (std::size_t first = 0; first < rows; first += slice) {
    const std::size_t count = std::min(slice, rows - first);
    workers.emplace_back([&, first, count] {
      model.predict(std::span(rows_in).subspan(first * kFeatures, count * kFeatures), count,
                    std::span(out).subspan(first, count), OutputKind::kTransformed);
    });
  }
  for (auto& worker : workers) worker.join();
}

int run(const Options& options) {
  const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::pair<std::size_t, std::size_t>> shapes = {{100, 6}, {500, 6}, {1000, 8}, {2000, 8}};
  std::vector<std::size_t> batches = {1, 16, 256, 4096, 65536, std::size_t{1} << 20};
  if (options.quick) {
    shapes = {{100, 6}};
    batches = {1, 16, 256};
  }
  const std::vector<float> rows_in = synthetic_rows(batches.back());
  json results = json::array();
  std::string device = "host reference";
  std::size_t differing = 0;
  for (const auto& [trees, depth] : shapes) {
    const std::string text = synthetic_model(trees, depth);
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()),
                                              text.size());
    const std::string name = std::to_string(trees) + "x" + std::to_string(depth);
    const auto forest = detail::read_forest(bytes, ModelFormat::kJson, "synthetic " + name);
    const ForestModel cpu = detail::ForestModelAccess::make(forest);
    const auto layout = detail::gpu::build_device_layout(*forest);
    std::shared_ptr<const detail::gpu::DeviceForest> uploaded;
    if (options.cuda) {
      uploaded = detail::gpu::upload_forest(layout, options.device);
      device = detail::gpu::describe_device(*uploaded);
    }
    for (const std::size_t rows : batches) {
      std::vector<float> want(rows);
      const double cpu_seconds =
          median_seconds([&] { predict_on_cpu(cpu, rows_in, rows, want, threads); }, 0.5);
      json entry = {{"model", name},
                    {"trees", trees},
                    {"depth", depth},
                    {"nodes", forest->nodes.size()},
                    {"rows", rows},
                    {"cpu_threads", std::clamp<std::size_t>(rows / 64, 1, threads)},
                    {"cpu_seconds", cpu_seconds},
                    {"cpu_rows_per_second", static_cast<double>(rows) / cpu_seconds}};
      for (const Strategy strategy :
           {Strategy::kAuto, Strategy::kRowParallel, Strategy::kTreeParallel}) {
        const char* label = strategy == Strategy::kAuto          ? "gpu"
                            : strategy == Strategy::kRowParallel ? "gpu_row_parallel"
                                                                 : "gpu_tree_parallel";
        // The forced orders only where the automatic choice switches.
        if (strategy != Strategy::kAuto && (rows < 256 || rows > 65536)) continue;
        std::vector<float> got(rows, -7.0F);
        double seconds = 0;
        if (uploaded) {
          detail::gpu::CudaEvaluator evaluator(uploaded, true, strategy);
          const std::span<const float> input(rows_in.data(), rows * kFeatures);
          evaluator.predict(input, rows, got);  // captures the graph, sizes the buffers
          seconds = median_seconds([&] { evaluator.predict(input, rows, got); });
        } else {
          seconds = median_seconds([&] {
            detail::gpu::predict_on_host(layout, std::span(rows_in).first(rows * kFeatures), rows,
                                         got, true, strategy);
          });
        }
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < rows; ++i) wrong += same(got[i], want[i]) ? 0 : 1;
        differing += wrong;
        entry[std::string(label) + "_seconds"] = seconds;
        entry[std::string(label) + "_rows_per_second"] = static_cast<double>(rows) / seconds;
        entry[std::string(label) + "_differing"] = wrong;
      }
      entry["speedup"] = cpu_seconds / entry["gpu_seconds"].get<double>();
      std::cerr << "gpu_bench: " << entry.dump() << "\n";
      results.push_back(std::move(entry));
    }
  }
  const json report = {{"evaluator", options.cuda ? "cuda" : "host"},
                       {"device", device},
                       {"cpu_threads", threads},
                       {"features", kFeatures},
                       {"outputs_differing", differing},
                       {"results", results}};
  std::ofstream(options.out) << report.dump(1) << "\n";
  std::cout << "gpu_bench: " << results.size() << " measurements on " << device << ", "
            << differing << " outputs differ from ForestModel\n";
  return differing == 0 ? 0 : 1;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--out") {
      options.out = value();
    } else if (arg == "--evaluator") {
      const std::string evaluator = value();
      if (evaluator != "cuda" && evaluator != "host") {
        throw std::runtime_error("--evaluator: expected cuda or host, found " + evaluator);
      }
      options.cuda = evaluator == "cuda";
    } else if (arg == "--device") {
      options.device = detail::parse_integer<int>(value(), "--device", 0, detail::kMaxCudaOrdinal);
    } else if (arg == "--quick") {
      options.quick = true;
    } else {
      throw std::runtime_error("unknown argument " + arg);
    }
  }
  if (options.out.empty()) {
    throw std::runtime_error(
        "usage: gpu_bench --out FILE.json [--evaluator cuda|host] [--device N] [--quick]");
  }
  return options;
}

}  // namespace
}  // namespace inferloop::gpu_check

int main(int argc, char** argv) {
  try {
    return inferloop::gpu_check::run(inferloop::gpu_check::parse_options(argc, argv));
  } catch (const std::exception& error) {
    std::cerr << "gpu_bench: " << error.what() << "\n";
    return 2;
  }
}
