// MlflowClient against a real `mlflow server` on loopback (started by the
// ctest fixture inferloop_mlflow_server, tests/python/mlflow_fixtures.py,
// which registered two XGBoost models through MLflow's own Python client) and
// against fault servers on real sockets in front of it.
//
// What is proved:
//   - every model URI form MLflow's Python client accepts (the fixture's
//     state.json lists them) resolves, and ForestPredictor on the downloaded
//     model predicts exactly what xgboost predicted in Python, bit for bit,
//     NaN features included; registry forms carry the registry name/version;
//   - a version resolved once is served from the cache: no second download,
//     and with use_cache_when_offline it resolves with the server killed
//     (without it, the failure says why);
//   - failures are clear: nothing listening, unknown model/version/alias
//     (MLflow's error_code and message), 429 + Retry-After (honoured),
//     a truncated download, a listing entry escaping the folder, a server
//     that never answers, a file larger than max_artifact_bytes; and a failed
//     download leaves nothing behind;
//   - credentials reach a server that demands them (fault server "auth"):
//     a bearer token and Basic auth, from MlflowOptions and from MLflow's
//     environment variables, for the REST calls and the artifact downloads;
//     wrong or missing credentials are a clear 401 error; no secret appears
//     in a resolution line, a log line or a message;
//   - TLS (fault server "tls", HTTPS with a self-signed certificate): it
//     verifies against server_cert_path, downloads through https, fails
//     clearly without the certificate, resolves with insecure_tls, and
//     refuses insecure_tls together with a CA bundle;
//   - current_version() follows an alias when it moves;
//   - an InferenceLoop configured with models:/name@alias serves like xgboost.
//
// Every test uses a fresh cache under INFERLOOP_MLFLOW_SCRATCH and small retry
// settings. The tests share one server: ctest runs them one at a time
// (RESOURCE_LOCK), and the ones that kill it restart it before they return.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <typeinfo>
#include <utility>
#include <vector>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"
#include "mlflow_test_support.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace mlflow_test;

const std::string kModel = "inferloop-test";

// Starts (or restarts) the fault server for `mode`; returns its URL. Stops it
// when it goes out of scope.
struct FaultServer {
  explicit FaultServer(std::string mode_name) : mode(std::move(mode_name)) {
    url = json::parse(run_fixture("fault --mode " + mode)).at("url");
  }
  ~FaultServer() { std::system(fixture_command("fault-stop --mode " + mode).c_str()); }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;
  // What it did so far (requests, answered_429, model_downloads, ...).
  json counters() const {
    std::ifstream in(state().at("faults").at(mode).at("counters").get<std::string>());
    return in ? json::parse(in) : json::object();
  }
  std::string mode;
  std::string url;
};

std::vector<std::uint32_t> expected_bits(const std::string& version) {
  return state().at("models").at(version).at("expected_bits").get<std::vector<std::uint32_t>>();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool contains_nocase(std::string text, std::string part) {
  for (auto* s : {&text, &part}) {
    std::transform(s->begin(), s->end(), s->begin(), [](unsigned char c) { return std::tolower(c); });
  }
  return contains(text, part);
}

// Printed for the reader of the test log: how a resolve went.
void show_resolution(const ResolvedModel& model) {
  for (const auto& line : model.resolution) std::printf("[ resolved ] %s\n", line.c_str());
}

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += "\n    " + line;
  return text;
}

class Mlflow : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = mlflow_test::fresh_scratch_folder();
    cache_ = scratch_ / "cache";
  }

  // Small retries and timeouts: a failing case fails in seconds.
  MlflowOptions fast_options(const std::string& tracking) {
    MlflowOptions options;
    options.tracking_uri = tracking;
    options.cache_dir = cache_;
    options.max_retries = 2;
    options.backoff_factor = 0.05;
    options.backoff_jitter = 0.05;
    options.connect_timeout = 2s;
    options.request_timeout = 5s;
    options.log = [this](const std::string& line) { log_.push_back(line); };
    return options;
  }

  // Resolves `uri`, expecting inferloop::Error; returns its message.
  std::string resolve_error(MlflowClient& client, const std::string& uri) {
    try {
      const ResolvedModel model = client.resolve(uri);
      ADD_FAILURE() << uri << " resolved (to " << model.model_file << ") but should have failed";
    } catch (const Error& error) {
      // Printed: what a user would read is part of what these tests review.
      std::printf("[ message  ] %s\n", error.what());
      return error.what();
    } catch (const std::exception& error) {
      ADD_FAILURE() << uri << " threw a " << typeid(error).name()
                    << ", not inferloop::Error: " << error.what();
      return error.what();
    }
    return "";
  }

  // Model files and half-written folders under the scratch folder.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> found;
    for (const auto& path : tree(scratch_)) {
      const std::string name = fs::path(path).filename().string();
      if (name == "MLmodel" || name.starts_with("model.") || contains_nocase(path, "tmp") ||
          contains_nocase(path, "partial") || contains_nocase(path, "evil")) {
        found.push_back(path);
      }
    }
    return found;
  }

  fs::path scratch_;
  fs::path cache_;
  std::vector<std::string> log_;
};

