// Remote predictors against real serving engines on loopback (started by the
// ctest fixture inferloop_remote_servers, tests/python/remote_fixtures.py):
// two `mlflow models serve` processes, a Ray Serve deployment with three
// replicas and two MLServer processes (KServe v2 REST, xgboost runtime), all
// serving one XGBoost model.
//
// What is proved:
//   - predictions through the loop equal the in-process XGBoostPredictor's
//     bit for bit, on every protocol, for single rows and multi-row snapshots,
//     including missing (NaN) features;
//   - killing one endpoint mid-run loses no correctness: every delivered
//     result still equals the in-process one for its snapshot, the endpoint is
//     counted as failed and taken out, and it is put back and used again once
//     it is restarted (MLflow and KServe v2);
//   - an endpoint that is not ready (no such v2 model, nothing listening)
//     fails start() with a message naming the URL and why.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "inferloop/error.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/remote.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kWork = INFERLOOP_REMOTE_WORK;

json state() {
  std::ifstream in(kWork + "/state.json");
  if (!in) throw Error("no " + kWork + "/state.json: the fixture inferloop_remote_servers did not run");
  return json::parse(in);
}

std::string url_of(const std::string& name) {
  const json servers = state()["servers"];
  if (!servers.contains(name)) {
    throw Error("no server '" + name + "' in " + kWork + "/state.json (it has " + servers.dump() +
                "); the fixture inferloop_remote_servers did not start it");
  }
  return servers[name]["url"];
}

// Runs remote_fixtures.py COMMAND for one server (kill, restart).
void control(const std::string& command, const std::string& name) {
  const std::string line = std::string(INFERLOOP_PYTHON_EXE) + " " + INFERLOOP_REMOTE_FIXTURES +
                           " " + command + " --work " + kWork + " --name " + name;
  ASSERT_EQ(std::system(line.c_str()), 0) << line;
}

std::vector<std::vector<float>> read_features() {
  std::ifstream in(state()["features_csv"].get<std::string>());
  std::vector<std::vector<float>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<float> row;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) {
      // The file holds each float32 as its exact double: strtod then cast is exact.
      row.push_back(cell == "nan" ? std::numeric_limits<float>::quiet_NaN()
                                  : static_cast<float>(std::strtod(cell.c_str(), nullptr)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The in-process predictions for every row, one row at a time.
std::vector<float> in_process(const std::vector<std::vector<float>>& rows) {
  InferenceConfig config;
  config.model_uri = state()["model_json"].get<std::string>();
  const ResolvedModel model = resolve_model(config.model_uri);
  SharedPredictorState shared;
  auto predictor = PredictorRegistry::global().create(
      "XGBoostPredictor", PredictorContext{config, model, 0, shared});
  std::vector<float> out(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    predictor->predict(rows[i], 1, std::span<float>(&out[i], 1));
  }
  return out;
}

std::uint32_t bits(float value) { return std::bit_cast<std::uint32_t>(value); }

// Remote predictors need no local model file.
ResolvedModel no_model(const std::string& uri) {
  ResolvedModel model;
  model.uri = uri;
  return model;
}

LoopOptions without_model_file(const PredictorRegistry* registry = nullptr) {
  LoopOptions options;
  options.resolver = no_model;
  options.registry = registry;
  return options;
}

class RemoteLoop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rows_ = read_features();
    expected_ = in_process(rows_);
  }

  // Publishes every row, one snapshot at a time, and checks each result.
  static void expect_every_row_matches(InferenceLoop& loop) {
    Prediction result = loop.make_prediction();
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      const std::uint64_t seq = loop.features().publish_checked(rows_[i], Timestamp{0});
      ASSERT_TRUE(loop.wait_for(seq, 30s, &result)) << "row " << i << ": " << last_error(loop);
      ASSERT_EQ(result.feature_seq, seq) << "row " << i;
      ASSERT_EQ(result.rows, 1u);
      ASSERT_EQ(bits(result.value()), bits(expected_[i]))
          << "row " << i << ": remote " << result.value() << " vs in-process " << expected_[i];
    }
    EXPECT_EQ(loop.stats().errors, 0u) << last_error(loop);
  }

  // Publishes the rows 16 at a time (config.max_rows must be 16) and checks
  // every row of every result.
  static void expect_16_row_snapshots_match(InferenceLoop& loop);

  // Kills the second of two endpoints while a two-replica loop serves, then
  // restarts it; `b_name` is its name in the fixture's state.json.
  static void kill_fail_over_and_recover(const RemoteOptions& options, const std::string& b_name);

  static std::string last_error(const InferenceLoop& loop) {
    const auto error = loop.last_error();
    return error ? error->message : "no error";
  }

  static InferenceConfig config_for(const std::string& predictor, std::vector<std::string> urls,
                                    std::string deployment, int replicas) {
    InferenceConfig config;
    config.model_uri = "remote";
    config.predictor_class_name = predictor;
    config.endpoints = std::move(urls);
    config.deployment_name = std::move(deployment);
    config.num_features = state()["num_features"].get<std::size_t>();
    config.num_replicas = replicas;
    return config;
  }

  static inline std::vector<std::vector<float>> rows_;
  static inline std::vector<float> expected_;
};

