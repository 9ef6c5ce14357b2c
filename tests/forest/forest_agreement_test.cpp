// ForestModel / ForestPredictor against xgboost's own predictions, bit for
// bit, on the models tests/python/forest_models.py trains with each
// configured xgboost (the current one and 1.7.4): every objective, NaN
// inputs, categorical splits, dart, JSON and UBJSON. Also the models it must
// refuse, and the predictor's plumbing (registry, shared model, widths).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "forest/forest_model.hpp"
#include "forest/forest_predictor.hpp"
#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;

std::vector<float> read_f32(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << file;
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

std::uint32_t bits(float value) {
  std::uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  return word;
}

// Equal bits, except that any NaN equals any NaN.
bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b); }

// The number of outputs that differ; the first one is described in `first`.
std::size_t count_differences(const std::vector<float>& got, const std::vector<float>& want,
                              std::size_t per_row, std::string& first) {
  std::size_t differences = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (same(got[i], want[i])) continue;
    if (differences++ == 0) {
      char text[160];
      std::snprintf(text, sizeof text, "row %zu output %zu: got %.9g (0x%08x), xgboost %.9g (0x%08x)",
                    i / per_row, i % per_row, got[i], bits(got[i]), want[i], bits(want[i]));
      first = text;
    }
  }
  return differences;
}

struct VersionFixtures {
  fs::path root;
  nlohmann::json manifest;

  // {major, minor} of the xgboost that trained the set ("3.2.0" -> {3, 2}).
  [[nodiscard]] std::vector<int> xgboost_major_minor() const {
    const std::string version = manifest.at("xgboost_version");
    return {std::stoi(version), std::stoi(version.substr(version.find('.') + 1))};
  }
};

// The folder forest_models.py wrote for xgboost `major.minor`, or nothing.
std::optional<VersionFixtures> fixtures_for(const std::string& version_folder) {
  const fs::path root = fs::path(INFERLOOP_FOREST_FIXTURES) / version_folder;
  const fs::path manifest_file = root / "manifest.json";
  if (!fs::is_regular_file(manifest_file)) return std::nullopt;
  return VersionFixtures{root, nlohmann::json::parse(std::ifstream(manifest_file))};
}

std::optional<VersionFixtures> current_fixtures() {
  // The current xgboost's folder: whichever one is not 1.7.
  if (!fs::is_directory(INFERLOOP_FOREST_FIXTURES)) return std::nullopt;
  for (const auto& entry : fs::directory_iterator(INFERLOOP_FOREST_FIXTURES)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("xgb") && name != "xgb1.7") return fixtures_for(name);
  }
  return std::nullopt;
}

// `model`'s outputs for every row of `features`, in one batch, in one batch
// split over threads and one row at a time (every 97th row), against
// xgboost's, bit for bit.
void expect_same_as_xgboost(const ForestModel& model, const std::vector<float>& features,
                            std::size_t rows, OutputKind kind, const std::vector<float>& want) {
  const std::size_t per_row = model.num_outputs(kind);
  ASSERT_EQ(want.size(), rows * per_row);
  std::vector<float> got(rows * per_row, -1.0F);
  model.predict(features, rows, got, kind);
  std::string first;
  EXPECT_EQ(count_differences(got, want, per_row, first), 0u)
      << to_string(kind) << " output differs from xgboost's; first: " << first;
  // Split over threads (parts of at least 1,024 rows: the fixtures' 3,000
  // rows make two), the same bits.
  static ForestThreadPool pool(4);
  EXPECT_GE(rows, 2048u) << "too few rows to split over threads";
  std::vector<float> threaded(rows * per_row, -1.0F);
  model.predict(features, rows, threaded, kind, pool);
  EXPECT_EQ(count_differences(threaded, want, per_row, first), 0u)
      << to_string(kind) << " output over threads differs from xgboost's; first: " << first;
  // One row at a time takes the single-row path; it must agree too.
  std::vector<float> one(per_row);
  for (std::size_t row = 0; row < rows; row += 97) {
    model.predict(std::span(features).subspan(row * model.num_features(), model.num_features()), 1,
                  one, kind);
    for (std::size_t k = 0; k < per_row; ++k) {
      ASSERT_TRUE(same(one[k], want[row * per_row + k]))
          << to_string(kind) << " row " << row << " output " << k;
    }
  }
}