// --- every URI form ------------------------------------------------------------

TEST_F(Mlflow, EveryUriFormResolvesAndPredictsLikeXGBoost) {
  const json fixture = state();
  ASSERT_GE(fixture.at("cases").size(), 13u);
  MlflowClient client(fast_options(fixture.at("tracking_uri")));
  fs::path version_one_folder;
  for (const json& test_case : fixture.at("cases")) {
    const std::string uri = test_case.at("uri");
    const std::string version = std::to_string(test_case.at("expect_model").get<int>());
    const json& model_entry = fixture.at("models").at(version);
    SCOPED_TRACE(uri + " (expects model " + version + ")");
    log_.clear();
    if (model_entry.at("corrupt").get<bool>()) {
      // `register --corrupt` moved latest to a corrupt version.
      EXPECT_THROW(forest_predictions(client.resolve(uri)), Error);
      continue;
    }
    ResolvedModel model;
    try {
      model = client.resolve(uri);
    } catch (const std::exception& error) {
      ADD_FAILURE() << uri << " did not resolve: " << error.what() << "\n  log:" << join(log_);
      continue;
    }
    EXPECT_EQ(model.uri, uri);
    EXPECT_TRUE(fs::is_regular_file(model.model_file)) << model.model_file;
    EXPECT_EQ(model.format, ModelFormat::kUbjson);
    EXPECT_FALSE(model.cache_path.empty());
    EXPECT_TRUE(contains(fs::weakly_canonical(model.model_file).string(),
                         fs::weakly_canonical(cache_).string()))
        << model.model_file << " is not in the cache " << cache_;
    EXPECT_FALSE(model.from_cache);
    EXPECT_FALSE(model.artifact_uri.empty());
    EXPECT_FALSE(model.resolution.empty());
    EXPECT_TRUE(model.mlmodel_file.has_value());
    ASSERT_EQ(model.signature_inputs.size(), 5u);
    EXPECT_EQ(model.signature_inputs[0].name, "f0");
    EXPECT_EQ(model.registry_name, test_case.at("registry_name").get<std::string>());
    EXPECT_EQ(model.registry_version, test_case.at("registry_version").get<std::string>());
    if (!test_case.at("registry_version").get<std::string>().empty()) {
      EXPECT_EQ(model.artifact_uri, model_entry.at("artifact_uri").get<std::string>());
    }
    EXPECT_EQ(first_difference(forest_predictions(model), expected_bits(version)), "")
        << "ForestPredictor on " << model.model_file << " differs from xgboost";
    // One logged model, reached by seven URIs: one content folder in the cache.
    if (version == "1" && !contains(uri, "plain_model")) {
      if (version_one_folder.empty()) version_one_folder = model.cache_path;
      EXPECT_EQ(model.cache_path, version_one_folder);
    }
  }
}

// --- the cache -------------------------------------------------------------------

// Kills the server; restarts it when it goes out of scope, whatever happens.
struct KilledServer {
  KilledServer() { run_fixture("kill"); }
  ~KilledServer() {
    try {
      run_fixture("restart");
    } catch (const std::exception& error) {
      ADD_FAILURE() << "the MLflow server did not come back: " << error.what();
    }
  }
  KilledServer(const KilledServer&) = delete;
  KilledServer& operator=(const KilledServer&) = delete;
};

