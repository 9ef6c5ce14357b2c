// MlflowClient with models in S3: moto in server mode with authentication on
// and a real `mlflow server --no-serve-artifacts --default-artifact-root
// s3://...` (the ctest fixture inferloop_s3_server, tests/python/
// s3_fixtures.py, which logged and registered two XGBoost models through
// MLflow's own Python client, writing them to the bucket).
//
// What is proved:
//   - s3:// URIs (a model folder, a single file), models:/name/N,
//     models:/name@alias, models:/<model_id> and runs:/ (the run's artifacts
//     and MLflow 3's logged-model fallback) resolve through S3, and
//     ForestPredictor predicts exactly what xgboost predicted, bit for bit;
//   - listings follow continuation tokens (INFERLOOP_S3_MAX_KEYS=2);
//   - credentials from the environment, temporary ones with a session token
//     (STS), and a shared credentials file with AWS_PROFILE work; wrong or
//     unknown keys and a wrong session token are a clear 403 (400 for the
//     token) that names the variables and never the secret;
//   - a missing bucket, a missing key, a key that would leave the model
//     folder, a truncated object (a proxy cutting the body), a store that
//     never answers and an object larger than max_artifact_bytes each give a
//     clear error and leave nothing behind;
//   - a version is a cache hit the second time; an s3:// URI starts from
//     what it downloaded last when the store is down and
//     use_cache_when_offline is set, and says why it cannot otherwise.
//
// Every test uses a fresh cache under INFERLOOP_MLFLOW_SCRATCH, small retry
// settings, and sets the AWS variables it needs (EnvGuard).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "mlflow_test_support.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using namespace mlflow_test;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Starts (or restarts) the fault proxy for `mode`; stops it when it goes out of scope.
struct FaultProxy {
  explicit FaultProxy(std::string mode_name) : mode(std::move(mode_name)) {
    url = json::parse(run_fixture("fault --mode " + mode)).at("url");
  }
  ~FaultProxy() { std::system(fixture_command("fault-stop --mode " + mode).c_str()); }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  json counters() const {
    std::ifstream in(state().at("faults").at(mode).at("counters").get<std::string>());
    return in ? json::parse(in) : json::object();
  }
  std::string mode;
  std::string url;
};

