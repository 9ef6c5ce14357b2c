// LightGBM through a real `mlflow server`, and MlflowClient::best_run()
// against the same server. The fixture inferloop_mlflow_lightgbm
// (tests/python/mlflow_best_run_fixtures.py, on the server that
// tests/python/mlflow_fixtures.py started) logs LightGBM models with
// mlflow.lightgbm, registers one as inferloop-lgb@champion and writes
// lightgbm.json: the run ids, model ids and lightgbm's own predictions.
//
// Checked here: an InferenceLoop serving models:/inferloop-lgb@champion with
// ForestPredictor predicts every row of features.csv bit for bit as
// lightgbm's Booster.predict does; best_run() picks the run the rules in
// docs/mlflow.md say (skipping runs without the metric, NaN, failed and
// running runs; ties to the run started first), its runs:/ URI resolves
// back to the same model (the same content folder in the cache as the
// registered version); and every refusal says what to do.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "mlflow_test_support.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using mlflow_test::bits;
using mlflow_test::first_difference;
using mlflow_test::forest_predictions;
using mlflow_test::kWork;
using mlflow_test::tracking_uri;
using nlohmann::json;

json lightgbm_state() {
  std::ifstream in(kWork + "/lightgbm.json");
  if (!in) throw Error("no " + kWork + "/lightgbm.json: the fixture inferloop_mlflow_lightgbm did not run");
  return json::parse(in);
}

std::vector<std::uint32_t> expected_bits(const std::string& label) {
  return lightgbm_state().at("expected_bits").at(label).get<std::vector<std::uint32_t>>();
}

std::string run_id(const std::string& label) { return lightgbm_state().at("runs").at(label).get<std::string>(); }

std::string experiment(const std::string& label) {
  return lightgbm_state().at("experiments").at(label).get<std::string>();
}

class MlflowLightGBM : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = mlflow_test::fresh_scratch_folder();
  }

  MlflowOptions options() const {
    MlflowOptions options;
    options.tracking_uri = tracking_uri();
    options.cache_dir = scratch_ / "cache";
    options.max_retries = 1;
    options.request_timeout = 30s;
    return options;
  }

  // best_run()'s message for a lookup expected to fail.
  std::string best_run_error(const std::string& experiment_name, const std::string& metric,
                             MetricGoal goal = MetricGoal::kMinimize) {
    MlflowClient client(options());
    try {
      const BestRun best = client.best_run(experiment_name, metric, goal);
      ADD_FAILURE() << "best run of " << experiment_name << " found " << best.model_uri;
    } catch (const Error& error) {
      std::printf("[ message  ] %s\n", error.what());  // what a user reads is part of the review
      return error.what();
    }
    return "";
  }

  fs::path scratch_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(MlflowLightGBM, InferenceLoopServesTheAliasedModelBitForBitAsLightGBM) {
  const json state = lightgbm_state();
  InferenceConfig config;
  config.model_uri = "models:/" + state.at("registered_model").get<std::string>() + "@" +
                     state.at("alias").get<std::string>();
  config.mlflow_tracking_uri = tracking_uri();
  config.model_cache_dir = (scratch_ / "cache").string();
  config.predictor_class_name = "ForestPredictor";
  config.num_features = 5;
  config.startup_timeout = 30s;

  std::size_t rows = 0;
  const std::vector<float> features = mlflow_test::read_features(rows);
  ASSERT_EQ(rows, 200u);
  InferenceLoop loop(config);
  loop.start();
  EXPECT_EQ(loop.model_info().model.format, ModelFormat::kLightGBM);
  EXPECT_EQ(loop.model_info().model.registry_version, state.at("version").get<std::string>());
  std::vector<std::uint32_t> got;
  for (std::size_t row = 0; row < rows; ++row) {
    const std::uint64_t seq =
        loop.features().publish(std::span<const float>(features.data() + row * 5, 5), Timestamp{0});
    Prediction prediction = loop.make_prediction();
    ASSERT_TRUE(loop.wait_for(seq, 10s, &prediction))
        << "row " << row << ", running " << loop.running() << ", last error: "
        << (loop.last_error() ? loop.last_error()->message : std::string("none"));
    ASSERT_EQ(prediction.feature_seq, seq) << "row " << row;
    got.push_back(bits(prediction.value()));
  }
  loop.stop();
  EXPECT_EQ(first_difference(got, expected_bits("best")), "");
}