TEST_F(Mlflow, SecondResolveIsACacheHitAndServesOfflineWhenAllowed) {
  const std::string uri = "models:/" + kModel + "/1";
  const std::string tracking = tracking_uri();
  MlflowOptions options = fast_options(tracking);
  options.use_cache_when_offline = true;
  fs::path model_file;
  fs::file_time_type written;
  {
    MlflowClient client(options);
    const ResolvedModel first = client.resolve(uri);
    model_file = first.model_file;
    written = fs::last_write_time(model_file);
    log_.clear();
    const ResolvedModel second = client.resolve(uri);
    show_resolution(second);
    EXPECT_EQ(second.cache_path, first.cache_path);
    EXPECT_EQ(second.model_file, first.model_file);
    EXPECT_EQ(fs::last_write_time(second.model_file), written) << "the model was written again";
    for (const auto& line : second.resolution) {
      // Neither a listing nor a download through the artifact proxy.
      EXPECT_FALSE(contains(line, "mlflow-artifacts/artifacts"))
          << "second resolve of " << uri << " went to the artifact proxy: " << line
          << "\n  resolution:" << join(second.resolution);
    }
    EXPECT_EQ(first_difference(forest_predictions(second), expected_bits("1")), "");
  }

  KilledServer killed;
  {
    // A new client (a new process, as far as the cache knows).
    log_.clear();
    MlflowClient client(options);
    const auto began = Clock::now();
    ResolvedModel offline;
    try {
      offline = client.resolve(uri);
    } catch (const std::exception& error) {
      FAIL() << uri << " with the server down and use_cache_when_offline: " << error.what()
             << "\n  log:" << join(log_);
    }
    EXPECT_LT(Clock::now() - began, 20s);
    show_resolution(offline);
    EXPECT_TRUE(offline.from_cache);
    EXPECT_EQ(offline.model_file, model_file);
    EXPECT_EQ(offline.registry_version, "1");
    EXPECT_EQ(first_difference(forest_predictions(offline), expected_bits("1")), "");
    // A moving reference cannot be answered from the cache.
    const std::string alias = "models:/" + kModel + "@champion";
    const std::string message = resolve_error(client, alias);
    EXPECT_TRUE(contains(message, alias)) << message;
  }
  {
    MlflowOptions strict = fast_options(tracking);
    strict.use_cache_when_offline = false;
    MlflowClient client(strict);
    const std::string message = resolve_error(client, uri);
    EXPECT_TRUE(contains(message, uri)) << message;
    EXPECT_TRUE(contains(message, tracking.substr(std::string("http://").size()))) << message;
  }
}

// --- errors ----------------------------------------------------------------------

TEST_F(Mlflow, NoServerIsAClearErrorAfterBoundedRetries) {
  const int port = unused_port();
  const std::string host = "127.0.0.1:" + std::to_string(port);
  MlflowClient client(fast_options("http://" + host));
  const std::string uri = "models:/" + kModel + "/1";
  const auto began = Clock::now();
  const std::string message = resolve_error(client, uri);
  const auto took = Clock::now() - began;
  EXPECT_LT(took, 10s) << "2 retries at 0.05 s backoff";
  EXPECT_TRUE(contains(message, uri)) << message;
  EXPECT_TRUE(contains(message, host)) << message;
  EXPECT_TRUE(contains(message, "/api/2.0/mlflow/")) << "the endpoint: " << message;
  const auto retries = std::count_if(log_.begin(), log_.end(), [](const std::string& line) {
    return contains_nocase(line, "retry");
  });
  EXPECT_EQ(retries, 2) << "max_retries is 2; log:" << join(log_);
  EXPECT_TRUE(leftovers().empty()) << join(leftovers());
}

TEST_F(Mlflow, UnknownModelVersionAndAliasSurfaceMlflowsError) {
  MlflowClient client(fast_options(tracking_uri()));
  struct Case {
    std::string uri, error_code, message;
  };
  for (const Case& c : {Case{"models:/no-such-model/1", "RESOURCE_DOES_NOT_EXIST", "no-such-model"},
                        Case{"models:/" + kModel + "/99", "RESOURCE_DOES_NOT_EXIST",
                             "Model Version (name=" + kModel + ", version=99) not found"},
                        Case{"models:/" + kModel + "@nope", "INVALID_PARAMETER_VALUE",
                             "Registered model alias nope not found"},
                        Case{"models:/no-such-model@champion", "RESOURCE_DOES_NOT_EXIST",
                             "no-such-model"}}) {
    SCOPED_TRACE(c.uri);
    const auto began = Clock::now();
    const std::string message = resolve_error(client, c.uri);
    EXPECT_LT(Clock::now() - began, 5s) << "a 4xx is not retried";
    EXPECT_TRUE(contains(message, c.uri)) << message;
    EXPECT_TRUE(contains(message, c.error_code)) << message;
    EXPECT_TRUE(contains(message, c.message)) << message;
    // current_version() asks the server only for moving references.
    if (contains(c.uri, "@")) {
      try {
        (void)client.current_version(c.uri);
        ADD_FAILURE() << "current_version(" << c.uri << ") did not throw";
      } catch (const Error& error) {
        EXPECT_TRUE(contains(error.what(), c.error_code)) << error.what();
      }
    }
  }
  EXPECT_TRUE(leftovers().empty()) << join(leftovers());
}

