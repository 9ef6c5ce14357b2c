// ForestPredictor's CUDA evaluator, tested where CI can: the arithmetic the
// kernels run (src/forest/cuda/device_forest.hpp), through the host
// reference, bit for bit against xgboost and ForestModel on every agreement
// model in both kernel orders; the exp it uses against the C library's, on
// the inputs that tell glibc's FMA and non-FMA builds apart; `device: cuda`
// on a machine without a usable GPU (a clear error at creation); and, where
// a GPU is present, the kernels themselves (skipped here, saying why: listed
// in tests/allowed_skips.txt).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "forest/cuda/cuda_evaluator.hpp"
#include "forest/cuda/device_forest.hpp"
#include "forest/cuda/device_layout.hpp"
#include "forest/cuda/host_reference.hpp"
#include "gpu_check_common.hpp"
#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using detail::gpu::Strategy;
using gpu_check::same;

std::vector<fs::path> fixture_folders() {
  std::vector<fs::path> folders;
  if (!fs::is_directory(INFERLOOP_FOREST_FIXTURES)) return folders;
  // The XGBoost sets (xgb<version>/); the LightGBM ones (lgb<version>/) are
  // models the CUDA evaluator does not read.
  for (const auto& entry : fs::directory_iterator(INFERLOOP_FOREST_FIXTURES)) {
    if (entry.path().filename().string().starts_with("xgb") &&
        fs::is_regular_file(entry.path() / "manifest.json")) {
      folders.push_back(entry.path());
    }
  }
  return folders;
}

// Runs `check(folder, manifest entry, file)` on every agreement model file.
template <class Check>
std::size_t for_each_model_file(Check&& check) {
  std::size_t files = 0;
  for (const fs::path& folder : fixture_folders()) {
    const auto manifest = nlohmann::json::parse(std::ifstream(folder / "manifest.json"));
    for (const auto& entry : manifest.at("models")) {
      for (const char* extension : {".json", ".ubj"}) {
        const fs::path file = folder / (entry.at("name").get<std::string>() + extension);
        SCOPED_TRACE(file.string());
        check(folder, entry, file);
        ++files;
      }
    }
  }
  return files;
}

std::size_t differences(const std::vector<float>& got, const std::vector<float>& want,
                        std::size_t per_row, std::string& first) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (same(got[i], want[i])) continue;
    if (count++ == 0) first = gpu_check::describe_difference(i, per_row, got[i], want[i]);
  }
  return count;
}

#define INFERLOOP_REQUIRE_AGREEMENT_MODELS(files)                                               \
  if ((files) == 0) {                                                                            \
    if (INFERLOOP_EXPECT_CURRENT_MODELS) FAIL() << "no agreement models in " INFERLOOP_FOREST_FIXTURES; \
    GTEST_SKIP() << "no agreement models in " INFERLOOP_FOREST_FIXTURES                          \
                    " (configure with -DINFERLOOP_PYTHON=... and run through ctest)";            \
  }

