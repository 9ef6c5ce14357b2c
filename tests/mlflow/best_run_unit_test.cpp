// MlflowClient::best_run() without a tracking server: the ranking rules
// (better_run(), metric_value()) on their own, and the lookup against a
// scripted loopback server for what a real server of this MLflow version
// never answers: several pages, -Infinity, equal values and start times,
// MLflow 2's mlflow.log-model.history tag, ids that are not ids, metric
// values that are not numbers. The real-server cases are in
// mlflow_lightgbm_test.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "mlflow/best_run.hpp"
#include "scripted_http_server.hpp"

namespace inferloop {
namespace {

using detail::better_run;
using detail::metric_value;
using detail::RankedRun;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

TEST(BestRunRanking, SmallerWinsForMinimizeAndLargerForMaximize) {
  const RankedRun low{"b", 0.1, 5};
  const RankedRun high{"a", 0.9, 1};
  EXPECT_TRUE(better_run(low, high, MetricGoal::kMinimize));
  EXPECT_FALSE(better_run(high, low, MetricGoal::kMinimize));
  EXPECT_TRUE(better_run(high, low, MetricGoal::kMaximize));
  EXPECT_FALSE(better_run(low, high, MetricGoal::kMaximize));
  EXPECT_TRUE(better_run(RankedRun{"c", -kInfinity, 9}, low, MetricGoal::kMinimize));
  EXPECT_TRUE(better_run(RankedRun{"c", kInfinity, 9}, high, MetricGoal::kMaximize));
}

TEST(BestRunRanking, EqualValuesGoToTheEarlierStartThenTheSmallerRunId) {
  for (const MetricGoal goal : {MetricGoal::kMinimize, MetricGoal::kMaximize}) {
    EXPECT_TRUE(better_run(RankedRun{"z", 0.5, 1}, RankedRun{"a", 0.5, 2}, goal));
    EXPECT_FALSE(better_run(RankedRun{"a", 0.5, 2}, RankedRun{"z", 0.5, 1}, goal));
    EXPECT_TRUE(better_run(RankedRun{"a", 0.5, 1}, RankedRun{"b", 0.5, 1}, goal));
    EXPECT_FALSE(better_run(RankedRun{"b", 0.5, 1}, RankedRun{"a", 0.5, 1}, goal));
    // A run never beats itself: the first one seen stays.
    EXPECT_FALSE(better_run(RankedRun{"a", 0.5, 1}, RankedRun{"a", 0.5, 1}, goal));
  }
}

TEST(BestRunRanking, MetricValuesAsMlflowWritesThem) {
  EXPECT_EQ(metric_value(json(0.25)), 0.25);
  EXPECT_EQ(metric_value(json(3)), 3.0);
  EXPECT_EQ(metric_value(json("Infinity")), kInfinity);
  EXPECT_EQ(metric_value(json("-Infinity")), -kInfinity);
  ASSERT_TRUE(metric_value(json("NaN")).has_value());
  EXPECT_TRUE(std::isnan(*metric_value(json("NaN"))));
  EXPECT_EQ(metric_value(json("1.5")), 1.5);
  EXPECT_FALSE(metric_value(json("fast")).has_value());
  EXPECT_FALSE(metric_value(json("1.5x")).has_value());
  EXPECT_FALSE(metric_value(json(nullptr)).has_value());
  EXPECT_FALSE(metric_value(json::array({1})).has_value());
}

// --- against a scripted server ----------------------------------------------------

std::string ok(const json& body) {
  return test::ScriptedHttpServer::response("200 OK", body.dump(), "Content-Type: application/json\r\n");
}

std::string experiment_answer() {
  return ok({{"experiment", {{"experiment_id", "7"}, {"name", "exp"}}}});
}

// A run as runs/search writes it; `value` omitted when null.
json run(const std::string& id, const json& value, std::int64_t start_time, const json& tags = json::array()) {
  json metrics = json::array();
  if (!value.is_null()) metrics.push_back({{"key", "loss"}, {"value", value}, {"step", 0}});
  return {{"info", {{"run_id", id}, {"status", "FINISHED"}, {"start_time", start_time}}},
          {"data", {{"metrics", metrics}, {"tags", tags}}}};
}

json history_tag(const std::vector<std::string>& paths) {
  json history = json::array();
  for (const std::string& path : paths) history.push_back({{"artifact_path", path}, {"flavors", json::object()}});
  return json::array({{{"key", "mlflow.log-model.history"}, {"value", history.dump()}}});
}

MlflowOptions scripted_options(const test::ScriptedHttpServer& server) {
  MlflowOptions options;
  options.tracking_uri = server.url();
  options.cache_dir = std::filesystem::path(::testing::TempDir()) / "best-run-unit-cache";
  options.max_retries = 0;
  options.request_timeout = 5s;
  return options;
}

std::string best_run_error(const std::vector<std::string>& answers, const std::string& experiment = "exp",
                           const std::string& metric = "loss") {
  test::ScriptedHttpServer server(answers);
  EXPECT_TRUE(server.listening());
  MlflowClient client(scripted_options(server));
  try {
    const BestRun best = client.best_run(experiment, metric);
    ADD_FAILURE() << "found " << best.model_uri;
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(BestRunLookup, ReadsEveryPageAndBreaksTiesByStartThenRunId) {
  // Page 1 holds a tie at 0.2 and a NaN; page 2 the same value with an
  // equal start and a smaller id, which wins, and a run without the metric.
  const json page1 = {{"runs", json::array({run("bbb", 0.2, 10, history_tag({"model"})), run("ccc", "NaN", 1),
                                            run("ddd", 0.2, 11)})},
                      {"next_page_token", "page-2"}};
  const json page2 = {{"runs", json::array({run("aaa", 0.2, 10, history_tag({"model", "model"})), run("eee", nullptr, 1)})}};
  test::ScriptedHttpServer server({experiment_answer(), ok(page1), ok(page2)});
  ASSERT_TRUE(server.listening());
  MlflowClient client(scripted_options(server));
  const BestRun best = client.best_run("exp", "loss");
  EXPECT_EQ(best.experiment_id, "7");
  EXPECT_EQ(best.run_id, "aaa");
  // MLflow 2: the model's artifact path from the history tag (listed twice: one model).
  EXPECT_EQ(best.model_uri, "runs:/aaa/model");
  EXPECT_EQ(best.metric_value, 0.2);
  EXPECT_EQ(best.runs_ranked, 3u);
  EXPECT_EQ(best.runs_skipped, 2u);
  const std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].rfind("GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=exp ", 0), 0u);
  EXPECT_EQ(requests[1].rfind("POST /api/2.0/mlflow/runs/search ", 0), 0u);
  EXPECT_EQ(requests[2].rfind("POST /api/2.0/mlflow/runs/search ", 0), 0u);
}

TEST(BestRunLookup, AServerRepeatingItsPageTokenIsRefusedNotFollowedForever) {
  const json page = {{"runs", json::array({run("aaa", 0.1, 1, history_tag({"m"}))})},
                     {"next_page_token", "same"}};
  const std::string message =
      best_run_error({experiment_answer(), ok(page), ok(page), ok(page)});
  EXPECT_EQ(message,
            "experiment 'exp': the tracking server returned the same runs/search page_token twice, so "
            "its pages never end; check the server (it is not MLflow's behaviour)");
}

TEST(BestRunLookup, MinusInfinityIsTheSmallestValue) {
  test::ScriptedHttpServer server({experiment_answer(), ok({{"runs", json::array({run("aaa", 0.1, 1),
                                                                                 run("bbb", "-Infinity", 2, history_tag({"m"}))})}})});
  MlflowClient client(scripted_options(server));
  const BestRun best = client.best_run("exp", "loss");
  EXPECT_EQ(best.run_id, "bbb");
  EXPECT_EQ(best.metric_value, -kInfinity);
  EXPECT_EQ(best.model_uri, "runs:/bbb/m");
}

TEST(BestRunLookup, TwoArtifactPathsInTheHistoryTagAreListed) {
  const std::string message = best_run_error(
      {experiment_answer(), ok({{"runs", json::array({run("aaa", 0.1, 1, history_tag({"model", "other"}))})}})});
  EXPECT_EQ(message,
            "run aaa of experiment 'exp' (best by loss = 0.1) logged 2 models: 'model', 'other'; inferloop cannot "
            "tell which one to serve: pin one yourself, runs:/aaa/<name>, or models:/<model id>");
}

TEST(BestRunLookup, ARunIdThatIsNotAnIdIsRefused) {
  const std::string message =
      best_run_error({experiment_answer(), ok({{"runs", json::array({run("../../x", 0.1, 1)})}})});
  EXPECT_EQ(message,
            "experiment 'exp': runs/search answered run_id '../../x', which is not an MLflow run id; is the "
            "tracking server MLflow?");
}

TEST(BestRunLookup, AMetricValueThatIsNotANumberIsRefused) {
  const std::string message =
      best_run_error({experiment_answer(), ok({{"runs", json::array({run("aaa", "fast", 1)})}})});
  EXPECT_EQ(message,
            "experiment 'exp': run aaa has metric 'loss' with a value that is not a number; is the tracking "
            "server MLflow?");
}

TEST(BestRunLookup, AModelNameThatCannotBeAnArtifactPathIsRefused) {
  const std::string message = best_run_error(
      {experiment_answer(), ok({{"runs", json::array({run("aaa", 0.1, 1, history_tag({"it's"}))})}})});
  EXPECT_EQ(message,
            "run aaa of experiment 'exp' (best by loss = 0.1) logged its model under the name 'it\\'s', which "
            "inferloop cannot put in a runs:/ URI; log it again under a plain name (name=\"model\"), or pin "
            "models:/<model id>");
}

TEST(BestRunLookup, OnlyNaNValuesAreCountedInTheMessage) {
  const std::string message = best_run_error(
      {experiment_answer(), ok({{"runs", json::array({run("aaa", "NaN", 1), run("bbb", nullptr, 2)})}})});
  EXPECT_EQ(message,
            "experiment 'exp' (id 7) has no finished run with a value for metric 'loss' (2 finished runs: 1 "
            "without it, 1 with NaN); log it in the run: mlflow.log_metric('loss', value)");
}

TEST(BestRunLookup, EmptyNamesAndNoTrackingServerAreRefused) {
  // No tracking URI from the environment either, for this test only.
  const char* environment = std::getenv("MLFLOW_TRACKING_URI");
  const std::optional<std::string> saved = environment ? std::optional<std::string>(environment) : std::nullopt;
  ::unsetenv("MLFLOW_TRACKING_URI");
  MlflowOptions options;
  options.tracking_uri = "";
  options.cache_dir = std::filesystem::path(::testing::TempDir()) / "best-run-unit-cache";
  {
    MlflowClient client(options);
    try {
      (void)client.best_run("exp", "loss");
      ADD_FAILURE() << "no tracking server, yet best_run() answered";
    } catch (const Error& error) {
      EXPECT_EQ(std::string(error.what()).rfind("the best run of experiment 'exp' needs an MLflow tracking "
                                                "server, but none is configured: set MLFLOW_TRACKING_URI",
                                                0),
                0u)
          << error.what();
    }
  }
  if (saved) ::setenv("MLFLOW_TRACKING_URI", saved->c_str(), 1);
  EXPECT_EQ(best_run_error({experiment_answer()}, "", "loss"),
            "best run: the experiment name is empty; name an experiment (mlflow experiments search lists them)");
  EXPECT_EQ(best_run_error({experiment_answer()}, "exp", ""),
            "best run of experiment 'exp': expected a metric name of 1 to 250 characters, found ''");
}

}  // namespace
}  // namespace inferloop