// --- fault servers ------------------------------------------------------------------

TEST_F(Mlflow, RetryAfterIsHonouredAndTheResolveSucceeds) {
  FaultServer fault("retry-after");
  MlflowClient client(fast_options(fault.url));
  const auto began = Clock::now();
  ResolvedModel model;
  try {
    model = client.resolve("models:/" + kModel + "/1");
  } catch (const std::exception& error) {
    FAIL() << error.what() << "\n  log:" << join(log_);
  }
  const auto took = Clock::now() - began;
  show_resolution(model);
  EXPECT_GE(took, 1900ms) << "two 429s with Retry-After: 1";
  EXPECT_LT(took, 20s);
  EXPECT_EQ(fault.counters().value("answered_429", -1), 2);
  const bool mentioned = std::any_of(model.resolution.begin(), model.resolution.end(),
                                     [](const std::string& line) {
                                       return contains_nocase(line, "retry") || contains(line, "429");
                                     });
  EXPECT_TRUE(mentioned) << "resolution:" << join(model.resolution);
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("1")), "");
}

TEST_F(Mlflow, TruncatedDownloadIsRefusedAndLeavesNothing) {
  FaultServer fault("truncate");
  const json version_one = state().at("models").at("1");
  const std::string model_file = version_one.at("model_file");
  const std::uint64_t size = version_one.at("model_file_size");
  MlflowClient client(fast_options(fault.url));
  const std::string message = resolve_error(client, "models:/" + kModel + "/1");
  EXPECT_GE(fault.counters().value("truncated", 0), 1) << "the fault server served no model file";
  EXPECT_TRUE(contains(message, model_file)) << message;
  EXPECT_TRUE(contains(message, std::to_string(size))) << "expected size " << size << ": " << message;
  EXPECT_TRUE(contains(message, std::to_string(size / 2))) << "got " << size / 2 << ": " << message;
  EXPECT_TRUE(leftovers().empty()) << "left behind:" << join(leftovers());
}

TEST_F(Mlflow, ListingEntryEscapingTheFolderIsRefused) {
  FaultServer fault("escape");
  // The cache one level down, so that "../../evil" from a folder in it lands
  // in the scratch folder, where it is looked for.
  cache_ = scratch_ / "a" / "cache";
  MlflowClient client(fast_options(fault.url));
  const std::string message = resolve_error(client, "models:/" + kModel + "/1");
  EXPECT_TRUE(contains(message, "../../evil")) << message;
  EXPECT_EQ(fault.counters().value("evil_downloads", -1), 0);
  EXPECT_TRUE(leftovers().empty()) << "left behind:" << join(leftovers());
  for (fs::path folder = cache_; folder != folder.parent_path() && folder != scratch_.parent_path();
       folder = folder.parent_path()) {
    EXPECT_FALSE(fs::exists(folder / "evil")) << folder / "evil";
  }
  EXPECT_FALSE(fs::exists(fs::path(kWork) / "evil"));
}

TEST_F(Mlflow, HangingServerTimesOut) {
  FaultServer fault("hang");
  MlflowOptions options = fast_options(fault.url);
  options.request_timeout = 1500ms;
  MlflowClient client(options);
  const std::string uri = "models:/" + kModel + "/1";
  const auto began = Clock::now();
  const std::string message = resolve_error(client, uri);
  const auto took = Clock::now() - began;
  // Asserted by what happened, not by how long it took on this machine: the
  // server saw exactly the three attempts (max_retries 2), each of which
  // waited for its whole timeout. A client without a timeout never returns
  // and fails this test at its ctest TIMEOUT instead.
  EXPECT_EQ(fault.counters().value("requests", -1), 3) << message;
  EXPECT_GE(took, 1500ms * 3) << message;
  EXPECT_TRUE(contains_nocase(message, "timeout") || contains_nocase(message, "timed out")) << message;
  EXPECT_TRUE(contains(message, uri)) << message;
}