class S3 : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = mlflow_test::fresh_scratch_folder();
    cache_ = scratch_ / "cache";
    fixture_ = state();
    const json& credentials = fixture_.at("credentials");
    key_id_ = credentials.at("access_key_id");
    secret_ = credentials.at("secret_access_key");
    endpoint_ = fixture_.at("servers").at("moto").at("url");
  }

  // The variables a process that can read the bucket has, with `endpoint`;
  // HOME points at an empty folder so that no real ~/.aws is read.
  EnvGuard s3_environment(const std::string& endpoint) const {
    return EnvGuard{{"AWS_ACCESS_KEY_ID", key_id_},        {"AWS_SECRET_ACCESS_KEY", secret_},
                    {"AWS_SESSION_TOKEN", std::nullopt},   {"AWS_PROFILE", std::nullopt},
                    {"AWS_DEFAULT_PROFILE", std::nullopt}, {"AWS_REGION", std::nullopt},
                    {"AWS_DEFAULT_REGION", "us-east-1"},   {"MLFLOW_S3_ENDPOINT_URL", endpoint},
                    {"AWS_ENDPOINT_URL", std::nullopt},    {"AWS_ENDPOINT_URL_S3", std::nullopt},
                    {"INFERLOOP_S3_MAX_KEYS", std::nullopt}, {"HOME", scratch_.string()}};
  }

  MlflowOptions fast_options() {
    MlflowOptions options;
    options.tracking_uri = fixture_.at("tracking_uri");
    options.cache_dir = cache_;
    options.max_retries = 2;
    options.backoff_factor = 0.05;
    options.backoff_jitter = 0.05;
    options.connect_timeout = 2s;
    options.request_timeout = 5s;
    options.log = [this](const std::string& line) { log_.push_back(line); };
    return options;
  }

  std::string resolve_error(MlflowClient& client, const std::string& uri) {
    try {
      const ResolvedModel model = client.resolve(uri);
      ADD_FAILURE() << uri << " resolved (to " << model.model_file << ") but should have failed";
    } catch (const Error& error) {
      std::printf("[ message  ] %s\n", error.what());  // what a user reads is part of the review
      return error.what();
    }
    return "";
  }

  void expect_no_secret(const std::string& text) const {
    EXPECT_FALSE(contains(text, secret_)) << "the secret key leaked: " << text;
    EXPECT_FALSE(contains(text, key_id_)) << "the access key id leaked: " << text;
  }
  void expect_no_secret_logged() const {
    for (const std::string& line : log_) expect_no_secret(line);
  }

  // Model files and temporary folders under the cache.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> found;
    for (const std::string& path : tree(cache_)) {
      const std::string name = fs::path(path).filename().string();
      if (name == "MLmodel" || name.starts_with("model.") || contains(path, "tmp-")) found.push_back(path);
    }
    return found;
  }

  std::string model_uri(const std::string& version) const {
    return fixture_.at("models").at(version).at("artifact_uri");
  }
  std::vector<std::uint32_t> expected_bits(int model) const {
    return fixture_.at("models").at(std::to_string(model)).at("expected_bits").get<std::vector<std::uint32_t>>();
  }

  json fixture_;
  std::string key_id_, secret_, endpoint_;
  fs::path scratch_;
  fs::path cache_;
  std::vector<std::string> log_;
};

// --- every URI form ------------------------------------------------------------------

TEST_F(S3, EveryUriFormResolvesThroughS3AndPredictsLikeXGBoost) {
  const EnvGuard environment = s3_environment(endpoint_);
  ASSERT_GE(fixture_.at("cases").size(), 9u);
  MlflowClient client(fast_options());
  for (const json& test_case : fixture_.at("cases")) {
    const std::string uri = test_case.at("uri");
    SCOPED_TRACE(uri);
    const ResolvedModel model = client.resolve(uri);
    for (const std::string& line : model.resolution) std::printf("[ resolved ] %s\n", line.c_str());
    EXPECT_EQ(model.registry_name, test_case.at("registry_name").get<std::string>());
    EXPECT_EQ(model.registry_version, test_case.at("registry_version").get<std::string>());
    EXPECT_TRUE(model.artifact_uri.starts_with("s3://" + fixture_.at("bucket").get<std::string>() + "/"))
        << model.artifact_uri;
    EXPECT_TRUE(model.model_file.string().starts_with(cache_.string())) << model.model_file;
    // Resolved through S3, not a cache hit: every case is downloaded (or a
    // registry version already downloaded by an earlier case of this loop).
    const bool from_s3 = std::any_of(model.resolution.begin(), model.resolution.end(), [&](const std::string& line) {
      return contains(line, "GET " + endpoint_ + "/inferloop-models");
    });
    const bool cache_hit = std::any_of(model.resolution.begin(), model.resolution.end(),
                                       [](const std::string& line) { return contains(line, "cache hit"); });
    EXPECT_TRUE(from_s3 || cache_hit);
    EXPECT_EQ(first_difference(forest_predictions(model), expected_bits(test_case.at("expect_model"))), "");
    for (const std::string& line : model.resolution) expect_no_secret(line);
  }
  expect_no_secret_logged();
}