// Loads every model of `set` in both formats and compares all outputs, on
// every kernel set this CPU runs (forest_kernels.hpp). Counts in `binned`
// the models that have bins, i.e. whose batches took the tile walk.
void expect_agreement(const VersionFixtures& set, std::size_t minimum_models, std::size_t& binned) {
  std::size_t compared = 0;
  for (const auto& entry : set.manifest.at("models")) {
    const std::string name = entry.at("name");
    const std::size_t rows = entry.at("rows");
    const std::vector<float> features = read_f32(set.root / entry.at("features").get<std::string>());
    const std::vector<float> margin = read_f32(set.root / (name + ".margin.f32"));
    const std::vector<float> transformed = read_f32(set.root / (name + ".transformed.f32"));
    for (const char* extension : {".json", ".ubj"}) {
      SCOPED_TRACE(set.root.filename().string() + "/" + name + extension);
      const ForestModel model = ForestModel::load(set.root / (name + extension));
      EXPECT_EQ(model.objective(), entry.at("objective").get<std::string>());
      ASSERT_EQ(model.num_features(), entry.at("num_features").get<std::size_t>());
      ASSERT_EQ(features.size(), rows * model.num_features());
      ASSERT_EQ(model.num_outputs(OutputKind::kMargin), entry.at("margin_outputs").get<std::size_t>());
      ASSERT_EQ(model.num_outputs(OutputKind::kTransformed),
                entry.at("transformed_outputs").get<std::size_t>());
      EXPECT_EQ(detail::ForestModelAccess::isa_of(model), detail::best_forest_isa());
      binned += detail::ForestModelAccess::engine_of(model).layout.binned ? 1 : 0;
      // Each set three times: with its own choice of walk per batch size,
      // with the tile walk for every batch (one row included), so that both
      // walks of every set run whatever its tile_min_rows, and with the row
      // walk in C++ alone (what CPUs other than x86-64 run).
      for (const detail::ForestIsa isa : detail::supported_forest_isas()) {
        for (const detail::ForestWalks walks :
             {detail::ForestWalks::kBySize, detail::ForestWalks::kTileEveryBatch,
              detail::ForestWalks::kPortableRowWalk}) {
          SCOPED_TRACE("kernels " + std::string(detail::to_string(isa)) +
                       ", " + std::string(detail::to_string(walks)));
          const ForestModel on_isa =
              detail::ForestModelAccess::with_isa(model, isa, walks);
          expect_same_as_xgboost(on_isa, features, rows, OutputKind::kMargin, margin);
          expect_same_as_xgboost(on_isa, features, rows, OutputKind::kTransformed, transformed);
        }
      }
      ++compared;
    }
  }
  EXPECT_GE(compared, minimum_models) << "fewer models than forest_models.py writes";
}

// A build configured with the venv's python trains the models in a ctest
// fixture, so their absence there is a failure (a broken fixture must not
// pass as a skip); without that python the test skips, saying why.
#define INFERLOOP_FOREST_REQUIRE(set, what, expected)                                      \
  do {                                                                                     \
    if (!(set)) {                                                                          \
      if (expected) {                                                                      \
        FAIL() << "no " what " models in " INFERLOOP_FOREST_FIXTURES                       \
               " although this build trains them: did the forest_fixtures_* tests run?";   \
      }                                                                                    \
      GTEST_SKIP() << "no " what " models in " INFERLOOP_FOREST_FIXTURES                   \
                      " (configure with -DINFERLOOP_PYTHON=... / -DINFERLOOP_PYTHON_XGB17=... " \
                      "and run through ctest)";                                            \
    }                                                                                      \
  } while (false)

// Names the kernel sets the agreement tests run here and those this CPU
// lacks (never run, so never compared), in the test log.
void print_kernel_sets() {
  std::string run, lacking;
  for (const auto isa : {detail::ForestIsa::kBaseline, detail::ForestIsa::kAvx2,
                         detail::ForestIsa::kAvx512}) {
    std::string& list = detail::cpu_supports(isa) ? run : lacking;
    if (!list.empty()) list += ", ";
    list += detail::to_string(isa);
  }
  std::printf("[ forest   ] kernel sets compared: %s; not supported by this CPU: %s\n", run.c_str(),
              lacking.empty() ? "none" : lacking.c_str());
}