TEST_F(Mlflow, OversizeArtifactIsRefusedBeforeDownload) {
  FaultServer fault("oversize");
  MlflowClient client(fast_options(fault.url));
  const std::string message = resolve_error(client, "models:/" + kModel + "/1");
  EXPECT_TRUE(contains(message, "max_artifact_bytes")) << message;
  EXPECT_TRUE(contains(message, state().at("models").at("1").at("model_file").get<std::string>()))
      << message;
  EXPECT_EQ(fault.counters().value("model_downloads", -1), 0) << "it was downloaded anyway";
  EXPECT_TRUE(leftovers().empty()) << "left behind:" << join(leftovers());
}

// --- credentials and TLS ----------------------------------------------------------------

// The auth fault server's credentials (state.json faults.auth).
struct Credentials {
  std::string token, username, password;
};

Credentials auth_credentials() {
  const json entry = state().at("faults").at("auth");
  return {entry.at("token"), entry.at("username"), entry.at("password")};
}

// Every secret (and every wrong secret a test sent) that must never be printed.
// The username is not a secret (and "alice" is too common to look for).
std::vector<std::string> secrets_of(const Credentials& credentials) {
  return {credentials.token, credentials.password, "SECRET", "tok-WRONG-9999", "pw-WRONG-2323"};
}

// "" when no line holds a secret or an Authorization header, else the first
// offending line (with the secret masked, so the test log stays clean).
std::string leaked(const std::vector<std::string>& lines, const std::vector<std::string>& secrets) {
  for (const auto& line : lines) {
    if (contains_nocase(line, "authorization:") || contains_nocase(line, "bearer ")) return line;
    for (const auto& secret : secrets) {
      if (!secret.empty() && contains(line, secret)) {
        return "a secret (" + std::to_string(secret.size()) + " characters) in: " +
               line.substr(0, line.find(secret)) + "<...>";
      }
    }
  }
  return "";
}

// The counters file's auth_schemes entry for `scheme` (0 when absent).
int scheme_count(const json& counters, const std::string& scheme) {
  if (!counters.contains("auth_schemes")) return 0;
  return counters.at("auth_schemes").value(scheme, 0);
}

TEST_F(Mlflow, AuthBearerTokenFromOptionsResolvesAndPredicts) {
  FaultServer fault("auth");
  const Credentials credentials = auth_credentials();
  MlflowOptions options = fast_options(fault.url);
  options.token = credentials.token;
  MlflowClient client(options);
  ResolvedModel model;
  try {
    model = client.resolve("models:/" + kModel + "/1");
  } catch (const std::exception& error) {
    FAIL() << error.what() << "\n  log:" << join(log_);
  }
  show_resolution(model);
  EXPECT_EQ(model.registry_version, "1");
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("1")), "");
  const json counters = fault.counters();
  EXPECT_GE(counters.value("model_downloads", 0), 1) << "the download did not go through the proxy";
  EXPECT_EQ(counters.value("answered_401", -1), 0) << counters.dump();
  EXPECT_EQ(scheme_count(counters, "Bearer"), counters.value("requests", -1))
      << "every request (REST calls and downloads) carries the token: " << counters.dump();
  EXPECT_EQ(leaked(model.resolution, secrets_of(credentials)), "");
  EXPECT_EQ(leaked(log_, secrets_of(credentials)), "");
}

TEST_F(Mlflow, AuthBasicFromOptionsResolvesAndPredicts) {
  FaultServer fault("auth");
  const Credentials credentials = auth_credentials();
  MlflowOptions options = fast_options(fault.url);
  options.username = credentials.username;
  options.password = credentials.password;
  MlflowClient client(options);
  ResolvedModel model;
  try {
    model = client.resolve("models:/" + kModel + "@champion");
  } catch (const std::exception& error) {
    FAIL() << error.what() << "\n  log:" << join(log_);
  }
  show_resolution(model);
  EXPECT_EQ(model.registry_version, "1");
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("1")), "");
  const json counters = fault.counters();
  EXPECT_GE(counters.value("model_downloads", 0), 1);
  EXPECT_EQ(counters.value("answered_401", -1), 0) << counters.dump();
  EXPECT_EQ(scheme_count(counters, "Basic"), counters.value("requests", -1)) << counters.dump();
  EXPECT_EQ(leaked(model.resolution, secrets_of(credentials)), "");
  EXPECT_EQ(leaked(log_, secrets_of(credentials)), "");
}