TEST_F(S3, ListingFollowsContinuationTokens) {
  const EnvGuard environment = s3_environment(endpoint_);
  const EnvGuard small_pages{{"INFERLOOP_S3_MAX_KEYS", "2"}};
  MlflowClient client(fast_options());
  const ResolvedModel model = client.resolve(model_uri("1"));
  std::vector<std::string> listings;
  for (const std::string& line : model.resolution) {
    if (contains(line, "list-type=2")) listings.push_back(line);
  }
  // An MLflow model folder has 5 files: 3 pages of at most 2 keys.
  ASSERT_EQ(listings.size(), 3u);
  EXPECT_FALSE(contains(listings[0], "continuation-token="));
  EXPECT_TRUE(contains(listings[1], "continuation-token=")) << listings[1];
  EXPECT_TRUE(contains(listings[2], "continuation-token=")) << listings[2];
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits(1)), "");
}

// --- cache and offline -------------------------------------------------------------------

TEST_F(S3, AVersionIsACacheHitTheSecondTimeAndAnS3UriStartsOfflineFromItsLastDownload) {
  const std::string s3_uri = model_uri("2");
  std::string endpoint;
  {
    // Through a proxy that passes everything on, so that the store can go
    // away below while the endpoint stays what it was.
    FaultProxy proxy("pass");
    endpoint = proxy.url;
    const EnvGuard environment = s3_environment(endpoint);
    MlflowClient client(fast_options());
    (void)client.resolve("models:/inferloop-s3/1");
    const ResolvedModel again = client.resolve("models:/inferloop-s3/1");
    EXPECT_TRUE(std::none_of(again.resolution.begin(), again.resolution.end(),
                             [&](const std::string& line) { return contains(line, endpoint); }))
        << "S3 was asked again";
    EXPECT_TRUE(contains(again.resolution.back(), "cache hit")) << again.resolution.back();
    (void)client.resolve(s3_uri);
    EXPECT_GE(proxy.counters().value("model_downloads", 0), 2);
  }
  // The proxy is gone: nothing listens where the endpoint points.
  const EnvGuard environment = s3_environment(endpoint);
  MlflowOptions options = fast_options();
  {
    MlflowClient client(options);
    const std::string message = resolve_error(client, s3_uri);
    EXPECT_TRUE(contains(message, "no answer")) << message;
    EXPECT_TRUE(contains(message, "is the S3 store at " + endpoint + " (MLFLOW_S3_ENDPOINT_URL) running")) << message;
  }
  options.use_cache_when_offline = true;
  MlflowClient client(options);
  const ResolvedModel model = client.resolve(s3_uri);
  EXPECT_TRUE(model.from_cache);
  EXPECT_TRUE(contains(model.resolution.back(), "started from the cache because the S3 store was unreachable"))
      << model.resolution.back();
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits(2)), "");
  // A URI never downloaded has nothing to start from.
  const std::string message = resolve_error(client, model_uri("1"));
  EXPECT_TRUE(contains(message, "use_cache_when_offline: no cached copy of " + model_uri("1"))) << message;
}

// --- credentials ---------------------------------------------------------------------------

TEST_F(S3, ASharedCredentialsFileAndAwsProfileResolve) {
  const fs::path credentials = scratch_ / "credentials";
  std::ofstream(credentials) << "[default]\naws_access_key_id = AKIAWRONGWRONGWRONG1\n"
                                "aws_secret_access_key = wrong\n\n[inferloop-test]\naws_access_key_id = "
                             << key_id_ << "\naws_secret_access_key = " << secret_ << "\n";
  const EnvGuard environment = s3_environment(endpoint_);
  const EnvGuard from_file{{"AWS_ACCESS_KEY_ID", std::nullopt},
                           {"AWS_SECRET_ACCESS_KEY", std::nullopt},
                           {"AWS_SHARED_CREDENTIALS_FILE", credentials.string()},
                           {"AWS_PROFILE", "inferloop-test"}};
  MlflowClient client(fast_options());
  const ResolvedModel model = client.resolve("models:/inferloop-s3/2");
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits(2)), "");
}

