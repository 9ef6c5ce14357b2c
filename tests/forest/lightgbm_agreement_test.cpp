// LightGBMModel / ForestPredictor against lightgbm's own predictions, bit
// for bit in double, on the models tests/python/lightgbm_models.py trains
// with the venv's lightgbm: every objective, random forest and dart, NaN,
// zeros and LightGBM's zero band, missing_type Zero and None, and
// categorical bitset splits fed negative, fractional and huge codes. Also
// the same model through an MLflow lightgbm-flavor folder and the predictor
// registry, the models it must refuse, and LightGBMPredictor (LightGBM's own
// C API) on every model, which must agree with lightgbm's Python predict too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "inferloop/lightgbm.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;

template <typename T>
std::vector<T> read_values(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << file;
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

std::uint64_t bits(double value) {
  std::uint64_t word;
  std::memcpy(&word, &value, sizeof word);
  return word;
}

std::uint32_t bits(float value) {
  std::uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  return word;
}

// Equal bits, except that any NaN equals any NaN.
template <typename T>
bool same(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b);
}

struct LightGBMFixtures {
  fs::path root;
  nlohmann::json manifest;
};

// The folder lightgbm_models.py wrote (lgb<major>.<minor>/), or nothing.
std::optional<LightGBMFixtures> lightgbm_fixtures() {
  if (!fs::is_directory(INFERLOOP_FOREST_FIXTURES)) return std::nullopt;
  for (const auto& entry : fs::directory_iterator(INFERLOOP_FOREST_FIXTURES)) {
    if (!entry.path().filename().string().starts_with("lgb")) continue;
    const fs::path manifest = entry.path() / "manifest.json";
    if (!fs::is_regular_file(manifest)) return std::nullopt;
    return LightGBMFixtures{entry.path(), nlohmann::json::parse(std::ifstream(manifest))};
  }
  return std::nullopt;
}

// A build configured with the venv's python trains the models in a ctest
// fixture, so their absence there is a failure; without it the test skips.
#define INFERLOOP_LIGHTGBM_REQUIRE(set)                                                     \
  if (!(set)) {                                                                             \
    if (INFERLOOP_EXPECT_CURRENT_MODELS) {                                                  \
      FAIL() << "no LightGBM models in " INFERLOOP_FOREST_FIXTURES                          \
                " although this build trains them: did forest_fixtures_lightgbm run?";     \
    }                                                                                       \
    GTEST_SKIP() << "no LightGBM models in " INFERLOOP_FOREST_FIXTURES                      \
                    " (configure with -DINFERLOOP_PYTHON=... and run through ctest)";       \
  }

// The first differing output of `got` against lightgbm's `want`, or "".
std::string first_difference(const std::vector<double>& got, const std::vector<double>& want,
                             std::size_t per_row) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (same(got[i], want[i])) continue;
    char text[200];
    std::snprintf(text, sizeof text, "row %zu output %zu: got %.17g (0x%016llx), lightgbm %.17g (0x%016llx)",
                  i / per_row, i % per_row, got[i], static_cast<unsigned long long>(bits(got[i])),
                  want[i], static_cast<unsigned long long>(bits(want[i])));
    return text;
  }
  return "";
}