TEST_F(RemoteLoop, MlflowScoringEqualsInProcess) {
  // Through the registered name and the config, as a YAML user would; the
  // MLflow model folder gives the feature names (its signature).
  InferenceConfig config = config_for("MlflowScoringPredictor",
                                      {url_of("mlflow-a"), url_of("mlflow-b")}, "", 2);
  config.model_uri = state()["mlflow_model"].get<std::string>();
  config.num_features = 0;
  // The default resolver reads the folder's MLmodel: the signature's column names.
  InferenceLoop loop(config);
  loop.start();
  EXPECT_EQ(loop.model_info().num_outputs, 1u);
  EXPECT_NE(loop.model_info().predictor.find("MLflow scoring remote predictor on"),
            std::string::npos);
  expect_every_row_matches(loop);
}

TEST_F(RemoteLoop, RayServeEqualsInProcess) {
  const json ray = state()["servers"]["ray"];
  InferenceLoop loop(config_for("RayServePredictor", {ray["url"]}, ray["model_name"], 3),
                     without_model_file());
  loop.start();
  expect_every_row_matches(loop);
  // All three loop replicas share the one Ray endpoint.
  EXPECT_GE(loop.stats().predictions, rows_.size());
}

TEST_F(RemoteLoop, MultiRowSnapshotsEqualInProcess) {
  const json ray = state()["servers"]["ray"];
  InferenceConfig config = config_for("RayServePredictor", {ray["url"]}, ray["model_name"], 1);
  config.max_rows = 16;
  InferenceLoop loop(config, without_model_file());
  loop.start();
  expect_16_row_snapshots_match(loop);
}

void RemoteLoop::expect_16_row_snapshots_match(InferenceLoop& loop) {
  Prediction result = loop.make_prediction();
  const std::size_t cols = rows_.front().size();
  for (std::size_t first = 0; first + 16 <= rows_.size(); first += 16) {
    std::vector<float> snapshot;
    for (std::size_t i = first; i < first + 16; ++i) {
      snapshot.insert(snapshot.end(), rows_[i].begin(), rows_[i].end());
    }
    ASSERT_EQ(snapshot.size(), 16 * cols);
    const std::uint64_t seq = loop.features().publish_checked(snapshot, Timestamp{0});
    ASSERT_TRUE(loop.wait_for(seq, 30s, &result)) << last_error(loop);
    ASSERT_EQ(result.rows, 16u);
    for (std::size_t i = 0; i < 16; ++i) {
      ASSERT_EQ(bits(result.value(i)), bits(expected_[first + i])) << "row " << first + i;
    }
  }
}