TEST_F(MlflowLightGBM, BestRunByMinimumSkipsRunsWithoutTheMetricNaNFailedAndRunning) {
  MlflowClient client(options());
  const BestRun best = client.best_run(experiment("main"), "loss");
  for (const std::string& line : best.resolution) std::printf("    %s\n", line.c_str());
  EXPECT_EQ(best.run_id, run_id("best"));
  EXPECT_EQ(best.model_uri, "runs:/" + run_id("best") + "/model");
  EXPECT_EQ(best.metric, "loss");
  EXPECT_EQ(best.metric_value, 0.10);
  // worse, best, highest are ranked; no-metric and nan are skipped; failed
  // and running are never read.
  EXPECT_EQ(best.runs_ranked, 3u);
  EXPECT_EQ(best.runs_skipped, 2u);
}

TEST_F(MlflowLightGBM, BestRunUriResolvesBackToTheSameModelAsTheRegisteredVersion) {
  MlflowClient client(options());
  const BestRun best = client.best_run(experiment("main"), "loss");
  const ResolvedModel by_run = client.resolve(best.model_uri);
  const json state = lightgbm_state();
  const ResolvedModel by_alias = client.resolve("models:/" + state.at("registered_model").get<std::string>() +
                                                "@" + state.at("alias").get<std::string>());
  EXPECT_EQ(by_run.format, ModelFormat::kLightGBM);
  // The cache names folders by their content: the same folder is the same model.
  EXPECT_FALSE(by_run.cache_path.empty());
  EXPECT_EQ(by_run.cache_path, by_alias.cache_path);
  EXPECT_EQ(first_difference(forest_predictions(by_run), expected_bits("best")), "");
}

TEST_F(MlflowLightGBM, BestRunByMaximumIsTheLargestValue) {
  MlflowClient client(options());
  const BestRun best = client.best_run(experiment("main"), "loss", MetricGoal::kMaximize);
  EXPECT_EQ(best.run_id, run_id("highest"));
  EXPECT_EQ(best.metric_value, 0.90);
  EXPECT_EQ(first_difference(forest_predictions(client.resolve(best.model_uri)), expected_bits("highest")), "");
}

TEST_F(MlflowLightGBM, EqualValuesGoToTheRunThatStartedFirst) {
  MlflowClient client(options());
  for (const MetricGoal goal : {MetricGoal::kMinimize, MetricGoal::kMaximize}) {
    EXPECT_EQ(client.best_run(experiment("tie"), "loss", goal).run_id, run_id("tie-first"));
  }
}

TEST_F(MlflowLightGBM, ARunWithTwoModelsIsRefusedListingBoth) {
  const json models = lightgbm_state().at("models");
  const std::string message = best_run_error(experiment("two_models"), "loss");
  EXPECT_TRUE(contains(message, "run " + run_id("two-models") + " of experiment 'inferloop-best-run-two-models' "
                                "(best by loss = 0.1) logged 2 models: "))
      << message;
  EXPECT_TRUE(contains(message, "'model' (" + models.at("two-models").get<std::string>() + ")")) << message;
  EXPECT_TRUE(contains(message, "'challenger' (" + models.at("two-models/challenger").get<std::string>() + ")"))
      << message;
  EXPECT_TRUE(contains(message, "pin one yourself, runs:/" + run_id("two-models") + "/<name>")) << message;
}

TEST_F(MlflowLightGBM, ARunWithoutAModelIsRefused) {
  const std::string message = best_run_error(experiment("no_model"), "loss");
  EXPECT_TRUE(contains(message, "run " + run_id("no-model") + " of experiment 'inferloop-best-run-no-model' "
                                "(best by loss = 0.1) logged no model"))
      << message;
}

TEST_F(MlflowLightGBM, UnknownExperimentSaysHowToListThem) {
  const std::string message = best_run_error("no-such-experiment", "loss");
  EXPECT_TRUE(contains(message, "experiment 'no-such-experiment': GET ")) << message;
  EXPECT_TRUE(contains(message, "RESOURCE_DOES_NOT_EXIST")) << message;
  EXPECT_TRUE(contains(message, "mlflow experiments search")) << message;
}

TEST_F(MlflowLightGBM, AMisspeltMetricSuggestsTheOneTheRunsLog) {
  const std::string message = best_run_error(experiment("main"), "los");
  EXPECT_TRUE(contains(message, "has no finished run with a value for metric 'los' (5 finished runs: 5 without "
                                "it, 0 with NaN); did you mean 'loss'?"))
      << message;
}

TEST_F(MlflowLightGBM, AnExperimentWithoutRunsSaysSo) {
  const std::string message = best_run_error(experiment("empty"), "loss");
  EXPECT_TRUE(contains(message, "has no finished runs; finish a run")) << message;
}

}  // namespace
}  // namespace inferloop