TEST(ForestAgreement, CurrentXGBoostEveryObjectiveJsonAndUbjson) {
  print_kernel_sets();
  const auto set = current_fixtures();
  INFERLOOP_FOREST_REQUIRE(set, "current-xgboost", INFERLOOP_EXPECT_CURRENT_MODELS);
  std::size_t binned = 0;
  expect_agreement(*set, 2 * 32, binned);
  // The tile walk ran: most models have bins (not the categorical ones, nor
  // those with more than 255 distinct thresholds on a feature).
  EXPECT_GT(binned, 0u);
}

TEST(ForestAgreement, XGBoost17EveryObjectiveJsonAndUbjson) {
  const auto set = fixtures_for("xgb1.7");
  INFERLOOP_FOREST_REQUIRE(set, "xgboost 1.7", INFERLOOP_EXPECT_XGB17_MODELS);
  std::size_t binned = 0;
  expect_agreement(*set, 2 * 24, binned);
  EXPECT_GT(binned, 0u);
}

void expect_refusals(const VersionFixtures& set) {
  for (const auto& entry : set.manifest.at("refuse")) {
    const std::string file = entry.at("file");
    const std::string reason = entry.at("reason");
    SCOPED_TRACE(file);
    try {
      (void)ForestModel::load(set.root / file);
      ADD_FAILURE() << "loaded a model it must refuse (" << reason << ")";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find((set.root / file).string()), std::string::npos) << message;
      if (reason == "gblinear") {
        EXPECT_NE(message.find("booster \"gblinear\" is not a tree ensemble"), std::string::npos)
            << message;
      } else if (reason == "legacy binary") {
        EXPECT_NE(message.find("legacy binary"), std::string::npos) << message;
        EXPECT_NE(message.find("save_model(\"model.ubj\")"), std::string::npos) << message;
      } else if (reason == "vector leaf layout before 3.2") {
        EXPECT_NE(message.find("vector leaves (size_leaf_vector=2) in the layout of xgboost "
                               "2.0-3.1, without leaf_weights"),
                  std::string::npos)
            << message;
      } else if (reason == "survival:aft") {
        EXPECT_NE(message.find("learner.objective.name: objective \"survival:aft\" is not one "
                               "ForestPredictor can reproduce exactly"),
                  std::string::npos)
            << message;
      } else {
        ADD_FAILURE() << "unknown refusal reason " << reason;
      }
    }
  }
}

TEST(ForestAgreement, RefusesGblinearLegacyBinaryVectorLeavesAndAft) {
  std::size_t sets = 0;
  for (const auto& set : {current_fixtures(), fixtures_for("xgb1.7")}) {
    if (!set) continue;
    ++sets;
    EXPECT_GE(set->manifest.at("refuse").size(), 3u);
    expect_refusals(*set);
  }
  INFERLOOP_FOREST_REQUIRE(sets != 0, "trained", INFERLOOP_EXPECT_CURRENT_MODELS);
}

// --- what the admission gate lets XGBoostPredictor serve ---------------------

// `predictor`'s outputs on `rows` rows of `features`, in one batch.
std::vector<float> predict_all(Predictor& predictor, const std::vector<float>& features) {
  const std::size_t rows = features.size() / predictor.num_features();
  std::vector<float> out(rows * predictor.num_outputs());
  predictor.predict(features, rows, out);
  return out;
}

std::unique_ptr<Predictor> create_predictor(const std::string& name, const InferenceConfig& config,
                                            const ResolvedModel& model,
                                            SharedPredictorState& shared) {
  return PredictorRegistry::global().create(name, PredictorContext{config, model, 0, shared});
}