TEST(LightGBMAgreement, EveryObjectiveRawAndTransformedBatchAndSingleRowBitForBit) {
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  std::size_t compared = 0;
  for (const auto& entry : set->manifest.at("models")) {
    const std::string name = entry.at("name");
    SCOPED_TRACE(set->root.filename().string() + "/" + name);
    const std::size_t rows = entry.at("rows");
    const std::size_t per_row = entry.at("outputs");
    const std::vector<float> features =
        read_values<float>(set->root / entry.at("features").get<std::string>());
    const LightGBMModel model = LightGBMModel::load(set->root / (name + ".txt"));
    ASSERT_EQ(model.num_features(), entry.at("num_features").get<std::size_t>());
    ASSERT_EQ(model.num_outputs(), per_row);
    ASSERT_EQ(model.num_trees(), entry.at("trees").get<std::size_t>());
    ASSERT_EQ(features.size(), rows * model.num_features());
    for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
      SCOPED_TRACE(to_string(kind));
      const std::vector<double> want = read_values<double>(
          set->root / (name + (kind == OutputKind::kMargin ? ".raw.f64" : ".transformed.f64")));
      ASSERT_EQ(want.size(), rows * per_row);

      std::vector<double> batch(want.size());
      model.predict(features, rows, batch, kind);
      EXPECT_EQ(first_difference(batch, want, per_row), "");

      // One row at a time gives the same doubles.
      std::vector<double> single(want.size());
      for (std::size_t row = 0; row < rows; ++row) {
        model.predict(std::span(features).subspan(row * model.num_features(), model.num_features()),
                      1, std::span(single).subspan(row * per_row, per_row), kind);
      }
      EXPECT_EQ(first_difference(single, want, per_row), "");

      // The float overload is lightgbm's double rounded once.
      std::vector<float> rounded(want.size());
      model.predict(features, rows, rounded, kind);
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_TRUE(same(rounded[i], static_cast<float>(want[i]))) << "output " << i;
      }
    }
    ++compared;
  }
  // lightgbm_models.py writes 22 numeric and 3 categorical models.
  EXPECT_GE(compared, 25U);
}

TEST(LightGBMAgreement, CoversZeroAsMissingAndCategoricalSplits) {
  // The agreement above proves these paths only if the models contain them.
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  std::ifstream zero(set->root / "zero_as_missing.txt");
  const std::string zero_text{std::istreambuf_iterator<char>(zero), std::istreambuf_iterator<char>()};
  // decision_type 4 / 6: missing type Zero (bits 2-3 = 1), default right / left.
  EXPECT_NE(zero_text.find("decision_type=6"), std::string::npos);
  std::ifstream categorical(set->root / "cat_binary.txt");
  const std::string cat_text{std::istreambuf_iterator<char>(categorical),
                             std::istreambuf_iterator<char>()};
  EXPECT_NE(cat_text.find("cat_threshold="), std::string::npos);
}

TEST(LightGBMAgreement, RefusesLinearTreesNamingTheFileAndWhatToDo) {
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  for (const auto& entry : set->manifest.at("refuse")) {
    const fs::path file = set->root / entry.at("file").get<std::string>();
    SCOPED_TRACE(file.string());
    try {
      (void)LightGBMModel::load(file);
      ADD_FAILURE() << "loaded a model it must refuse";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file.filename().string()), std::string::npos) << message;
      EXPECT_NE(message.find("linear_tree"), std::string::npos) << message;
      EXPECT_NE(message.find("train without linear_tree"), std::string::npos) << message;
    }
  }
}

// --- through model resolution and the predictor registry --------------------

std::vector<float> predict_through(const std::string& model_uri, const std::vector<float>& features,
                                   std::size_t rows, OutputKind kind, std::size_t& per_row) {
  InferenceConfig config;
  config.model_uri = model_uri;
  config.output = kind;
  const ResolvedModel model = resolve_model(model_uri);
  EXPECT_EQ(model.format, ModelFormat::kLightGBM);
  SharedPredictorState shared;
  auto predictor = PredictorRegistry::global().create("ForestPredictor",
                                                      PredictorContext{config, model, 0, shared});
  per_row = predictor->num_outputs();
  std::vector<float> out(rows * per_row);
  predictor->predict(features, rows, out);
  return out;
}

