// gpu_agreement: the CUDA evaluator against xgboost's own CPU predictions,
// bit for bit, on every agreement model tests/python/forest_models.py
// trained (each configured xgboost, JSON and UBJSON, margin and
// transformed), in batches of 1 to 1M rows (the 3,000 test rows repeated),
// through both kernel orders (kRowParallel, kTreeParallel) and the
// automatic choice.
//
//   gpu_agreement --fixtures DIR --out FILE.json [--evaluator cuda|host]
//                 [--device N] [--max-rows N]
//
// --evaluator host runs the same comparisons through the host reference (no
// GPU): scripts/gpu-check --dry-run does, so that a mistake in this program
// shows up before GPU time is spent on it. Exit status: 0 when every output
// agreed, 1 when any differed, 2 on a usage or setup error.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "forest/cuda/cuda_evaluator.hpp"
#include "forest/cuda/device_layout.hpp"
#include "forest/cuda/host_reference.hpp"
#include "gpu_check_common.hpp"
#include "util/checked.hpp"
#include "util/device.hpp"
#include "inferloop/error.hpp"

namespace inferloop::gpu_check {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using detail::gpu::Strategy;

struct Options {
  fs::path fixtures;
  fs::path out;
  bool cuda = true;
  int device = 0;
  std::size_t max_rows = std::size_t{1} << 20;
};

const char* strategy_name(Strategy strategy) {
  switch (strategy) {
    case Strategy::kAuto:
      return "auto";
    case Strategy::kRowParallel:
      return "row-parallel";
    case Strategy::kTreeParallel:
      return "tree-parallel";
  }
  return "?";
}

// One model file, evaluated on the GPU or by the host reference.
class Evaluator {
 public:
  Evaluator(const detail::gpu::DeviceLayout& layout, const Options& options) : layout_(layout) {
    if (options.cuda) device_ = detail::gpu::upload_forest(layout, options.device);
  }

  std::string device() const {
    return device_ ? detail::gpu::describe_device(*device_) : "host reference";
  }

  void predict(const std::vector<float>& features, std::size_t rows, std::vector<float>& out,
               bool transformed, Strategy strategy) {
    if (!device_) {
      detail::gpu::predict_on_host(layout_, features, rows, out, transformed, strategy);
      return;
    }
    auto& evaluator = evaluators_[{transformed, strategy}];
    if (!evaluator) {
      evaluator = std::make_unique<detail::gpu::CudaEvaluator>(device_, transformed, strategy);
    }
    evaluator->predict(std::span(features).first(rows * layout_.num_features), rows, out);
  }