std::string creation_error(const std::string& name, const InferenceConfig& config,
                           const ResolvedModel& model) {
  SharedPredictorState shared;
  try {
    (void)create_predictor(name, config, model, shared);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// xgboost 1.7 writes NaN, a literal outside JSON, as the threshold of every
// categorical split. libxgboost reads it; inferloop's reader once refused
// the whole file as "does not parse as JSON". Through the admission gate the
// model now reaches XGBoostPredictor, which predicts exactly what xgboost
// 1.7.4 did.
TEST(XGBoostPredictorThroughTheGate, Xgboost17CategoricalJsonWithNaNLiteralsPredictsBitExactly) {
  const auto set = fixtures_for("xgb1.7");
  INFERLOOP_FOREST_REQUIRE(set, "xgboost 1.7", INFERLOOP_EXPECT_XGB17_MODELS);
  if (linked_xgboost_version() < std::vector<int>{1, 7}) GTEST_SKIP() << "libxgboost older than 1.7";
  const fs::path model_file = set->root / "cat_partition.json";
  {
    std::ifstream in(model_file);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    ASSERT_NE(text.find(",NaN,"), std::string::npos) << "the premise: xgboost 1.7 wrote NaN literals";
  }
  const std::vector<float> features = read_f32(set->root / "features_cat.f32");
  for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    InferenceConfig config;
    config.model_uri = model_file.string();
    config.output = kind;
    const ResolvedModel model = resolve_model(config.model_uri);
    EXPECT_EQ(model.saved_by_version, (std::vector<int>{1, 7, 4}));
    SharedPredictorState shared;
    const auto predictor = create_predictor("XGBoostPredictor", config, model, shared);
    const std::vector<float> want = read_f32(
        set->root / (kind == OutputKind::kMargin ? "cat_partition.margin.f32"
                                                 : "cat_partition.transformed.f32"));
    const std::vector<float> got = predict_all(*predictor, features);
    ASSERT_EQ(got.size(), want.size());
    std::string first;
    EXPECT_EQ(count_differences(got, want, predictor->num_outputs(), first), 0u) << first;
  }
}

// gblinear and survival:aft are valid models that ForestPredictor cannot
// reproduce exactly: the gate admits them, ForestPredictor refuses them with
// its reason, and XGBoostPredictor serves them through libxgboost (or, where
// libxgboost cannot predict them in place, passes on its refusal).
TEST(XGBoostPredictorThroughTheGate, ServesTheValidModelsOnlyForestPredictorRefuses) {
  const std::vector<int> linked = linked_xgboost_version();
  std::size_t served = 0;
  std::size_t sets = 0;
  for (const auto& set : {current_fixtures(), fixtures_for("xgb1.7")}) {
    if (!set) continue;
    ++sets;
    const bool representable =
        set->xgboost_major_minor() <= std::vector<int>(linked.begin(), linked.begin() + 2);
    const std::vector<float> features = read_f32(set->root / "features.f32");
    ASSERT_GE(set->manifest.at("xgboost_only").size(), 2u);
    for (const auto& entry : set->manifest.at("xgboost_only")) {
      const std::string file = entry.at("file");
      SCOPED_TRACE(set->root.filename().string() + "/" + file);
      InferenceConfig config;
      config.model_uri = (set->root / file).string();
      const ResolvedModel model = resolve_model(config.model_uri);  // admitted
      EXPECT_NE(creation_error("ForestPredictor", config, model).find("use XGBoostPredictor"),
                std::string::npos);
      if (!representable) {
        EXPECT_NE(creation_error("XGBoostPredictor", config, model)
                      .find("newer than the linked libxgboost"),
                  std::string::npos);
        continue;
      }
      if (entry.contains("unsupported")) {
        const std::string message = creation_error("XGBoostPredictor", config, model);
        EXPECT_NE(message.find("XGBoosterPredictFromDense failed for model"), std::string::npos)
            << message;
        // libxgboost's reason, up to "not supported": the saving python and
        // the linked library word the rest differently (1.7: "by current
        // booster", 3.x: "by the current booster.").
        const std::string reason = entry.at("unsupported").get<std::string>();
        const std::size_t cut = reason.find("not supported");
        ASSERT_NE(cut, std::string::npos) << reason;
        EXPECT_NE(message.find(reason.substr(0, cut + std::string("not supported").size())),
                  std::string::npos)
            << message;
        continue;
      }
      for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
        config.output = kind;
        SharedPredictorState shared;
        const auto predictor = create_predictor("XGBoostPredictor", config, model, shared);
        const std::vector<float> want = read_f32(
            set->root / entry.at(kind == OutputKind::kMargin ? "margin" : "transformed")
                            .get<std::string>());
        const std::vector<float> got = predict_all(*predictor, features);
        ASSERT_EQ(got.size(), want.size());
        std::string first;
        EXPECT_EQ(count_differences(got, want, predictor->num_outputs(), first), 0u)
            << to_string(kind) << ": " << first;
        ++served;
      }
    }
  }
  INFERLOOP_FOREST_REQUIRE(sets != 0, "trained", INFERLOOP_EXPECT_CURRENT_MODELS);
  if (INFERLOOP_EXPECT_XGB17_MODELS) {
    EXPECT_GT(served, 0u) << "no model/output pair served";
  }
}