TEST(LightGBMAgreement, ForestPredictorServesAModelFileAndAnMlflowLightgbmFolder) {
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  const std::vector<float> features = read_values<float>(set->root / "features.f32");
  const std::size_t rows = features.size() / 10;
  const ResolvedModel folder = resolve_model((set->root / "mlflow_binary").string());
  EXPECT_EQ(folder.mlflow_flavor, "lightgbm");
  ASSERT_TRUE(folder.mlflow_lightgbm_version.has_value());
  EXPECT_EQ(*folder.mlflow_lightgbm_version, set->manifest.at("lightgbm_version").get<std::string>());
  EXPECT_EQ(folder.model_file.filename(), "model.lgb");
  EXPECT_EQ(folder.signature_inputs.size(), 10U);

  for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
    SCOPED_TRACE(to_string(kind));
    const std::vector<double> want = read_values<double>(
        set->root / (kind == OutputKind::kMargin ? "binary.raw.f64" : "binary.transformed.f64"));
    for (const fs::path& uri : {set->root / "binary.txt", set->root / "mlflow_binary"}) {
      SCOPED_TRACE(uri.string());
      std::size_t per_row = 0;
      const std::vector<float> got = predict_through(uri.string(), features, rows, kind, per_row);
      ASSERT_EQ(per_row, 1U);
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_TRUE(same(got[i], static_cast<float>(want[i]))) << "row " << i;
      }
    }
  }
}

// --- LightGBMPredictor: LightGBM's C API ------------------------------------

// A build configured with LightGBM's header has a working LightGBMPredictor;
// without it the tests below skip, saying so.
#define INFERLOOP_LIGHTGBM_C_API_REQUIRE()                                                  \
  if (!INFERLOOP_EXPECT_LIGHTGBM_C_API) {                                                   \
    GTEST_SKIP() << "built without LightGBM's C header (INFERLOOP_LIGHTGBM_INCLUDE_DIR)"; \
  }

std::unique_ptr<Predictor> lightgbm_c_api_predictor(const fs::path& model_file, OutputKind kind,
                                                    SharedPredictorState& shared,
                                                    bool share_booster = false) {
  InferenceConfig config;
  config.model_uri = model_file.string();
  config.output = kind;
  config.share_booster = share_booster;
  const ResolvedModel model = resolve_model(config.model_uri);
  return PredictorRegistry::global().create("LightGBMPredictor",
                                            PredictorContext{config, model, 0, shared});
}

TEST(LightGBMAgreement, LightGBMPredictorEqualsLightgbmOnEveryModelBatchAndSingleRow) {
  INFERLOOP_LIGHTGBM_C_API_REQUIRE();
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  std::size_t compared = 0;
  for (const auto& entry : set->manifest.at("models")) {
    const std::string name = entry.at("name");
    SCOPED_TRACE(set->root.filename().string() + "/" + name);
    const std::size_t rows = entry.at("rows");
    const std::size_t per_row = entry.at("outputs");
    const std::size_t width = entry.at("num_features");
    const std::vector<float> features =
        read_values<float>(set->root / entry.at("features").get<std::string>());
    for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
      SCOPED_TRACE(to_string(kind));
      const std::vector<double> want = read_values<double>(
          set->root / (name + (kind == OutputKind::kMargin ? ".raw.f64" : ".transformed.f64")));
      SharedPredictorState shared;
      auto predictor = lightgbm_c_api_predictor(set->root / (name + ".txt"), kind, shared);
      ASSERT_EQ(predictor->num_features(), width);
      ASSERT_EQ(predictor->num_outputs(), per_row);
      EXPECT_NE(predictor->describe().find("LightGBMPredictor("), std::string::npos);

      // The batch path (LGBM_BoosterPredictForMat) and the single-row fast path.
      std::vector<float> batch(rows * per_row);
      predictor->predict(features, rows, batch);
      std::vector<float> single(rows * per_row);
      for (std::size_t row = 0; row < rows; ++row) {
        predictor->predict(std::span(features).subspan(row * width, width), 1,
                           std::span(single).subspan(row * per_row, per_row));
      }
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_TRUE(same(batch[i], static_cast<float>(want[i])))
            << "batch, row " << i / per_row << ": " << batch[i] << " vs lightgbm " << want[i];
        ASSERT_TRUE(same(single[i], static_cast<float>(want[i])))
            << "single row " << i / per_row << ": " << single[i] << " vs lightgbm " << want[i];
      }
    }
    ++compared;
  }
  EXPECT_GE(compared, 25U);
}