 private:
  const detail::gpu::DeviceLayout& layout_;
  std::shared_ptr<const detail::gpu::DeviceForest> device_;
  std::map<std::pair<bool, Strategy>, std::unique_ptr<detail::gpu::CudaEvaluator>> evaluators_;
};

// `rows` rows: the test rows repeated.
std::vector<float> tiled(const std::vector<float>& values, std::size_t per_row, std::size_t rows) {
  const std::size_t source_rows = values.size() / per_row;
  std::vector<float> result(rows * per_row);
  for (std::size_t row = 0; row < rows; ++row) {
    std::copy_n(values.begin() + static_cast<std::ptrdiff_t>((row % source_rows) * per_row),
                per_row, result.begin() + static_cast<std::ptrdiff_t>(row * per_row));
  }
  return result;
}

struct Totals {
  std::size_t comparisons = 0;
  std::size_t outputs = 0;
  std::size_t differing = 0;
  json failures = json::array();
};

void compare(const std::vector<float>& got, const std::vector<float>& want, std::size_t count,
             std::size_t per_row, json where, Totals& totals) {
  std::size_t differing = 0;
  std::string first;
  for (std::size_t i = 0; i < count; ++i) {
    if (same(got[i], want[i])) continue;
    if (differing++ == 0) first = describe_difference(i, per_row, got[i], want[i]);
  }
  ++totals.comparisons;
  totals.outputs += count;
  totals.differing += differing;
  if (differing != 0 && totals.failures.size() < 100) {
    where["differing"] = differing;
    where["first"] = first;
    totals.failures.push_back(where);
  }
}

// Batches: one row at a time (64 rows), then growing batches, the largest
// repeating the test rows.
std::vector<std::size_t> batch_sizes(std::size_t max_rows) {
  std::vector<std::size_t> sizes;
  for (std::size_t rows : {std::size_t{7}, std::size_t{32}, std::size_t{100}, std::size_t{3000},
                           std::size_t{65536}, std::size_t{1} << 20}) {
    if (rows <= max_rows) sizes.push_back(rows);
  }
  return sizes;
}

void check_model(const fs::path& root, const json& entry, const Options& options,
                 std::map<std::string, std::vector<float>>& tiled_features, Totals& totals,
                 std::string& device) {
  const std::string name = entry.at("name");
  const std::string features_file = entry.at("features");
  const std::size_t width = entry.at("num_features");
  const std::size_t test_rows = entry.at("rows");
  const std::size_t largest = std::min(options.max_rows, std::size_t{1} << 20);
  auto& features = tiled_features[features_file];
  if (features.empty()) features = tiled(read_f32(root / features_file), width, largest);
  for (const char* extension : {".json", ".ubj"}) {
    const fs::path file = root / (name + extension);
    const auto forest = read_forest_file(file);
    const auto layout = detail::gpu::build_device_layout(*forest);
    Evaluator evaluator(layout, options);
    device = evaluator.device();
    for (const bool transformed : {false, true}) {
      const std::size_t per_row = transformed ? std::size_t(entry.at("transformed_outputs"))
                                              : std::size_t(entry.at("margin_outputs"));
      const std::vector<float> want_rows =
          read_f32(root / (name + (transformed ? ".transformed.f32" : ".margin.f32")));
      if (want_rows.size() != test_rows * per_row) {
        throw std::runtime_error(file.string() + ": expected outputs of the wrong size");
      }
      json where = {{"model", root.filename().string() + "/" + name + extension},
                    {"output", transformed ? "transformed" : "margin"}};
      // One row at a time: the graph path.
      std::vector<float> out(largest * per_row);
      for (std::size_t row = 0; row < std::min<std::size_t>(64, test_rows); ++row) {
        const std::vector<float> one(features.begin() + static_cast<std::ptrdiff_t>(row * width),
                                     features.begin() + static_cast<std::ptrdiff_t>((row + 1) * width));
        evaluator.predict(one, 1, out, transformed, Strategy::kAuto);
        where["rows"] = 1;
        where["strategy"] = "auto";
        where["row"] = row;
        compare(out, std::vector<float>(want_rows.begin() + static_cast<std::ptrdiff_t>(row * per_row),
                                        want_rows.begin() + static_cast<std::ptrdiff_t>((row + 1) * per_row)),
                per_row, per_row, where, totals);
      }
      where.erase("row");
      // The largest batches only for UBJSON: the two formats give one forest.
      const std::vector<float> want = tiled(want_rows, per_row, largest);
      for (const std::size_t rows : batch_sizes(largest)) {
        if (rows > 3000 && std::string(extension) == ".json") continue;
        for (const Strategy strategy :
             {Strategy::kAuto, Strategy::kRowParallel, Strategy::kTreeParallel}) {
          // The forced orders on every size up to 64K rows; at 1M, auto only.
          if (strategy != Strategy::kAuto && rows > 65536) continue;
          std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(rows * per_row), -7.0F);
          evaluator.predict(features, rows, out, transformed, strategy);
          where["rows"] = rows;
          where["strategy"] = strategy_name(strategy);
          compare(out, want, rows * per_row, per_row, where, totals);
        }
      }
    }
  }
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--fixtures") {
      options.fixtures = value();
    } else if (arg == "--out") {
      options.out = value();
    } else if (arg == "--evaluator") {
      const std::string evaluator = value();
      if (evaluator != "cuda" && evaluator != "host") {
        throw std::runtime_error("--evaluator: expected cuda or host, found " + evaluator);
      }
      options.cuda = evaluator == "cuda";
    } else if (arg == "--device") {
      options.device = detail::parse_integer<int>(value(), "--device", 0, detail::kMaxCudaOrdinal);
    } else if (arg == "--max-rows") {
      options.max_rows = detail::parse_integer<std::size_t>(value(), "--max-rows", 1, std::size_t{1} << 20);
    } else {
      throw std::runtime_error("unknown argument " + arg);
    }
  }
  if (options.fixtures.empty() || options.out.empty()) {
    throw std::runtime_error(
        "usage: gpu_agreement --fixtures DIR --out FILE.json [--evaluator cuda|host] "
        "[--device N] [--max-rows N]");
  }
  options.max_rows = std::max<std::size_t>(options.max_rows, 3000);
  return options;
}

int run(const Options& options) {
  const auto started = std::chrono::steady_clock::now();
  Totals totals;
  std::string device = options.cuda ? "cuda" : "host reference";
  json versions = json::array();
  std::size_t models = 0;
  std::vector<fs::path> roots;
  for (const auto& entry : fs::directory_iterator(options.fixtures)) {
    if (fs::is_regular_file(entry.path() / "manifest.json")) roots.push_back(entry.path());
  }
  std::sort(roots.begin(), roots.end());
  if (roots.empty()) throw std::runtime_error("no */manifest.json in " + options.fixtures.string());
  for (const fs::path& root : roots) {
    const json manifest = json::parse(std::ifstream(root / "manifest.json"));
    versions.push_back(manifest.at("xgboost_version"));
    std::map<std::string, std::vector<float>> tiled_features;
    for (const json& entry : manifest.at("models")) {
      check_model(root, entry, options, tiled_features, totals, device);
      models += 2;
      std::cerr << "gpu_agreement: " << root.filename().string() << "/" << entry.at("name").get<std::string>()
                << ": " << totals.differing << " differing outputs so far\n";
    }
  }
  const json report = {{"evaluator", options.cuda ? "cuda" : "host"},
                       {"device", device},
                       {"xgboost_versions", versions},
                       {"model_files", models},
                       {"comparisons", totals.comparisons},
                       {"outputs_compared", totals.outputs},
                       {"outputs_differing", totals.differing},
                       {"largest_batch_rows", std::min(options.max_rows, std::size_t{1} << 20)},
                       {"failures", totals.failures},
                       {"seconds", seconds_since(started)}};
  std::ofstream(options.out) << report.dump(1) << "\n";
  std::cout << "gpu_agreement: " << models << " model files on " << device << ": "
            << totals.outputs << " outputs compared in " << totals.comparisons << " batches, "
            << totals.differing << " differ from xgboost\n";
  return totals.differing == 0 ? 0 : 1;
}

}  // namespace
}  // namespace inferloop::gpu_check

int main(int argc, char** argv) {
  try {
    return inferloop::gpu_check::run(inferloop::gpu_check::parse_options(argc, argv));
  } catch (const std::exception& error) {
    std::cerr << "gpu_agreement: " << error.what() << "\n";
    return 2;
  }
}