// Vector leaves (multi_strategy="multi_output_tree", xgboost 3.2's layout):
// ForestModel matches xgboost on them in expect_agreement(); XGBoostPredictor
// serves them through a libxgboost 3.2 or newer, bit for bit, and an older
// libxgboost, which would read the leaves' unused split_conditions as their
// values, refuses them at start, even when the file claims an old version.
TEST(XGBoostPredictorThroughTheGate, ServesVectorLeavesWithLibxgboost32AndRefusesThemBefore) {
  const auto set = current_fixtures();
  INFERLOOP_FOREST_REQUIRE(set, "current-xgboost", INFERLOOP_EXPECT_CURRENT_MODELS);
  if (set->xgboost_major_minor() < std::vector<int>{3, 2}) {
    GTEST_SKIP() << "the venv's xgboost " << set->manifest.at("xgboost_version").get<std::string>()
                 << " writes no vector leaves in the 3.2 layout (forest_models.py trains them "
                    "from 3.2)";
  }
  const bool linked_reads_them = linked_xgboost_version() >= std::vector<int>{3, 2};
  const std::string old_library_refusal =
      "has vector leaves (multi_strategy=\"multi_output_tree\") in xgboost 3.2's layout, which "
      "the linked libxgboost";
  std::size_t models = 0;
  for (const auto& entry : set->manifest.at("models")) {
    const std::string name = entry.at("name");
    if (!name.starts_with("vector_leaf_")) continue;
    ++models;
    SCOPED_TRACE(name);
    InferenceConfig config;
    config.model_uri = (set->root / (name + ".ubj")).string();
    const ResolvedModel model = resolve_model(config.model_uri);
    if (!linked_reads_them) {
      EXPECT_NE(creation_error("XGBoostPredictor", config, model).find(old_library_refusal),
                std::string::npos);
      continue;
    }
    const std::vector<float> features =
        read_f32(set->root / entry.at("features").get<std::string>());
    for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
      config.output = kind;
      SharedPredictorState shared;
      const auto predictor = create_predictor("XGBoostPredictor", config, model, shared);
      const std::vector<float> want = read_f32(
          set->root / (name + (kind == OutputKind::kMargin ? ".margin.f32" : ".transformed.f32")));
      const std::vector<float> got = predict_all(*predictor, features);
      ASSERT_EQ(got.size(), want.size());
      std::string first;
      EXPECT_EQ(count_differences(got, want, predictor->num_outputs(), first), 0u)
          << to_string(kind) << ": " << first;
    }
  }
  EXPECT_EQ(models, 5u) << "forest_models.py trains five vector-leaf models";

  // The same trees in a file that claims xgboost 1.7.4 wrote it.
  nlohmann::json document =
      nlohmann::json::parse(std::ifstream(set->root / "vector_leaf_regression.json"));
  document["version"] = {1, 7, 4};
  const fs::path claimed = fs::path(::testing::TempDir()) / "vector_leaf_claims_1_7.json";
  std::ofstream(claimed) << document.dump();
  InferenceConfig config;
  config.model_uri = claimed.string();
  const ResolvedModel model = resolve_model(config.model_uri);
  const std::string message = creation_error("XGBoostPredictor", config, model);
  if (linked_reads_them) {
    EXPECT_EQ(message, "(no error)");
  } else {
    EXPECT_NE(message.find(old_library_refusal), std::string::npos) << message;
  }
  fs::remove(claimed);
}

// --- ForestPredictor, through the registry -----------------------------------

struct PredictorFixture {
  InferenceConfig config;
  ResolvedModel model;
  SharedPredictorState shared;
  std::unique_ptr<Predictor> create(std::size_t replica = 0) {
    return PredictorRegistry::global().create(
        "ForestPredictor", PredictorContext{config, model, replica, shared});
  }
};