// The kernels' arithmetic on the CPU, in both of their orders, equals
// xgboost's own predictions on every model, and so ForestModel's.
TEST(ForestCudaHostReference, BothKernelOrdersMatchXGBoostBitForBitOnEveryAgreementModel) {
  const std::size_t files = for_each_model_file([](const fs::path& folder, const auto& entry,
                                                   const fs::path& file) {
    const std::string name = entry.at("name");
    const std::size_t rows = entry.at("rows");
    const std::vector<float> features =
        gpu_check::read_f32(folder / entry.at("features").template get<std::string>());
    const auto layout = detail::gpu::build_device_layout(*gpu_check::read_forest_file(file));
    const ForestModel cpu = ForestModel::load(file);
    for (const bool transformed : {false, true}) {
      const OutputKind kind = transformed ? OutputKind::kTransformed : OutputKind::kMargin;
      const std::vector<float> want =
          gpu_check::read_f32(folder / (name + (transformed ? ".transformed.f32" : ".margin.f32")));
      const std::size_t per_row = cpu.num_outputs(kind);
      ASSERT_EQ(want.size(), rows * per_row);
      ASSERT_EQ(detail::gpu::outputs_per_row(layout.view(), transformed), per_row);
      std::vector<float> on_cpu(want.size());
      cpu.predict(features, rows, on_cpu, kind);
      for (const Strategy strategy : {Strategy::kRowParallel, Strategy::kTreeParallel}) {
        std::vector<float> got(want.size(), -7.0F);
        detail::gpu::predict_on_host(layout, features, rows, got, transformed, strategy);
        std::string first;
        EXPECT_EQ(differences(got, want, per_row, first), 0u)
            << to_string(kind) << (strategy == Strategy::kRowParallel ? " row" : " tree")
            << "-parallel differs from xgboost; first: " << first;
        EXPECT_EQ(differences(got, on_cpu, per_row, first), 0u)
            << to_string(kind) << " differs from ForestModel; first: " << first;
      }
    }
  });
  INFERLOOP_REQUIRE_AGREEMENT_MODELS(files);
  EXPECT_GE(files, 2u * 27u);
}

float c_library_expf(float x) { return std::exp(x); }  // glibc's expf, as xgboost calls it

// glibc's FMA build (x86-64 with FMA, where xgboost runs) and its plain
// build round these two inputs differently; all 2^32 floats were compared
// once (docs/gpu.md), this sweeps every 257th.
TEST(ForestCudaHostReference, ExpIsTheCLibrarysOnEveryFloatSampled) {
  for (const std::uint32_t sensitive : {0x4202422fu, 0xc27c65d9u}) {
    float x;
    std::memcpy(&x, &sensitive, sizeof x);
    EXPECT_EQ(gpu_check::bits(detail::gpu::xgboost_expf(x)), gpu_check::bits(c_library_expf(x)))
        << std::hexfloat << x;
  }
  const float specials[] = {0.0F, -0.0F, 1.0F, -1.0F, 88.0F, 88.72283F, 88.72284F, -103.97207F,
                            -103.97208F, -87.33655F, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()};
  for (const float x : specials) {
    EXPECT_EQ(gpu_check::bits(detail::gpu::xgboost_expf(x)), gpu_check::bits(c_library_expf(x)))
        << std::hexfloat << x;
  }
  EXPECT_TRUE(std::isnan(detail::gpu::xgboost_expf(std::numeric_limits<float>::quiet_NaN())));
  std::size_t differing = 0;
  std::uint32_t first = 0;
  for (std::uint64_t word = 0; word <= 0xffffffffu; word += 257) {
    const auto bits = static_cast<std::uint32_t>(word);
    float x;
    std::memcpy(&x, &bits, sizeof x);
    if (std::isnan(x)) continue;
    if (gpu_check::bits(detail::gpu::xgboost_expf(x)) != gpu_check::bits(c_library_expf(x))) {
      if (differing++ == 0) first = bits;
    }
  }
  EXPECT_EQ(differing, 0u) << "first input: 0x" << std::hex << first;
}

// --- device: cuda -------------------------------------------------------------

struct CudaFixture {
  InferenceConfig config;
  ResolvedModel model;
  SharedPredictorState shared;

  std::unique_ptr<Predictor> create() {
    return PredictorRegistry::global().create("ForestPredictor",
                                              PredictorContext{config, model, 0, shared});
  }
};

std::optional<fs::path> any_model_file() {
  for (const fs::path& folder : fixture_folders()) {
    if (fs::is_regular_file(folder / "binary_logistic.ubj")) return folder / "binary_logistic.ubj";
  }
  return std::nullopt;
}

// Why no GPU test can run here, or nothing when one can.
std::optional<std::string> why_no_gpu(const fs::path& model_file) {
  try {
    (void)detail::gpu::upload_forest(
        detail::gpu::build_device_layout(*gpu_check::read_forest_file(model_file)), 0);
    return std::nullopt;
  } catch (const Error& error) {
    return std::string(error.what());
  }
}