TEST_F(Mlflow, AuthFromEnvironmentVariables) {
  FaultServer fault("auth");
  const Credentials credentials = auth_credentials();
  {
    EnvGuard env({{"MLFLOW_TRACKING_TOKEN", credentials.token}});
    // Nothing but the tracking URI (and this test's cache) in the options.
    MlflowOptions options = fast_options(fault.url);
    options.cache_dir = cache_ / "token";
    MlflowClient client(options);
    EXPECT_TRUE(client.options().username.empty());
    ResolvedModel model;
    try {
      model = client.resolve("models:/" + kModel + "/1");
    } catch (const std::exception& error) {
      FAIL() << "MLFLOW_TRACKING_TOKEN: " << error.what() << "\n  log:" << join(log_);
    }
    show_resolution(model);
    EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("1")), "");
    EXPECT_EQ(leaked(model.resolution, secrets_of(credentials)), "");
  }
  EXPECT_EQ(std::getenv("MLFLOW_TRACKING_TOKEN"), nullptr) << "the guard did not unset it";
  const json after_token = fault.counters();
  EXPECT_EQ(after_token.value("answered_401", -1), 0) << after_token.dump();
  EXPECT_GE(scheme_count(after_token, "Bearer"), 1) << after_token.dump();
  {
    EnvGuard env({{"MLFLOW_TRACKING_USERNAME", credentials.username},
                  {"MLFLOW_TRACKING_PASSWORD", credentials.password}});
    MlflowOptions options = fast_options(fault.url);
    options.cache_dir = cache_ / "basic";
    MlflowClient client(options);
    ResolvedModel model;
    try {
      model = client.resolve("models:/" + kModel + "/2");
    } catch (const std::exception& error) {
      FAIL() << "MLFLOW_TRACKING_USERNAME/PASSWORD: " << error.what() << "\n  log:" << join(log_);
    }
    show_resolution(model);
    EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("2")), "");
    EXPECT_EQ(leaked(model.resolution, secrets_of(credentials)), "");
  }
  EXPECT_EQ(std::getenv("MLFLOW_TRACKING_USERNAME"), nullptr);
  EXPECT_EQ(std::getenv("MLFLOW_TRACKING_PASSWORD"), nullptr);
  const json after_basic = fault.counters();
  EXPECT_EQ(after_basic.value("answered_401", -1), 0) << after_basic.dump();
  EXPECT_GE(scheme_count(after_basic, "Basic"), 1) << after_basic.dump();
  EXPECT_EQ(leaked(log_, secrets_of(credentials)), "");
}

TEST_F(Mlflow, AuthWrongOrMissingCredentialsAreAClear401) {
  FaultServer fault("auth");
  const Credentials credentials = auth_credentials();
  const std::string uri = "models:/" + kModel + "/1";
  struct Case {
    std::string what;
    std::function<void(MlflowOptions&)> set;
  };
  const std::vector<Case> cases = {
      {"no credentials", [](MlflowOptions&) {}},
      {"wrong token", [](MlflowOptions& o) { o.token = "tok-WRONG-9999"; }},
      {"wrong password",
       [&](MlflowOptions& o) {
         o.username = credentials.username;
         o.password = "pw-WRONG-2323";
       }},
      // Basic wins over a token (as in MLflow's client): the right token
      // cannot rescue a wrong password, and must not be printed either.
      {"wrong password with the right token",
       [&](MlflowOptions& o) {
         o.token = credentials.token;
         o.username = credentials.username;
         o.password = "pw-WRONG-2323";
       }},
  };
  int failures = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    log_.clear();
    MlflowOptions options = fast_options(fault.url);
    options.cache_dir = cache_ / std::to_string(failures);
    c.set(options);
    MlflowClient client(options);
    const auto began = Clock::now();
    const std::string message = resolve_error(client, uri);
    ++failures;
    EXPECT_LT(Clock::now() - began, 5s) << "a 401 is not retried";
    EXPECT_TRUE(contains(message, uri)) << message;
    EXPECT_TRUE(contains(message, "HTTP 401")) << message;
    EXPECT_TRUE(contains(message, "UNAUTHENTICATED")) << message;
    EXPECT_TRUE(contains(message, "credentials")) << message;
    EXPECT_TRUE(contains(message, "MLFLOW_TRACKING_TOKEN")) << message;
    EXPECT_TRUE(contains(message, "MLFLOW_TRACKING_USERNAME")) << message;
    EXPECT_EQ(leaked({message}, secrets_of(credentials)), "");
    EXPECT_EQ(leaked(log_, secrets_of(credentials)), "");
    EXPECT_FALSE(std::any_of(log_.begin(), log_.end(),
                             [](const std::string& line) { return contains_nocase(line, "retry"); }))
        << "log:" << join(log_);
  }
  const json counters = fault.counters();
  EXPECT_EQ(counters.value("answered_401", -1), failures) << "one request each: " << counters.dump();
  EXPECT_EQ(counters.value("auth_accepted", -1), 0) << counters.dump();
  EXPECT_EQ(scheme_count(counters, "none"), 1) << counters.dump();
  EXPECT_EQ(scheme_count(counters, "Bearer"), 1) << counters.dump();
  EXPECT_EQ(scheme_count(counters, "Basic"), 2) << counters.dump();
  EXPECT_TRUE(leftovers().empty()) << join(leftovers());
}