TEST_F(RemoteLoop, WrongRouteIsAClearErrorAtStart) {
  const json ray = state()["servers"]["ray"];
  InferenceLoop loop(config_for("RayServePredictor", {ray["url"]}, "no-such-app", 1),
                     without_model_file());
  try {
    loop.start();
    FAIL() << "started against a route that does not exist";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("POST " + ray["url"].get<std::string>() + "/no-such-app/ answered HTTP 404"),
              std::string::npos)
        << message;
  }
}

// Kill one of two MLflow endpoints while the loop serves, then restart it.
TEST_F(RemoteLoop, KilledEndpointFailsOverAndRecovers) {
  RemoteOptions options;
  options.protocol = RemoteProtocol::kMlflowScoring;
  options.endpoints = {url_of("mlflow-a"), url_of("mlflow-b")};
  options.num_features = rows_.front().size();
  options.feature_names = {"f0", "f1", "f2", "f3", "f4"};
  kill_fail_over_and_recover(options, "mlflow-b");
}

void RemoteLoop::kill_fail_over_and_recover(const RemoteOptions& base_options,
                                            const std::string& b_name) {
  RemoteOptions options = base_options;
  options.health_check_interval = 100ms;
  auto endpoints = std::make_shared<RemoteEndpoints>(options);
  ASSERT_EQ(endpoints->check_now(), 2u);

  PredictorRegistry registry;
  registry.add("Remote", [endpoints](const PredictorContext& context) {
    return make_remote_predictor(endpoints, context.replica_id);
  });
  InferenceConfig config = config_for("Remote", {}, "", 2);

  // Every delivered result, checked against the row of its snapshot.
  std::mutex mutex;
  std::map<std::uint64_t, std::size_t> row_of_seq;  // guarded by mutex
  std::uint64_t mismatches = 0;                     // guarded by mutex
  std::uint64_t delivered = 0;                      // guarded by mutex
  LoopOptions loop_options = without_model_file(&registry);
  loop_options.on_result = [&](const Prediction& result) {
    std::lock_guard lock(mutex);
    const std::size_t row = row_of_seq.at(result.feature_seq);
    if (bits(result.value()) != bits(expected_[row])) ++mismatches;
    ++delivered;
  };
  InferenceLoop loop(config, loop_options);
  loop.start();

  std::size_t next_row = 0;
  auto publish_some = [&](std::size_t count) {
    Prediction result = loop.make_prediction();
    for (std::size_t i = 0; i < count; ++i, ++next_row) {
      const std::size_t row = next_row % rows_.size();
      std::uint64_t seq = 0;
      {
        // Recorded before the loop can deliver it.
        std::lock_guard lock(mutex);
        seq = loop.features().last_published_seq() + 1;
        row_of_seq[seq] = row;
      }
      ASSERT_EQ(loop.features().publish_checked(rows_[row], Timestamp{0}), seq);
      ASSERT_TRUE(loop.wait_for(seq, 30s, &result)) << last_error(loop);
    }
  };
  auto status_of_b = [&] { return endpoints->status().at(1); };

  publish_some(100);
  const std::uint64_t b_before = status_of_b().requests;
  EXPECT_GT(b_before, 0u) << "replica 1 should start on endpoint b";

  control("kill", b_name);
  publish_some(200);
  EndpointStatus b = status_of_b();
  EXPECT_FALSE(b.healthy);
  EXPECT_GE(b.taken_out, 1u);
  EXPECT_NE(b.last_error.find(url_of(b_name)), std::string::npos) << b.last_error;
  // Every snapshot was still answered: by endpoint a.
  EXPECT_EQ(loop.stats().errors, 0u) << last_error(loop);

  control("restart", b_name);
  // The health check puts b back once its readiness URLs answer; servers take
  // seconds to start.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!status_of_b().healthy && std::chrono::steady_clock::now() < deadline) {
    publish_some(5);
  }
  b = status_of_b();
  ASSERT_TRUE(b.healthy) << "endpoint b never came back: " << b.last_error;
  EXPECT_GE(b.put_back, 1u);
  const std::uint64_t b_after_restart = b.requests;
  publish_some(100);
  EXPECT_GT(status_of_b().requests, b_after_restart) << "b is back but got no requests";

  loop.stop();
  const LoopStats stats = loop.stats();
  std::lock_guard lock(mutex);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(delivered, stats.predictions - stats.stale_results);
  EXPECT_EQ(stats.dispatched, stats.predictions + stats.errors);
}