TEST_F(S3, TemporaryCredentialsWithASessionTokenResolveAndAWrongTokenNamesTheVariables) {
  const json& temporary = fixture_.at("session_credentials");
  const std::string token = temporary.at("session_token");
  const EnvGuard environment = s3_environment(endpoint_);
  const EnvGuard session{{"AWS_ACCESS_KEY_ID", temporary.at("access_key_id").get<std::string>()},
                         {"AWS_SECRET_ACCESS_KEY", temporary.at("secret_access_key").get<std::string>()},
                         {"AWS_SESSION_TOKEN", token}};
  {
    MlflowClient client(fast_options());
    const ResolvedModel model = client.resolve(model_uri("1"));
    EXPECT_EQ(first_difference(forest_predictions(model), expected_bits(1)), "");
  }
  const EnvGuard wrong{{"AWS_SESSION_TOKEN", "wrong-session-TOKEN-4242"}};
  MlflowClient client(fast_options());
  const std::string message = resolve_error(client, model_uri("1"));
  // (S3 answers 400 for a bad token, and so does moto.)
  EXPECT_TRUE(contains(message, "HTTP 400 InvalidToken: 'The provided token is malformed or otherwise invalid.'"))
      << message;
  EXPECT_TRUE(contains(message, "AWS_SESSION_TOKEN for temporary ones")) << message;
  EXPECT_FALSE(contains(message, "wrong-session-TOKEN-4242")) << message;
  EXPECT_FALSE(contains(message, token)) << message;
  for (const std::string& line : log_) {
    EXPECT_FALSE(contains(line, token)) << line;
    EXPECT_FALSE(contains(line, "wrong-session-TOKEN-4242")) << line;
  }
}

TEST_F(S3, WrongOrUnknownCredentialsAreAClear403WithoutTheSecret) {
  const EnvGuard environment = s3_environment(endpoint_);
  {
    const EnvGuard wrong_secret{{"AWS_SECRET_ACCESS_KEY", "wrong-SECRET-0815"}};
    MlflowClient client(fast_options());
    const std::string message = resolve_error(client, model_uri("1"));
    EXPECT_TRUE(contains(message, "HTTP 403 SignatureDoesNotMatch: 'The request signature we calculated does not "
                                  "match the signature you provided.")) << message;
    EXPECT_TRUE(contains(message, "(1 attempt)")) << message;
    EXPECT_TRUE(contains(message, "check the AWS credentials (taken from AWS_ACCESS_KEY_ID): AWS_ACCESS_KEY_ID and "
                                  "AWS_SECRET_ACCESS_KEY")) << message;
    EXPECT_FALSE(contains(message, "wrong-SECRET-0815")) << message;
    expect_no_secret(message);
  }
  {
    const EnvGuard unknown_key{{"AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000001"}};
    MlflowClient client(fast_options());
    const std::string message = resolve_error(client, "models:/inferloop-s3/1");
    EXPECT_TRUE(contains(message, "HTTP 403 InvalidAccessKeyId")) << message;
    EXPECT_FALSE(contains(message, "AKIAUNKNOWNKEY000001")) << message;
  }
  // No credentials at all: moto (auth on) answers an unsigned bucket request
  // with a 500 (a KeyError on the missing Authorization header) where S3
  // answers 403; S3ClientTest.AnUnsignedRequestRefusedSaysNoCredentialsWereFound
  // shows that message.
  expect_no_secret_logged();
  EXPECT_TRUE(leftovers().empty());
}

// --- missing things and faults ---------------------------------------------------------------