std::string tls_cert() { return state().at("faults").at("tls").at("cert"); }

// Every REST call and download line went to `https_base`, none over http.
void expect_all_https(const std::vector<std::string>& lines, const std::string& https_base) {
  bool download = false;
  for (const auto& line : lines) {
    EXPECT_FALSE(contains(line, "http://")) << "not through TLS: " << line;
    if (contains(line, https_base + "/api/2.0/mlflow-artifacts/artifacts")) download = true;
  }
  EXPECT_TRUE(download) << "no artifact request to " << https_base << ":" << join(lines);
}

TEST_F(Mlflow, TlsWithTheServerCertificateResolvesOverHttps) {
  FaultServer fault("tls");
  ASSERT_TRUE(fault.url.starts_with("https://127.0.0.1:")) << fault.url;
  MlflowOptions options = fast_options(fault.url);
  options.server_cert_path = tls_cert();
  MlflowClient client(options);
  ResolvedModel model;
  try {
    model = client.resolve("models:/" + kModel + "/1");
  } catch (const std::exception& error) {
    FAIL() << error.what() << "\n  log:" << join(log_);
  }
  show_resolution(model);
  EXPECT_EQ(model.registry_version, "1");
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("1")), "");
  expect_all_https(model.resolution, fault.url);
  const json counters = fault.counters();
  EXPECT_GE(counters.value("model_downloads", 0), 1) << counters.dump();
  EXPECT_EQ(counters.value("tls_handshake_failures", -1), 0) << counters.dump();
}

TEST_F(Mlflow, TlsWithoutTheCertificateIsAClearError) {
  FaultServer fault("tls");
  MlflowClient client(fast_options(fault.url));
  const std::string uri = "models:/" + kModel + "/1";
  const auto began = Clock::now();
  const std::string message = resolve_error(client, uri);
  EXPECT_LT(Clock::now() - began, 5s) << "a certificate that does not verify is not retried";
  EXPECT_TRUE(contains(message, uri)) << message;
  EXPECT_TRUE(contains(message, fault.url.substr(std::string("https://").size()))) << message;
  EXPECT_TRUE(contains_nocase(message, "certificate")) << message;
  EXPECT_TRUE(contains(message, "MLFLOW_TRACKING_SERVER_CERT_PATH")) << message;
  EXPECT_TRUE(contains(message, "MLFLOW_TRACKING_INSECURE_TLS")) << message;
  // The server records the failed handshake in its own thread, possibly
  // after the client has already given up: wait for it (briefly).
  json counters = fault.counters();
  for (const auto until = Clock::now() + 5s;
       counters.value("tls_handshake_failures", 0) < 1 && Clock::now() < until;
       counters = fault.counters()) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(counters.value("tls_handshake_failures", 0), 1) << counters.dump();
  EXPECT_EQ(counters.value("requests", 0), 0) << "a request got through: " << counters.dump();
  EXPECT_TRUE(leftovers().empty()) << join(leftovers());
}

TEST_F(Mlflow, TlsInsecureResolvesWithoutTheCertificate) {
  FaultServer fault("tls");
  MlflowOptions options = fast_options(fault.url);
  options.insecure_tls = 1;
  MlflowClient client(options);
  ResolvedModel model;
  try {
    model = client.resolve("models:/" + kModel + "/1");
  } catch (const std::exception& error) {
    FAIL() << error.what() << "\n  log:" << join(log_);
  }
  show_resolution(model);
  EXPECT_EQ(first_difference(forest_predictions(model), expected_bits("1")), "");
  expect_all_https(model.resolution, fault.url);
}