// The KServe v2 tests need the MLServer venv; without it they fail, saying so,
// rather than vanish from a full test run.
class RemoteKServe : public RemoteLoop {
 protected:
  void SetUp() override {
    if (std::string(INFERLOOP_PYTHON_KSERVE_EXE).empty()) {
      GTEST_FAIL() << "INFERLOOP_PYTHON_KSERVE is not set, so no KServe v2 server was started; "
                      "run ./scripts/bootstrap and configure with "
                      "-DINFERLOOP_PYTHON_KSERVE=<repo>/.venv-kserve/bin/python";
    }
  }

  static std::string model_name() { return state()["servers"]["kserve-a"]["model_name"]; }
};

TEST_F(RemoteKServe, EqualsInProcess) {
  // Through the registered name and the config, as a YAML user would. The rows
  // include missing features: MLServer's numpy codec reads JSON null in FP32
  // data as NaN, so they reach XGBoost as missing values.
  InferenceLoop loop(config_for("KServeV2Predictor", {url_of("kserve-a"), url_of("kserve-b")},
                                model_name(), 2),
                     without_model_file());
  loop.start();
  EXPECT_EQ(loop.model_info().num_outputs, 1u);
  EXPECT_NE(loop.model_info().predictor.find("KServe v2 remote predictor '" + model_name() + "' on"),
            std::string::npos)
      << loop.model_info().predictor;
  expect_every_row_matches(loop);
}

TEST_F(RemoteKServe, MultiRowSnapshotsEqualInProcess) {
  InferenceConfig config = config_for("KServeV2Predictor", {url_of("kserve-a")}, model_name(), 1);
  config.max_rows = 16;
  InferenceLoop loop(config, without_model_file());
  loop.start();
  expect_16_row_snapshots_match(loop);
}

TEST_F(RemoteKServe, UnknownModelIsAClearErrorAtStart) {
  const std::string url = url_of("kserve-a");
  InferenceLoop loop(config_for("KServeV2Predictor", {url}, "no-such-model", 1),
                     without_model_file());
  try {
    loop.start();
    FAIL() << "started against a v2 model the server does not have";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("no KServe v2 endpoint is ready"), std::string::npos) << message;
    // The server itself is ready; the model's readiness URL says why not, in
    // MLServer's own words.
    EXPECT_NE(message.find("GET " + url + "/v2/models/no-such-model/ready answered HTTP 404: "
                           "Model no-such-model not found"),
              std::string::npos)
        << message;
  }
}

TEST_F(RemoteKServe, NothingListeningIsAClearErrorAtStart) {
  // A port that was free a moment ago: connecting to it is refused.
  std::uint16_t port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }
  const std::string dead = "http://127.0.0.1:" + std::to_string(port);
  InferenceLoop loop(config_for("KServeV2Predictor", {dead}, model_name(), 1),
                     without_model_file());
  try {
    loop.start();
    FAIL() << "started with no server listening on " << dead;
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("GET " + dead + "/v2/health/ready failed: "), std::string::npos)
        << message;
    EXPECT_NE(message.find("start the server(s) or fix `endpoints` in the config"),
              std::string::npos)
        << message;
  }
}

// Kill one of two MLServer endpoints while the loop serves, then restart it.
TEST_F(RemoteKServe, KilledEndpointFailsOverAndRecovers) {
  RemoteOptions options;
  options.protocol = RemoteProtocol::kKServeV2;
  options.endpoints = {url_of("kserve-a"), url_of("kserve-b")};
  options.model_name = model_name();
  options.num_features = rows_.front().size();
  kill_fail_over_and_recover(options, "kserve-b");
}

}  // namespace
}  // namespace inferloop
