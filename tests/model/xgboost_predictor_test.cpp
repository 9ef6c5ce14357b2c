// XGBoostPredictor on real trained models: bit-for-bit agreement with the
// xgboost that trained them where the linked libxgboost can represent the
// model, a refusal naming both versions where it cannot, and the checks made
// at construction (width, device).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <iostream>
#include <limits>
#include <thread>

#include "fixtures.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Predictor> make(const InferenceConfig& config, const ResolvedModel& model,
                                SharedPredictorState& shared, std::size_t replica = 0) {
  return PredictorRegistry::global().create("XGBoostPredictor",
                                            PredictorContext{config, model, replica, shared});
}

std::string construction_error(const InferenceConfig& config, const ResolvedModel& model) {
  SharedPredictorState shared;
  try {
    (void)make(config, model, shared);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "XGBoostPredictor accepted " << model.model_file;
  return {};
}

std::string resolve_error_or_empty(const std::string& uri) {
  try {
    (void)resolve_model(uri);
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

struct Features {
  std::vector<float> values;
  std::size_t rows = 0;
};

Features load_features(const FixtureSet& set) {
  const cli::CsvTable table = cli::read_csv(set.features_csv);
  EXPECT_EQ(table.header.size(), set.num_features);
  return {table.values, table.rows()};
}

// Predicts every row in one batch and again one row at a time (the loop's
// usual shape); both must give xgboost's bits.
void expect_bit_exact(Predictor& predictor, const Features& features, const fs::path& expected) {
  const std::vector<std::uint32_t> want = read_expected_bits(expected);
  ASSERT_EQ(want.size(), features.rows * predictor.num_outputs());
  std::vector<float> batch(want.size());
  predictor.predict(features.values, features.rows, batch);
  EXPECT_EQ(to_bits(batch), want) << "batch of " << features.rows << " rows vs " << expected;

  std::vector<float> single(want.size());
  const std::size_t width = predictor.num_features();
  const std::size_t outputs = predictor.num_outputs();
  for (std::size_t row = 0; row < features.rows; ++row) {
    predictor.predict(std::span<const float>(features.values).subspan(row * width, width), 1,
                      std::span<float>(single).subspan(row * outputs, outputs));
  }
  EXPECT_EQ(to_bits(single), want) << "row by row vs " << expected;
}

TEST(XGBoostPredictor, LinkedVersionIsReported) {
  const std::vector<int> version = linked_xgboost_version();
  ASSERT_EQ(version.size(), 3U);
  EXPECT_GE(version[0], 1);
}

// The central guarantee: a model the linked library can represent predicts
// exactly what xgboost predicted; one it cannot is refused, never served.
TEST(XGBoostPredictor, MatchesXGBoostBitForBitOrRefusesTooNewModels) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const std::vector<int> linked = linked_xgboost_version();
  std::size_t matched = 0;
  std::size_t refused = 0;
  for (const FixtureSet& set : sets) {
    const Features features = load_features(set);
    for (const FixtureModel& fixture : set.models) {
      for (const fs::path& uri : {fixture.json, fixture.ubj, fixture.mlflow}) {
        for (const OutputKind kind : {OutputKind::kTransformed, OutputKind::kMargin}) {
          SCOPED_TRACE(uri.string() + " " + std::string(to_string(kind)));
          InferenceConfig config;
          config.model_uri = uri.string();
          config.output = kind;
          const ResolvedModel model = resolve_model(config.model_uri);
          if (!set.representable()) {
            EXPECT_THAT(construction_error(config, model),
                        ::testing::AllOf(
                            HasSubstr("was saved by xgboost " + version_text(set.xgboost_version)),
                            HasSubstr("newer than the linked libxgboost " + version_text(linked)),
                            HasSubstr("-DINFERLOOP_XGBOOST_LIBRARY=")));
            ++refused;
            continue;
          }
          SharedPredictorState shared;
          const auto predictor = make(config, model, shared);
          EXPECT_EQ(predictor->num_features(), set.num_features);
          EXPECT_EQ(predictor->num_outputs(), fixture.num_outputs);
          expect_bit_exact(*predictor, features,
                           kind == OutputKind::kMargin ? fixture.margin : fixture.transformed);
          ++matched;
        }
      }
    }
  }
  // Spell out the two libraries inferloop is tested with, so that a wrong
  // "representable" rule cannot pass silently.
  for (const FixtureSet& set : sets) {
    if (linked[0] == 1 && set.xgboost_version[0] >= 3) {
      EXPECT_FALSE(set.representable()) << "libxgboost 1.x must refuse 3.x models";
    }
    if (linked[0] >= 3 && set.xgboost_version[0] <= linked[0]) {
      EXPECT_TRUE(set.representable()) << "libxgboost " << version_text(linked)
                                       << " must serve models of " << version_text(set.xgboost_version);
    }
  }
  EXPECT_GT(matched, 0U) << "no fixture model is representable by libxgboost "
                         << version_text(linked);
  std::cout << "[          ] libxgboost " << version_text(linked) << ": " << matched
            << " model/output pairs bit-exact, " << refused << " refused as too new\n";
}

// The legacy binary format has no self-description the admission gate could
// check, and libxgboost's loader trusts its counts, so every predictor
// refuses it with the same message, whichever library is linked.
TEST(XGBoostPredictor, LegacyBinaryModelsAreRefusedWithAHintToResaveThemAsUbjson) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  std::size_t seen = 0;
  for (const FixtureSet& set : sets) {
    for (const FixtureModel& fixture : set.models) {
      if (!fixture.legacy_binary) continue;
      ++seen;
      SCOPED_TRACE(fixture.legacy_binary->string());
      const std::string message = resolve_error_or_empty(fixture.legacy_binary->string());
      EXPECT_THAT(message, HasSubstr("'" + fixture.legacy_binary->string() +
                                     "': not an XGBoost JSON or UBJSON model (its first bytes "
                                     "are 62 69 6e 66 "));  // "binf"
      EXPECT_THAT(message, HasSubstr("If it is a legacy binary model, re-save it as UBJSON with "
                                     "the xgboost that wrote it: booster.save_model(\"model.ubj\")"));
      // A ResolvedModel made without resolve_model() meets the same gate.
      InferenceConfig config;
      config.model_uri = fixture.legacy_binary->string();
      ResolvedModel by_hand;
      by_hand.uri = config.model_uri;
      by_hand.model_file = *fixture.legacy_binary;
      EXPECT_EQ(construction_error(config, by_hand), message);
    }
  }
  if (seen == 0) {
    // make_models.py writes them with xgboost 1.x only.
    if (INFERLOOP_EXPECT_XGB17_MODELS) FAIL() << "no legacy binary fixtures from xgboost 1.7";
    GTEST_SKIP() << "no legacy binary fixtures (they come from xgboost 1.x)";
  }
}

// First fixture model the linked library can serve, or nullptr.
const FixtureModel* servable(const std::vector<FixtureSet>& sets, const FixtureSet** set_out,
                             const std::string& name = "binary") {
  for (const FixtureSet& set : sets) {
    if (!set.representable()) continue;
    for (const FixtureModel& fixture : set.models) {
      if (fixture.name == name) {
        *set_out = &set;
        return &fixture;
      }
    }
  }
  return nullptr;
}

TEST(XGBoostPredictor, ConfiguredWidthMustMatchTheModel) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const FixtureSet* set = nullptr;
  const FixtureModel* fixture = servable(sets, &set);
  ASSERT_NE(fixture, nullptr);
  InferenceConfig config;
  config.model_uri = fixture->ubj.string();
  config.num_features = 7;
  EXPECT_EQ(construction_error(config, resolve_model(config.model_uri)),
            "num_features is 7 in the config, but the model " + fixture->ubj.string() +
                " takes 5 features per row (XGBoosterGetNumFeature); set num_features to 5 or "
                "remove it to take the width from the model");
  config.num_features = 5;
  SharedPredictorState shared;
  EXPECT_EQ(make(config, resolve_model(config.model_uri), shared)->num_features(), 5U);
}

