// PredictorRegistry: names, the unknown-name message, registration of
// user predictors; and Predictor's default warm_up().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "inferloop/error.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop {
namespace {

// Records what the default warm_up() hands to predict().
class RecordingPredictor final : public Predictor {
 public:
  std::size_t num_features() const noexcept override { return 3; }
  std::size_t num_outputs() const noexcept override { return 2; }
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    calls.push_back({std::vector<float>(features.begin(), features.end()), rows, out.size()});
  }
  std::string describe() const override { return "RecordingPredictor"; }

  struct Call {
    std::vector<float> features;
    std::size_t rows;
    std::size_t out_size;
  };
  std::vector<Call> calls;
};

std::string create_error(const PredictorRegistry& registry, const std::string& name) {
  InferenceConfig config;
  ResolvedModel model;
  SharedPredictorState shared;
  try {
    (void)registry.create(name, PredictorContext{config, model, 0, shared});
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "create(\"" << name << "\") did not throw";
  return {};
}

TEST(PredictorRegistry, GlobalHasXGBoostPredictor) {
  EXPECT_TRUE(PredictorRegistry::global().contains("XGBoostPredictor"));
  EXPECT_EQ(&PredictorRegistry::global(), &PredictorRegistry::global());
}

TEST(PredictorRegistry, UnknownNameListsKnownOnesAndSuggestsTheClosest) {
  EXPECT_EQ(create_error(PredictorRegistry::global(), "XGBoostPredicter"),
            "unknown predictor_class_name 'XGBoostPredicter'; known predictors: "
            "ForestPredictor, KServeV2Predictor, LightGBMPredictor, MlflowScoringPredictor, "
            "RayServePredictor, XGBoostPredictor; did you mean 'XGBoostPredictor'?");
  // The same rule as config keys (util/did_you_mean.hpp): case does not count.
  EXPECT_EQ(create_error(PredictorRegistry::global(), "forestpredictor"),
            "unknown predictor_class_name 'forestpredictor'; known predictors: "
            "ForestPredictor, KServeV2Predictor, LightGBMPredictor, MlflowScoringPredictor, "
            "RayServePredictor, XGBoostPredictor; did you mean 'ForestPredictor'?");
  EXPECT_EQ(create_error(PredictorRegistry::global(), "Linear"),
            "unknown predictor_class_name 'Linear'; known predictors: "
            "ForestPredictor, KServeV2Predictor, LightGBMPredictor, MlflowScoringPredictor, "
            "RayServePredictor, XGBoostPredictor");
}

TEST(PredictorRegistry, UserPredictorsAreAddedCreatedAndListedSorted) {
  PredictorRegistry registry;
  int created = 0;
  registry.add("Zeta", [&](const PredictorContext& context) {
    ++created;
    EXPECT_EQ(context.replica_id, 3U);
    return std::make_unique<RecordingPredictor>();
  });
  registry.add("Alpha", [](const PredictorContext&) { return std::make_unique<RecordingPredictor>(); });
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"Alpha", "Zeta"}));
  EXPECT_FALSE(registry.contains("XGBoostPredictor"));

  InferenceConfig config;
  ResolvedModel model;
  SharedPredictorState shared;
  const auto predictor = registry.create("Zeta", PredictorContext{config, model, 3, shared});
  EXPECT_EQ(predictor->describe(), "RecordingPredictor");
  EXPECT_EQ(created, 1);

  EXPECT_THROW(registry.add("Zeta", [](const PredictorContext&) { return nullptr; }), Error);
  registry.add("Null", [](const PredictorContext&) { return std::unique_ptr<Predictor>(); });
  EXPECT_EQ(create_error(registry, "Null"), "the factory of predictor 'Null' returned no predictor");
  EXPECT_EQ(create_error(registry, "Zet"),
            "unknown predictor_class_name 'Zet'; known predictors: Alpha, Null, Zeta; did you "
            "mean 'Zeta'?");
}

TEST(Predictor, DefaultWarmUpPredictsOneRowOfNaNs) {
  RecordingPredictor predictor;
  predictor.warm_up();
  ASSERT_EQ(predictor.calls.size(), 1U);
  EXPECT_EQ(predictor.calls[0].rows, 1U);
  EXPECT_EQ(predictor.calls[0].out_size, 2U);
  ASSERT_EQ(predictor.calls[0].features.size(), 3U);
  for (float value : predictor.calls[0].features) EXPECT_TRUE(std::isnan(value));
}

}  // namespace
}  // namespace inferloop