TEST_F(Mlflow, TlsInsecureAndACaBundleTogetherAreRefused) {
  FaultServer fault("tls");
  const std::string cert = tls_cert();
  {
    MlflowOptions options = fast_options(fault.url);
    options.insecure_tls = 1;
    options.server_cert_path = cert;
    try {
      MlflowClient client(options);
      ADD_FAILURE() << "MlflowClient accepted insecure_tls with server_cert_path";
    } catch (const Error& error) {
      std::printf("[ message  ] %s\n", error.what());
      EXPECT_TRUE(contains(error.what(), "MLFLOW_TRACKING_INSECURE_TLS")) << error.what();
      EXPECT_TRUE(contains(error.what(), "MLFLOW_TRACKING_SERVER_CERT_PATH")) << error.what();
    }
  }
  {
    // The same from the environment: one in the options, one in the environment.
    EnvGuard env({{"MLFLOW_TRACKING_INSECURE_TLS", "true"}});
    MlflowOptions options = fast_options(fault.url);
    options.server_cert_path = cert;
    EXPECT_THROW(MlflowClient client(options), Error);
  }
  EXPECT_EQ(std::getenv("MLFLOW_TRACKING_INSECURE_TLS"), nullptr);
  EXPECT_EQ(fault.counters().value("requests", 0), 0);
}

// --- moving references ---------------------------------------------------------------

TEST_F(Mlflow, CurrentVersionFollowsTheAlias) {
  MlflowClient client(fast_options(tracking_uri()));
  const std::string canary = "models:/" + kModel + "@canary";
  const std::string before = state().at("aliases").at("canary");
  EXPECT_EQ(client.current_version(canary), before);
  EXPECT_EQ(client.current_version("models:/" + kModel + "@champion"), "1");
  EXPECT_EQ(client.current_version("models:/" + kModel + "/1"), "1");
  EXPECT_EQ(client.current_version("models:/" + kModel + "/Production"), "2");
  EXPECT_EQ(client.current_version(state().at("models").at("1").at("artifact_uri")), "");

  const json registered = json::parse(run_fixture("register --seed 11 --alias canary"));
  const std::string moved = registered.at("version");
  EXPECT_NE(moved, before);
  EXPECT_EQ(client.current_version(canary), moved);
  EXPECT_EQ(client.current_version("models:/" + kModel + "/latest"), moved);
  EXPECT_EQ(client.current_version("models:/" + kModel + "@champion"), "1") << "champion moved";

  const ResolvedModel model = client.resolve(canary);
  EXPECT_EQ(model.registry_version, moved);
  EXPECT_EQ(first_difference(forest_predictions(model),
                             registered.at("expected_bits").get<std::vector<std::uint32_t>>()),
            "");
}

// --- end to end ------------------------------------------------------------------------

TEST_F(Mlflow, LoopServesTheChampionLikeXGBoost) {
  InferenceConfig config;
  config.model_uri = "models:/" + kModel + "@champion";
  config.predictor_class_name = "ForestPredictor";
  config.mlflow_tracking_uri = tracking_uri();
  config.model_cache_dir = cache_.string();
  InferenceLoop loop(config);
  loop.start();
  EXPECT_EQ(loop.model_info().model.registry_name, kModel);
  EXPECT_EQ(loop.model_info().model.registry_version, "1");
  EXPECT_EQ(loop.model_info().num_features, 5u);
  EXPECT_TRUE(contains(fs::weakly_canonical(loop.model_info().model.model_file).string(),
                       fs::weakly_canonical(cache_).string()))
      << loop.model_info().model.model_file;

  std::size_t rows = 0;
  const std::vector<float> features = read_features(rows);
  const std::vector<std::uint32_t> want = expected_bits("1");
  ASSERT_EQ(want.size(), rows);
  Prediction result = loop.make_prediction();
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint64_t seq =
        loop.features().publish(std::span<const float>(features).subspan(i * 5, 5), Timestamp{0});
    ASSERT_TRUE(loop.wait_for(seq, 10s, &result)) << "row " << i;
    ASSERT_EQ(result.feature_seq, seq);
    ASSERT_EQ(bits(result.value()), want[i]) << "row " << i << ": loop " << result.value();
  }
  EXPECT_EQ(loop.stats().errors, 0u);
  loop.stop();
}

}  // namespace
}  // namespace inferloop