TEST(XGBoostPredictor, SignatureWidthMustMatchTheModel) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const FixtureSet* set = nullptr;
  const FixtureModel* fixture = servable(sets, &set);
  ASSERT_NE(fixture, nullptr);
  InferenceConfig config;
  config.model_uri = fixture->mlflow.string();
  ResolvedModel model = resolve_model(config.model_uri);
  model.signature_inputs.pop_back();  // as if the MLmodel listed one input fewer
  EXPECT_EQ(construction_error(config, model),
            "the MLmodel signature " + (fixture->mlflow / "MLmodel").string() +
                " lists 4 inputs, but the model file " + (fixture->mlflow / "model.ubj").string() +
                " takes 5 features (XGBoosterGetNumFeature); the MLflow model folder is "
                "inconsistent: save the model again with a matching signature");
}

bool library_has_cuda() {
  const char* info = nullptr;
  if (XGBuildInfo(&info) != 0) return false;
  return nlohmann::json::parse(info).value("USE_CUDA", false);
}

TEST(XGBoostPredictor, CudaOnACpuOnlyLibraryIsAClearError) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  if (library_has_cuda()) GTEST_SKIP() << "the linked libxgboost has CUDA";
  const FixtureSet* set = nullptr;
  const FixtureModel* fixture = servable(sets, &set);
  ASSERT_NE(fixture, nullptr);
  InferenceConfig config;
  config.model_uri = fixture->ubj.string();
  for (const std::string device : {"cuda", "cuda:1"}) {
    config.device = device;
    const std::string message = construction_error(config, resolve_model(config.model_uri));
    const std::string head =
        "device: " + device + ": the linked libxgboost " + version_text(linked_xgboost_version()) + " (";
    const std::string tail =
        ") was built without CUDA; use device: cpu, or build inferloop against a CUDA-enabled "
        "libxgboost, e.g. the one in the xgboost-cu13 wheel: "
        "-DINFERLOOP_XGBOOST_LIBRARY=<site-packages>/xgboost/lib/libxgboost.so";
    ASSERT_TRUE(message.starts_with(head)) << message;
    ASSERT_TRUE(message.ends_with(tail)) << message;
    // The message names the library file the process loaded.
    const std::filesystem::path library =
        message.substr(head.size(), message.size() - head.size() - tail.size());
    EXPECT_TRUE(std::filesystem::is_regular_file(library)) << message;
    EXPECT_TRUE(library.filename().string().starts_with("libxgboost")) << message;
  }
  config.device = "gpu";
  EXPECT_EQ(construction_error(config, resolve_model(config.model_uri)),
            "device: expected cpu, cuda or cuda:N (N from 0 to 4095), found 'gpu'");
}