TEST(ForestPredictor, IsRegisteredAndMatchesXGBoostThroughThePredictorInterface) {
  ASSERT_TRUE(PredictorRegistry::global().contains("ForestPredictor"));
  const auto set = current_fixtures();
  INFERLOOP_FOREST_REQUIRE(set, "current-xgboost", INFERLOOP_EXPECT_CURRENT_MODELS);
  const std::vector<float> features = read_f32(set->root / "features.f32");
  for (const char* name : {"softprob", "softmax", "binary_logistic"}) {
    for (const OutputKind kind : {OutputKind::kMargin, OutputKind::kTransformed}) {
      SCOPED_TRACE(std::string(name) + " " + std::string(to_string(kind)));
      PredictorFixture fixture;
      fixture.config.model_uri = (set->root / (std::string(name) + ".ubj")).string();
      fixture.config.predictor_class_name = "ForestPredictor";
      fixture.config.output = kind;
      fixture.model = resolve_model(fixture.config.model_uri);
      auto predictor = fixture.create();
      predictor->warm_up();
      const std::size_t rows = features.size() / predictor->num_features();
      const std::vector<float> want = read_f32(
          set->root / (std::string(name) + (kind == OutputKind::kMargin ? ".margin.f32"
                                                                        : ".transformed.f32")));
      ASSERT_EQ(want.size(), rows * predictor->num_outputs());
      std::vector<float> got(want.size());
      predictor->predict(features, rows, got);
      std::string first;
      EXPECT_EQ(count_differences(got, want, predictor->num_outputs(), first), 0u) << first;
      EXPECT_NE(predictor->describe().find("ForestPredictor("), std::string::npos);
    }
  }
}

// predictor_threads (`inferloop predict --threads`) gives the predictor a
// ForestThreadPool: the fixture's 3,000 rows are split over 2 threads, and
// the bits are xgboost's and those of one thread.
TEST(ForestPredictor, PredictorThreadsSplitABatchWithTheBitsOfOneThread) {
  const auto set = current_fixtures();
  INFERLOOP_FOREST_REQUIRE(set, "current-xgboost", INFERLOOP_EXPECT_CURRENT_MODELS);
  const std::vector<float> features = read_f32(set->root / "features.f32");
  const std::vector<float> want = read_f32(set->root / "softprob.transformed.f32");
  std::vector<std::vector<float>> outputs;
  for (const int threads : {1, 2}) {
    PredictorFixture fixture;
    fixture.config.model_uri = (set->root / "softprob.ubj").string();
    fixture.config.predictor_threads = threads;
    fixture.model = resolve_model(fixture.config.model_uri);
    auto predictor = fixture.create();
    const std::size_t rows = features.size() / predictor->num_features();
    ASSERT_GE(rows, 2048u) << "too few rows for the pool to split the batch";
    EXPECT_EQ(predictor->describe().find(", 2 threads") != std::string::npos, threads == 2)
        << predictor->describe();
    std::vector<float>& got = outputs.emplace_back(rows * predictor->num_outputs());
    predictor->predict(features, rows, got);
    std::string first;
    EXPECT_EQ(count_differences(got, want, predictor->num_outputs(), first), 0u) << first;
  }
  EXPECT_EQ(std::memcmp(outputs[0].data(), outputs[1].data(), outputs[0].size() * sizeof(float)), 0);
}

TEST(ForestPredictor, ReplicasShareOneModelAndWrongWidthsAreErrors) {
  const auto set = current_fixtures();
  INFERLOOP_FOREST_REQUIRE(set, "current-xgboost", INFERLOOP_EXPECT_CURRENT_MODELS);
  PredictorFixture fixture;
  fixture.config.model_uri = (set->root / "squarederror.json").string();
  fixture.model = resolve_model(fixture.config.model_uri);
  auto first = fixture.create(0);
  auto second = fixture.create(1);
  EXPECT_EQ(fixture.shared.entries.size(), 1u);
  EXPECT_EQ(first->num_features(), 12u);
  EXPECT_EQ(first->num_outputs(), 1u);

  std::vector<float> row(12, 0.5F), out(1);
  EXPECT_THROW(first->predict(std::span(row).first(11), 1, out), Error);
  EXPECT_THROW(first->predict(row, 1, std::span(out).first(0)), Error);

  PredictorFixture wrong_width;
  wrong_width.config.model_uri = fixture.config.model_uri;
  wrong_width.config.num_features = 13;
  wrong_width.model = fixture.model;
  try {
    (void)wrong_width.create();
    ADD_FAILURE() << "accepted num_features 13 for a 12-feature model";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("set num_features to 12"), std::string::npos)
        << error.what();
  }

  // device: cuda is forest_cuda_test.cpp's.
}

}  // namespace
}  // namespace inferloop
