// Live reload of a model whose versions live in S3 (tests/python/
// s3_fixtures.py: moto with auth on, `mlflow server --no-serve-artifacts`):
// a loop serves models:/inferloop-s3-live@live while snapshots flow; the
// alias moves to a new version (downloaded from the bucket and swapped in),
// then to a version whose model file in the bucket is garbage (refused; the
// old model keeps serving). Every result must be its model's xgboost
// prediction for its row, bit for bit, and model_version never goes back.
//
// The test registers its own model name, so the other S3 tests' models are
// untouched; CMake runs it under the S3 fixture's RESOURCE_LOCK.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/inference_loop.hpp"
#include "mlflow_test_support.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using namespace mlflow_test;

constexpr const char* kModelName = "inferloop-s3-live";
constexpr const char* kAlias = "live";

struct Version {
  std::string version;
  std::vector<std::uint32_t> expected_bits;  // empty when corrupt
};

Version register_version(int seed, bool corrupt = false) {
  const json answer = json::parse(run_fixture("register --name " + std::string(kModelName) + " --alias " + kAlias +
                                              " --seed " + std::to_string(seed) + (corrupt ? " --corrupt" : "")));
  Version v;
  v.version = answer.at("version").get<std::string>();
  if (!answer.at("expected_bits").is_null()) v.expected_bits = answer.at("expected_bits").get<std::vector<std::uint32_t>>();
  return v;
}

template <typename Predicate>
bool eventually(Predicate done, std::chrono::seconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(S3LiveReload, AnAliasMovingBetweenVersionsInS3IsFollowedAndACorruptOneRefused) {
  const json fixture = state();
  const EnvGuard environment{
      {"AWS_ACCESS_KEY_ID", fixture.at("credentials").at("access_key_id").get<std::string>()},
      {"AWS_SECRET_ACCESS_KEY", fixture.at("credentials").at("secret_access_key").get<std::string>()},
      {"AWS_SESSION_TOKEN", std::nullopt},
      {"AWS_PROFILE", std::nullopt},
      {"AWS_DEFAULT_REGION", "us-east-1"},
      {"MLFLOW_S3_ENDPOINT_URL", fixture.at("servers").at("moto").at("url").get<std::string>()}};
  std::size_t rows = 0;
  const std::vector<float> features = read_features(rows);
  ASSERT_GT(rows, 0U);
  const std::size_t width = features.size() / rows;

  const Version first = register_version(111);
  ASSERT_EQ(first.expected_bits.size(), rows);

  InferenceConfig config;
  config.model_uri = std::string("models:/") + kModelName + "@" + kAlias;
  config.mlflow_tracking_uri = fixture.at("tracking_uri");
  config.model_cache_dir = (fs::temp_directory_path() / ("inferloop-s3-live-cache-" + std::to_string(getpid()))).string();
  fs::remove_all(config.model_cache_dir);
  config.predictor_class_name = "ForestPredictor";
  config.num_replicas = 2;
  config.model_refresh_interval = 50ms;
  config.startup_timeout = 20s;

  std::mutex mutex;
  std::map<std::uint64_t, std::string> registry_version_of{{1, first.version}};  // loop model_version -> MLflow's
  std::vector<std::string> reload_errors;
  struct Seen {
    std::uint64_t feature_seq, model_version;
    std::uint32_t value_bits;
  };
  std::vector<Seen> seen;  // written only by the delivering thread until the loop stops
  std::vector<std::size_t> row_of_seq(1, 0);
  std::mutex row_mutex;

  LoopOptions options;
  options.on_result = [&](const Prediction& p) { seen.push_back({p.feature_seq, p.model_version, bits(p.value())}); };
  options.on_model_change = [&](const ModelInfo& info) {
    std::lock_guard lock(mutex);
    registry_version_of[info.model_version] = info.model.registry_version;
  };
  options.on_error = [&](const LoopError& error) {
    std::lock_guard lock(mutex);
    reload_errors.push_back(error.message);
  };
  InferenceLoop loop(config, options);
  loop.start();
  ASSERT_EQ(loop.model_info().model.registry_version, first.version);
  EXPECT_TRUE(loop.model_info().model.artifact_uri.starts_with("s3://")) << loop.model_info().model.artifact_uri;

  // The engine. A std::jthread: stopped and joined however the test ends
  // (a fixture step that throws included).
  std::jthread engine([&](std::stop_token stop) {
    std::size_t row = 0;
    while (!stop.stop_requested()) {
      {
        std::lock_guard lock(row_mutex);
        row_of_seq.push_back(row);
      }
      (void)loop.features().publish(std::span<const float>(features.data() + row * width, width), Timestamp{0});
      row = (row + 1) % rows;
      if (row % 64 == 0) std::this_thread::sleep_for(100us);
    }
  });
  auto serving_version = [&] { return loop.model_info().model.registry_version; };

  // 1. The alias moves: the new version is downloaded from S3 and swapped in.
  const Version second = register_version(222);
  EXPECT_TRUE(eventually([&] { return serving_version() == second.version; }))
      << "still serving registry version " << serving_version();

  // 2. The alias moves to a version whose model file in S3 is garbage.
  const Version corrupt = register_version(333, /*corrupt=*/true);
  EXPECT_TRUE(eventually([&] { return loop.stats().model_reload_failures >= 2; })) << "no failed reload counted";
  EXPECT_EQ(serving_version(), second.version);
  const std::uint64_t predictions_before = loop.stats().predictions;
  EXPECT_TRUE(eventually([&] { return loop.stats().predictions > predictions_before + 100; }));

  engine.request_stop();
  engine.join();
  loop.stop();

  const std::map<std::string, const Version*> registered{
      {first.version, &first}, {second.version, &second}, {corrupt.version, &corrupt}};
  EXPECT_EQ(registry_version_of,
            (std::map<std::uint64_t, std::string>{{1, first.version}, {2, second.version}}));
  ASSERT_FALSE(seen.empty());
  std::uint64_t previous_seq = 0, previous_version = 1;
  std::size_t mismatches = 0;
  std::map<std::uint64_t, std::size_t> per_version;
  for (const Seen& s : seen) {
    ASSERT_GT(s.feature_seq, previous_seq);
    ASSERT_GE(s.model_version, previous_version) << "model_version went backwards at feature_seq " << s.feature_seq;
    const std::vector<std::uint32_t>& expected = registered.at(registry_version_of.at(s.model_version))->expected_bits;
    ASSERT_FALSE(expected.empty()) << "a result from the corrupt model";
    if (s.value_bits != expected[row_of_seq.at(s.feature_seq)]) ++mismatches;
    previous_seq = s.feature_seq;
    previous_version = s.model_version;
    ++per_version[s.model_version];
  }
  EXPECT_EQ(mismatches, 0U);
  EXPECT_EQ(per_version.size(), 2U) << "expected results from loop model versions 1 and 2";
  EXPECT_EQ(loop.stats().model_swaps, 1U);
  {
    std::lock_guard lock(mutex);
    ASSERT_FALSE(reload_errors.empty());
    for (const std::string& message : reload_errors) {
      EXPECT_NE(message.find("failed; still serving model_version 2"), std::string::npos) << message;
      EXPECT_EQ(message.find(fixture.at("credentials").at("secret_access_key").get<std::string>()), std::string::npos);
    }
  }
  fs::remove_all(config.model_cache_dir);
}

}  // namespace
}  // namespace inferloop