TEST(ForestCuda, DeviceCudaWithoutAUsableGpuIsAClearErrorAtCreation) {
  const auto file = any_model_file();
  INFERLOOP_REQUIRE_AGREEMENT_MODELS(file ? 1 : 0);
  if (!why_no_gpu(*file)) GTEST_SKIP() << "a CUDA device is present: ForestCuda.Gpu* run instead";
  CudaFixture fixture;
  fixture.config.predictor_class_name = "ForestPredictor";
  fixture.config.model_uri = file->string();
  fixture.model = resolve_model(fixture.config.model_uri);
  for (const std::string device : {"cuda", "cuda:0", "cuda:3"}) {
    fixture.config.device = device;
    try {
      (void)fixture.create();
      ADD_FAILURE() << device << " was accepted without a GPU";
    } catch (const Error& error) {
      const std::string message = error.what();
      const std::string ordinal = device == "cuda:3" ? "3" : "0";
      EXPECT_TRUE(message.starts_with("device: cuda:" + ordinal + ": ")) << message;
      if (detail::gpu::built_with_cuda()) {
        // The runtime's own reason, by name: no driver, no device, ...
        EXPECT_NE(message.find("cudaGetDeviceCount failed: cudaError"), std::string::npos)
            << message;
        EXPECT_NE(message.find("use device: cpu"), std::string::npos) << message;
      } else {
        EXPECT_NE(message.find("built without CUDA"), std::string::npos) << message;
      }
    }
  }
  // Replicas after a failed one report the same error, not a half-made model.
  EXPECT_TRUE(fixture.shared.entries.empty());
  fixture.config.device = "cuda:4096";
  try {
    (void)fixture.create();
    ADD_FAILURE() << "cuda:4096 was accepted";
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "device: expected cpu, cuda or cuda:N (N from 0 to 4095), found "
                               "'cuda:4096'");
  }
}

// The kernels on a real GPU: every agreement model, both orders and the
// automatic choice, batches of 1 and all rows, against xgboost. Skipped
// without a usable device (scripts/gpu-check runs the full set there).
TEST(ForestCuda, GpuKernelsMatchXGBoostBitForBit) {
  const auto file = any_model_file();
  INFERLOOP_REQUIRE_AGREEMENT_MODELS(file ? 1 : 0);
  if (const auto reason = why_no_gpu(*file)) GTEST_SKIP() << "no usable CUDA device: " << *reason;
  const std::size_t files = for_each_model_file([](const fs::path& folder, const auto& entry,
                                                   const fs::path& file) {
    const std::string name = entry.at("name");
    const std::size_t rows = entry.at("rows");
    const std::vector<float> features =
        gpu_check::read_f32(folder / entry.at("features").template get<std::string>());
    const auto device = detail::gpu::upload_forest(
        detail::gpu::build_device_layout(*gpu_check::read_forest_file(file)), 0);
    for (const bool transformed : {false, true}) {
      const std::vector<float> want =
          gpu_check::read_f32(folder / (name + (transformed ? ".transformed.f32" : ".margin.f32")));
      for (const Strategy strategy :
           {Strategy::kAuto, Strategy::kRowParallel, Strategy::kTreeParallel}) {
        detail::gpu::CudaEvaluator evaluator(device, transformed, strategy);
        const std::size_t per_row = evaluator.outputs_per_row();
        std::vector<float> got(want.size(), -7.0F);
        evaluator.predict(features, rows, got);
        std::string first;
        EXPECT_EQ(differences(got, want, per_row, first), 0u) << first;
        std::vector<float> one(per_row);
        for (std::size_t row = 0; row < rows; row += 101) {
          evaluator.predict(std::span(features).subspan(row * evaluator.num_features(),
                                                        evaluator.num_features()),
                            1, one);
          for (std::size_t k = 0; k < per_row; ++k) {
            ASSERT_TRUE(same(one[k], want[row * per_row + k])) << "row " << row;
          }
        }
      }
    }
  });
  EXPECT_GE(files, 2u * 27u);
}

}  // namespace
}  // namespace inferloop