TEST(LightGBMAgreement, LightGBMPredictorReplicasShareOneBoosterWhenAsked) {
  INFERLOOP_LIGHTGBM_C_API_REQUIRE();
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  const std::vector<float> features = read_values<float>(set->root / "features.f32");
  const std::vector<double> want = read_values<double>(set->root / "binary.transformed.f64");
  SharedPredictorState shared;
  auto first = lightgbm_c_api_predictor(set->root / "binary.txt", OutputKind::kTransformed, shared,
                                        /*share_booster=*/true);
  auto second = lightgbm_c_api_predictor(set->root / "binary.txt", OutputKind::kTransformed, shared,
                                         /*share_booster=*/true);
  EXPECT_EQ(shared.entries.size(), 1U);  // one booster, two FastConfigs
  for (auto* predictor : {first.get(), second.get()}) {
    std::vector<float> out(1);
    predictor->predict(std::span(features).subspan(0, 10), 1, out);
    EXPECT_TRUE(same(out[0], static_cast<float>(want[0])));
  }
}

TEST(LightGBMAgreement, LightGBMPredictorRefusesAnXGBoostModelAndWrongShapes) {
  INFERLOOP_LIGHTGBM_C_API_REQUIRE();
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  // An XGBoost model: refused before LightGBM sees it, naming the predictors that serve it.
  const fs::path xgboost_model = fs::temp_directory_path() / "inferloop_lightgbm_refuses.json";
  {
    std::ofstream out(xgboost_model);
    out << R"({"learner":{"attributes":{},"feature_names":[],"feature_types":[],)"
           R"("gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1",)"
           R"("num_trees":"0"},"iteration_indptr":[0],"tree_info":[],"trees":[]},"name":"gbtree"},)"
           R"("learner_model_param":{"base_score":"5E-1","boost_from_average":"1","num_class":"0",)"
           R"("num_feature":"3","num_target":"1"},"name":"generic",)"
           R"("objective":{"name":"reg:squarederror","reg_loss_param":{"scale_pos_weight":"1"}}},)"
           R"("version":[1,7,4]})";
  }
  SharedPredictorState shared;
  try {
    (void)lightgbm_c_api_predictor(xgboost_model, OutputKind::kTransformed, shared);
    ADD_FAILURE() << "LightGBMPredictor accepted an XGBoost model";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("is an XGBoost model"), std::string::npos) << message;
    EXPECT_NE(message.find("XGBoostPredictor or ForestPredictor"), std::string::npos) << message;
  }
  fs::remove(xgboost_model);

  // Buffers that do not fit the model: refused before LightGBM reads them.
  auto predictor = lightgbm_c_api_predictor(set->root / "binary.txt", OutputKind::kTransformed, shared);
  std::vector<float> short_row(9);
  std::vector<float> out(1);
  try {
    predictor->predict(short_row, 1, out);
    ADD_FAILURE() << "predicted from 9 features for a 10-feature model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("LightGBMPredictor::predict: 1 rows need 10 features"),
              std::string::npos)
        << e.what();
  }
}

TEST(LightGBMAgreement, XGBoostPredictorRefusesALightGBMModelNamingForestPredictor) {
  const auto set = lightgbm_fixtures();
  INFERLOOP_LIGHTGBM_REQUIRE(set);
  InferenceConfig config;
  config.model_uri = (set->root / "binary.txt").string();
  const ResolvedModel model = resolve_model(config.model_uri);
  SharedPredictorState shared;
  try {
    (void)PredictorRegistry::global().create("XGBoostPredictor",
                                             PredictorContext{config, model, 0, shared});
    ADD_FAILURE() << "XGBoostPredictor accepted a LightGBM model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a LightGBM model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ForestPredictor"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace inferloop