TEST(XGBoostPredictor, SharedBoosterServesSeveralReplicasAtOnce) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const FixtureSet* set = nullptr;
  const FixtureModel* fixture = servable(sets, &set, "multiclass");
  ASSERT_NE(fixture, nullptr);
  const Features features = load_features(*set);
  const std::vector<std::uint32_t> want = read_expected_bits(fixture->transformed);

  for (const bool share : {true, false}) {
    SCOPED_TRACE(share ? "share_booster" : "one booster per replica");
    InferenceConfig config;
    config.model_uri = fixture->mlflow.string();
    config.share_booster = share;
    const ResolvedModel model = resolve_model(config.model_uri);
    SharedPredictorState shared;
    std::vector<std::unique_ptr<Predictor>> replicas;
    for (std::size_t id = 0; id < 4; ++id) replicas.push_back(make(config, model, shared, id));
    EXPECT_EQ(shared.entries.size(), share ? 1U : 0U);

    // Every replica predicts row by row, concurrently, many times over; each
    // must keep getting exactly xgboost's bits (own proxy, shared booster).
    std::vector<std::vector<float>> outputs(replicas.size(),
                                            std::vector<float>(want.size()));
    std::vector<std::thread> threads;
    for (std::size_t id = 0; id < replicas.size(); ++id) {
      threads.emplace_back([&, id] {
        Predictor& predictor = *replicas[id];
        const std::size_t width = predictor.num_features();
        const std::size_t outs = predictor.num_outputs();
        for (int round = 0; round < 20; ++round) {
          for (std::size_t row = 0; row < features.rows; ++row) {
            predictor.predict(std::span<const float>(features.values).subspan(row * width, width),
                              1, std::span<float>(outputs[id]).subspan(row * outs, outs));
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (std::size_t id = 0; id < replicas.size(); ++id) {
      EXPECT_EQ(to_bits(outputs[id]), want) << "replica " << id;
    }
  }
}

TEST(XGBoostPredictor, WarmUpPredictsANaNRowAndLeavesThePredictorServing) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const FixtureSet* set = nullptr;
  const FixtureModel* fixture = servable(sets, &set, "regression");
  ASSERT_NE(fixture, nullptr);
  InferenceConfig config;
  config.model_uri = fixture->json.string();
  SharedPredictorState shared;
  const auto predictor = make(config, resolve_model(config.model_uri), shared);
  predictor->warm_up();
  predictor->warm_up();
  // Row 0 of the fixture is all NaN: the row warm_up() predicts.
  const Features features = load_features(*set);
  std::vector<float> out(1);
  predictor->predict(std::span<const float>(features.values).subspan(0, 5), 1, out);
  EXPECT_EQ(to_bits(out)[0], read_expected_bits(fixture->transformed)[0]);
  EXPECT_THAT(predictor->describe(),
              HasSubstr("XGBoostPredictor(" + fixture->json.string() + ", xgboost "));
}

TEST(XGBoostPredictor, WrongBufferSizesAreErrorsNotCrashes) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const FixtureSet* set = nullptr;
  const FixtureModel* fixture = servable(sets, &set);
  ASSERT_NE(fixture, nullptr);
  InferenceConfig config;
  config.model_uri = fixture->ubj.string();
  SharedPredictorState shared;
  const auto predictor = make(config, resolve_model(config.model_uri), shared);
  std::vector<float> features(4);
  std::vector<float> out(1);
  EXPECT_THROW(predictor->predict(features, 1, out), Error);
}

}  // namespace
}  // namespace inferloop::testing