TEST_F(S3, AMissingBucketOrKeyIsAClearError) {
  const EnvGuard environment = s3_environment(endpoint_);
  MlflowClient client(fast_options());
  std::string message = resolve_error(client, "s3://no-such-bucket/models/m");
  EXPECT_TRUE(contains(message, "HTTP 404 NoSuchBucket: 'The specified bucket does not exist'")) << message;
  EXPECT_TRUE(contains(message, "aws s3 ls s3://no-such-bucket/models/m/ --endpoint-url " + endpoint_)) << message;

  message = resolve_error(client, "s3://inferloop-models/no/such/model");
  EXPECT_TRUE(contains(message, "GET " + endpoint_ + "/inferloop-models/no/such/model failed: HTTP 404 NoSuchKey"))
      << message;
  EXPECT_TRUE(contains(message, "nothing is listed under s3://inferloop-models/no/such/model/ and there is no "
                                "object s3://inferloop-models/no/such/model either")) << message;
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(S3, AKeyThatWouldLeaveTheFolderIsRefusedBeforeAnythingIsWritten) {
  const EnvGuard environment = s3_environment(endpoint_);
  MlflowClient client(fast_options());
  const std::string uri = fixture_.at("escape_uri");
  const std::string message = resolve_error(client, uri);
  EXPECT_TRUE(contains(message, "path-escaping listing")) << message;
  EXPECT_TRUE(contains(message, "names the entry '..', which is a relative folder reference")) << message;
  EXPECT_TRUE(contains(message, "(the key is 'files/escape/../../evil')")) << message;
  EXPECT_TRUE(std::none_of(log_.begin(), log_.end(), [](const std::string& line) { return contains(line, "evil -> "); }))
      << "the key was downloaded";
  EXPECT_TRUE(leftovers().empty());
  // Followed naively, cache/tmp-*/../../evil would be scratch/evil.
  const std::vector<std::string> written = tree(scratch_);
  EXPECT_TRUE(std::none_of(written.begin(), written.end(), [](const std::string& path) { return contains(path, "evil"); }));
}

TEST_F(S3, ATruncatedObjectIsRefusedAndLeavesNothing) {
  FaultProxy proxy("truncate");
  const EnvGuard environment = s3_environment(proxy.url);
  MlflowClient client(fast_options());
  const std::string message = resolve_error(client, "models:/inferloop-s3/1");
  const std::string model_file = fixture_.at("models").at("1").at("model_file");
  EXPECT_TRUE(contains(message, "truncated artifact")) << message;
  EXPECT_TRUE(contains(message, model_file)) << message;
  EXPECT_GE(proxy.counters().value("truncated", 0), 1);
  EXPECT_TRUE(leftovers().empty());
  expect_no_secret(message);
}

TEST_F(S3, AStoreThatNeverAnswersTimesOut) {
  FaultProxy proxy("hang");
  const EnvGuard environment = s3_environment(proxy.url);
  MlflowOptions options = fast_options();
  options.max_retries = 1;
  options.request_timeout = 1s;
  MlflowClient client(options);
  const auto started = std::chrono::steady_clock::now();
  const std::string message = resolve_error(client, model_uri("1"));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(contains(message, "no answer (Timeout was reached")) << message;
  EXPECT_TRUE(contains(message, "(2 attempts, the last retry included)")) << message;
  EXPECT_LT(took, 30s);
  EXPECT_GE(proxy.counters().value("requests", 0), 2);
}

TEST_F(S3, AnObjectLargerThanMaxArtifactBytesIsRefusedBeforeDownload) {
  const EnvGuard environment = s3_environment(endpoint_);
  MlflowOptions options = fast_options();
  options.max_artifact_bytes = 2000;  // above every file of the folder but the model
  MlflowClient client(options);
  const std::string message = resolve_error(client, model_uri("1"));
  const std::string model_file = fixture_.at("models").at("1").at("model_file");
  EXPECT_TRUE(contains(message, model_file + "' is ")) << message;
  EXPECT_TRUE(contains(message, "more than max_artifact_bytes (2000 bytes); nothing was downloaded")) << message;
  EXPECT_TRUE(std::none_of(log_.begin(), log_.end(),
                           [&](const std::string& line) { return contains(line, "/" + model_file + " -> "); }))
      << "the object was downloaded anyway";
  EXPECT_TRUE(leftovers().empty());
}

}  // namespace
}  // namespace inferloop
