// MLflow resolver, without an MLflow server: every model URI form and its
// errors, options from the environment, the rules in src/mlflow/detail.hpp
// (listing entries, backoff, Retry-After, URL redaction), and failures
// against real sockets on loopback: a port nobody listens on, and a one-shot
// HTTP server that answers a canned status (no MLflow behaviour is faked).
// Secrets given as options or environment variables must not appear in any
// message or log line. Label: unit (fast, hermetic).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "mlflow/detail.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Kind = ModelUri::Kind;

constexpr const char* kEnvironment[] = {
    "MLFLOW_TRACKING_URI",          "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",  "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",     "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH", "XDG_CACHE_HOME", "HOME"};

// Each test starts with none of the variables above set and gets the
// process's values back afterwards.
class MlflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kEnvironment) {
      if (const char* value = std::getenv(name)) saved_[name] = value;
      unsetenv(name);
    }
    scratch_ = fs::path(::testing::TempDir()) /
               ("inferloop-mlflow-unit-" + std::to_string(std::random_device{}()));
    fs::create_directories(scratch_);
    setenv("HOME", scratch_.c_str(), 1);
  }
  void TearDown() override {
    for (const char* name : kEnvironment) unsetenv(name);
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }

  // Options for fast failures: one retry, short waits, a cache in scratch.
  MlflowOptions fast_options(const std::string& tracking_uri) const {
    MlflowOptions options;
    options.tracking_uri = tracking_uri;
    options.cache_dir = scratch_ / "cache";
    options.max_retries = 1;
    options.backoff_factor = 0.01;
    options.backoff_jitter = 0;
    options.connect_timeout = std::chrono::milliseconds(500);
    options.request_timeout = std::chrono::seconds(2);
    return options;
  }

  std::map<std::string, std::string> saved_;
  fs::path scratch_;
};

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no inferloop::Error was thrown";
  return {};
}

std::string parse_error(const std::string& uri) {
  return error_of([&] { (void)parse_model_uri(uri); });
}

// A loopback port that nothing listens on: bound, read, closed.
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Answers every connection with the same raw HTTP response, on a real
// loopback socket, and counts the requests it saw.
class CannedServer {
 public:
  explicit CannedServer(std::string response) : response_(std::move(response)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int requests() const { return requests_.load(); }

 private:
  void serve() {
    while (true) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<std::size_t>(got));
      }
      ++requests_;
      (void)::send(client, response_.data(), response_.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::string response_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

std::string http_response(const std::string& status_line, const std::string& headers,
                          const std::string& body) {
  return "HTTP/1.1 " + status_line + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + headers + "\r\n" + body;
}

// --- parse_model_uri ----------------------------------------------------------

TEST(ModelUriTest, RegistryVersionWithAndWithoutArtifactPath) {
  ModelUri uri = parse_model_uri("models:/fraud/3");
  EXPECT_EQ(uri.kind, Kind::kRegistryVersion);
  EXPECT_EQ(uri.uri, "models:/fraud/3");
  EXPECT_EQ(uri.name, "fraud");
  EXPECT_EQ(uri.version, "3");
  EXPECT_EQ(uri.path, "");
  EXPECT_FALSE(uri.moving());
  EXPECT_TRUE(uri.needs_tracking_server());

  uri = parse_model_uri("models:/fraud/12/sub/model.ubj");
  EXPECT_EQ(uri.kind, Kind::kRegistryVersion);
  EXPECT_EQ(uri.version, "12");
  EXPECT_EQ(uri.path, "sub/model.ubj");

  EXPECT_EQ(parse_model_uri("models:///fraud/3/").version, "3");
}

TEST(ModelUriTest, AliasSplitsOnTheLastAt) {
  ModelUri uri = parse_model_uri("models:/fraud@champion");
  EXPECT_EQ(uri.kind, Kind::kRegistryAlias);
  EXPECT_EQ(uri.name, "fraud");
  EXPECT_EQ(uri.alias, "champion");
  EXPECT_TRUE(uri.moving());

  uri = parse_model_uri("models:/team@desk@champion/sub");
  EXPECT_EQ(uri.name, "team@desk");
  EXPECT_EQ(uri.alias, "champion");
  EXPECT_EQ(uri.path, "sub");
}

TEST(ModelUriTest, LatestInAnyCase) {
  for (const char* text : {"models:/fraud/latest", "models:/fraud/LATEST", "models:/fraud/Latest"}) {
    const ModelUri uri = parse_model_uri(text);
    EXPECT_EQ(uri.kind, Kind::kRegistryLatest) << text;
    EXPECT_EQ(uri.name, "fraud");
    EXPECT_TRUE(uri.moving());
  }
  EXPECT_EQ(parse_model_uri("models:/fraud/latest/model").path, "model");
}

TEST(ModelUriTest, StagesCaseInsensitiveAsWritten) {
  for (const char* stage : {"Production", "staging", "ARCHIVED", "None", "none"}) {
    const ModelUri uri = parse_model_uri(std::string("models:/fraud/") + stage + "/sub");
    EXPECT_EQ(uri.kind, Kind::kRegistryStage) << stage;
    EXPECT_EQ(uri.stage, stage);
    EXPECT_EQ(uri.path, "sub");
    EXPECT_TRUE(uri.moving());
  }
  const std::string message = parse_error("models:/fraud/Prod");
  EXPECT_THAT(message, HasSubstr("model_uri 'models:/fraud/Prod': 'Prod' after the model name is "
                                 "neither a version (digits), 'latest', nor a stage"));
  EXPECT_THAT(message, HasSubstr("models:/<name>@<alias>"));
  EXPECT_THAT(message, HasSubstr("runs:/<run_id>/<path>"));
}

TEST(ModelUriTest, LoggedModelId) {
  const ModelUri uri = parse_model_uri("models:/m-0123456789abcdef0123456789abcdef");
  EXPECT_EQ(uri.kind, Kind::kLoggedModel);
  EXPECT_EQ(uri.model_id, "m-0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(uri.moving());
  EXPECT_TRUE(uri.needs_tracking_server());
}

TEST(ModelUriTest, Runs) {
  ModelUri uri = parse_model_uri("runs:/0a1b2c/model");
  EXPECT_EQ(uri.kind, Kind::kRun);
  EXPECT_EQ(uri.run_id, "0a1b2c");
  EXPECT_EQ(uri.path, "model");
  uri = parse_model_uri("runs:/0a1b2c/model/sub/");
  EXPECT_EQ(uri.path, "model/sub");
  EXPECT_FALSE(uri.moving());
}

TEST(ModelUriTest, MlflowArtifacts) {
  ModelUri uri = parse_model_uri("mlflow-artifacts:/1/abc/artifacts/model");
  EXPECT_EQ(uri.kind, Kind::kArtifacts);
  EXPECT_EQ(uri.host, "");
  EXPECT_EQ(uri.path, "1/abc/artifacts/model");
  EXPECT_TRUE(uri.needs_tracking_server());

  uri = parse_model_uri("mlflow-artifacts://mlflow.internal:5000/1/models/m-1/artifacts");
  EXPECT_EQ(uri.kind, Kind::kArtifacts);
  EXPECT_EQ(uri.host, "mlflow.internal:5000");
  EXPECT_EQ(uri.path, "1/models/m-1/artifacts");
  EXPECT_FALSE(uri.needs_tracking_server());
}

TEST(ModelUriTest, ArtifactProxyUrl) {
  ModelUri uri = parse_model_uri("http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model");
  EXPECT_EQ(uri.kind, Kind::kHttp);
  EXPECT_EQ(uri.host, "http://h:5000");
  EXPECT_EQ(uri.path, "1/abc/artifacts/model");
  EXPECT_FALSE(uri.needs_tracking_server());

  uri = parse_model_uri("https://h/api/2.0/mlflow-artifacts/artifacts/1/with%20space?x=1");
  EXPECT_EQ(uri.host, "https://h");
  EXPECT_EQ(uri.path, "1/with space");

  EXPECT_THAT(parse_error("https://h/models/fraud.ubj"),
              HasSubstr("an http(s) model URI must be a URL of MLflow's artifact proxy"));
}

TEST(ModelUriTest, LocalForms) {
  ModelUri uri = parse_model_uri("/models/fraud.ubj");
  EXPECT_EQ(uri.kind, Kind::kLocal);
  EXPECT_EQ(uri.local_path, fs::path("/models/fraud.ubj"));
  EXPECT_FALSE(uri.needs_tracking_server());
  uri = parse_model_uri("relative/model");
  EXPECT_EQ(uri.kind, Kind::kLocal);
  uri = parse_model_uri("file:///models/with%20space");
  EXPECT_EQ(uri.kind, Kind::kLocal);
  EXPECT_EQ(uri.local_path, fs::path("/models/with space"));
}

TEST(ModelUriTest, MalformedUrisSayWhatIsWrongAndListTheForms) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "it is empty"},
      {"models:/", "models:/ needs a registered model name or a model id"},
      {"models:", "models: must be followed by '/'"},
      {"models:fraud/3", "models: must be followed by '/'"},
      {"models:/@champion", "the registered model name before '@' is empty"},
      {"models:/fraud@", "the alias after '@' is empty"},
      {"models:/fraud//3", "empty segment"},
      {"models:/fraud/3/../x", "'..' segment"},
      {"models://profile/fraud/3", "Databricks profile"},
      {"runs:/", "runs:/ needs a run id and an artifact path"},
      {"runs:/0a1b2c", "has no artifact path after the run id"},
      {"runs:/0a1b2c/", "has no artifact path after the run id"},
      {"mlflow-artifacts:/", "mlflow-artifacts: needs an artifact path"},
      {"mlflow-artifacts://host:5000/", "mlflow-artifacts: needs an artifact path"},
      {"hdfs://namenode/model", "scheme 'hdfs:' is not one inferloop resolves"},
      {"s3://bucket", "names a whole bucket; add the key of the model folder or file"},
      {"s3://bucket/", "names a whole bucket"},
      {"s3:bucket/model", "s3: must be followed by //<bucket>/<key>"},
      {"s3://Bucket/model", "'Bucket' is not an S3 bucket name"},
      {"s3://b/model", "'b' is not an S3 bucket name"},
      {"s3://bucket/a//b", "empty segment"},
      {"s3://bucket/a/../b", "'..' segment"},
      {"s3://bucket/model?versionId=3", "an s3:// URI has no query or fragment"},
  };
  for (const auto& [uri, problem] : cases) {
    const std::string message = parse_error(uri);
    EXPECT_THAT(message, HasSubstr("model_uri '" + uri + "': ")) << uri;
    EXPECT_THAT(message, HasSubstr(problem)) << uri;
    EXPECT_THAT(message, HasSubstr("the model URI forms are models:/<name>/<version>")) << uri;
  }
}

TEST(ModelUriTest, LongUrisAreRefusedAndQuotedBounded) {
  const std::string huge = "models:/" + std::string(100'000, 'n') + "/3";
  std::string message = parse_error(huge);
  EXPECT_THAT(message, HasSubstr("model_uri 'models:/nnnn"));
  EXPECT_THAT(message, HasSubstr("...' (100010 bytes): it is longer than the 4096 bytes a model "
                                 "URI may be"));
  EXPECT_LT(message.size(), 1000u);
  // At the limit, the URI is taken apart; every part a message shows is bounded.
  const std::string name(4000, 'n');
  EXPECT_EQ(parse_model_uri("models:/" + name + "/3").name, name);
  for (const std::string& uri :
       {"models:/" + name + "/" + std::string(80, 's'), "runs:/" + std::string(4000, 'r'),
        std::string(4000, 's') + "://x", "models:/a/" + std::string(4000, '.') + "/.."}) {
    message = parse_error(uri);
    EXPECT_LT(message.size(), 1000u) << message;
  }
  // The same bound for file:// URIs, which take the same path.
  EXPECT_THAT(parse_error("file:///" + std::string(5000, 'f')),
              HasSubstr("it is longer than the 4096 bytes a model URI may be"));
}

TEST(ModelUriTest, NulBytesCannotShortenAPath) {
  // A NUL in the URI itself, or percent-encoded in a file:// path or an
  // artifact-proxy path: each would open or fetch a shorter path than shown.
  EXPECT_THAT(parse_error(std::string("/models/a.json\0.evil", 21)),
              HasSubstr("it holds a NUL byte (at byte 14), which would cut the path short"));
  EXPECT_THAT(parse_error(std::string("models:/fraud\0x/3", 18)), HasSubstr("NUL byte (at byte 13)"));
  EXPECT_THAT(parse_error("file:///models/a.json%00.evil"),
              HasSubstr("model_uri 'file:///models/a.json%00.evil': the path holds %00 (a NUL "
                        "byte), which would cut it short; remove it"));
  EXPECT_THAT(parse_error("http://h/api/2.0/mlflow-artifacts/artifacts/1/a%00b"),
              HasSubstr("the path holds %00"));
  // resolve_model() reads file:// URIs without parse_model_uri: the same
  // refusal there (found by the model_uri fuzzer).
  EXPECT_THAT(error_of([] {
                (void)detail::file_uri_to_path(std::string("file:///models/a.json\0.evil", 28));
              }),
              HasSubstr("it holds a NUL byte, which would cut the path short"));
  // Encoded dot segments are decoded before the segment check.
  EXPECT_THAT(parse_error("http://h/api/2.0/mlflow-artifacts/artifacts/1/%2e%2e/%2E%2E/etc"),
              HasSubstr("the path has a '..' segment"));
  EXPECT_THAT(parse_error("http://h/api/2.0/mlflow-artifacts/artifacts/1%2F..%2Fx"),
              HasSubstr("the path has a '..' segment"));
  // Bad escapes are named, bounded.
  EXPECT_THAT(parse_error("file:///a%4"), HasSubstr("bad percent-escape '%4' in the path"));
  EXPECT_THAT(parse_error("file:///a%zz" + std::string(3000, 'x')),
              AllOf(HasSubstr("bad percent-escape '%zz'"), HasSubstr("(3012 bytes)")));
}

// --- options ------------------------------------------------------------------

TEST_F(MlflowTest, DefaultsWhenNothingIsSet) {
  const MlflowOptions options = MlflowOptions{}.from_environment();
  EXPECT_EQ(options.tracking_uri, "");
  EXPECT_EQ(options.cache_dir, scratch_ / ".cache" / "inferloop");
  EXPECT_EQ(options.max_retries, 7);
  EXPECT_EQ(options.backoff_factor, 2);
  EXPECT_EQ(options.backoff_jitter, 1);
  EXPECT_EQ(options.request_timeout, std::chrono::seconds(120));
  EXPECT_EQ(options.insecure_tls, 0);
  EXPECT_EQ(options.token, "");
  EXPECT_EQ(options.username, "");
}

TEST_F(MlflowTest, EnvironmentFillsUnsetMembersOnly) {
  setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000/", 1);
  setenv("XDG_CACHE_HOME", (scratch_ / "xdg").c_str(), 1);
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3", 1);
  setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.5", 1);
  setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0", 1);
  setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30", 1);
  setenv("MLFLOW_TRACKING_TOKEN", "token-value", 1);
  setenv("MLFLOW_TRACKING_USERNAME", "alice", 1);
  setenv("MLFLOW_TRACKING_PASSWORD", "pw", 1);
  setenv("MLFLOW_TRACKING_INSECURE_TLS", "TRUE", 1);
  setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", "/etc/client.pem", 1);
  MlflowOptions options = MlflowOptions{}.from_environment();
  EXPECT_EQ(options.tracking_uri, "http://mlflow.internal:5000");
  EXPECT_EQ(options.cache_dir, scratch_ / "xdg" / "inferloop");
  EXPECT_EQ(options.max_retries, 3);
  EXPECT_EQ(options.backoff_factor, 0.5);
  EXPECT_EQ(options.backoff_jitter, 0);
  EXPECT_EQ(options.request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(options.token, "token-value");
  EXPECT_EQ(options.username, "alice");
  EXPECT_EQ(options.password, "pw");
  EXPECT_EQ(options.insecure_tls, 1);
  EXPECT_EQ(options.client_cert_path, "/etc/client.pem");

  MlflowOptions explicit_options;
  explicit_options.tracking_uri = "https://other:443";
  explicit_options.max_retries = 0;
  explicit_options.insecure_tls = 0;
  explicit_options.request_timeout = std::chrono::milliseconds(1500);
  options = explicit_options.from_environment();
  EXPECT_EQ(options.tracking_uri, "https://other:443");
  EXPECT_EQ(options.max_retries, 0);
  EXPECT_EQ(options.insecure_tls, 0);
  EXPECT_EQ(options.request_timeout, std::chrono::milliseconds(1500));
}

TEST_F(MlflowTest, UnparsableEnvironmentValuesNameTheVariable) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "seven"},
      {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "-1"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "2s"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "-0.5"},
      {"MLFLOW_HTTP_REQUEST_TIMEOUT", "0"},
      {"MLFLOW_HTTP_REQUEST_TIMEOUT", "abc"},
      {"MLFLOW_TRACKING_INSECURE_TLS", "yes please"},
  };
  for (const auto& [name, value] : cases) {
    setenv(name, value, 1);
    const std::string message = error_of([] { (void)MlflowOptions{}.from_environment(); });
    EXPECT_THAT(message, HasSubstr("environment variable " + std::string(name) + ": expected "))
        << name << "=" << value;
    EXPECT_THAT(message, HasSubstr(std::string("found '") + value + "'; fix or unset it"));
    unsetenv(name);
  }
}

// Every value that is not a timeout a person could mean is refused, naming
// the variable, the range and the value: never rounded to 0 ms or wrapped,
// which libcurl would take as "no timeout at all".
TEST_F(MlflowTest, RequestTimeoutNeverBecomesNoTimeout) {
  const std::string expected =
      "environment variable MLFLOW_HTTP_REQUEST_TIMEOUT: expected a number of seconds from 1ms to "
      "86400s, found ";
  for (const char* value :
       {"0.0001", "1e300", "nan", "-1", "inf", "0", "86400.001", "1e-320", "12s", ""}) {
    setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", value, 1);
    if (*value == '\0') continue;  // empty: the default, below
    EXPECT_EQ(error_of([] { (void)MlflowOptions{}.from_environment(); }),
              expected + "'" + value + "'; fix or unset it");
  }
  EXPECT_EQ(MlflowOptions{}.from_environment().request_timeout, std::chrono::seconds(120));
  // Inside the range: rounded up to whole milliseconds, never down to none.
  const std::vector<std::pair<const char*, std::chrono::milliseconds>> accepted = {
      {"0.001", std::chrono::milliseconds(1)},
      {"0.0015", std::chrono::milliseconds(2)},
      {"120.5", std::chrono::milliseconds(120'500)},
      {"86400", std::chrono::hours(24)},
  };
  for (const auto& [value, timeout] : accepted) {
    setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", value, 1);
    EXPECT_EQ(MlflowOptions{}.from_environment().request_timeout, timeout) << value;
  }
}

TEST_F(MlflowTest, EveryNumericVariableHasARange) {
  const std::vector<std::tuple<const char*, const char*, std::string>> cases = {
      {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "101", "an integer in [0, 100]"},
      {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "99999999999999999999", "an integer in [0, 100]"},
      {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2.5", "an integer in [0, 100]"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1e300", "a number in [0, 600]"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "nan", "a number in [0, 600]"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "601", "a number in [0, 600]"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "inf", "a number in [0, 600]"},
      {"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "1e9", "a number in [0, 600]"},
      {"MLFLOW_TRACKING_INSECURE_TLS", "maybe", "true or false (or 1 or 0)"},
  };
  for (const auto& [name, value, range] : cases) {
    setenv(name, value, 1);
    EXPECT_EQ(error_of([] { (void)MlflowOptions{}.from_environment(); }),
              "environment variable " + std::string(name) + ": expected " + range + ", found '" +
                  value + "'; fix or unset it");
    unsetenv(name);
  }
  // A huge value is quoted bounded.
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", std::string(100'000, '9').c_str(), 1);
  const std::string message = error_of([] { (void)MlflowOptions{}.from_environment(); });
  EXPECT_THAT(message, HasSubstr("...' (100000 bytes); fix or unset it"));
  EXPECT_LT(message.size(), 300u);
  unsetenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
  // The ends of each range are accepted.
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "100", 1);
  setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "600", 1);
  setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0", 1);
  const MlflowOptions options = MlflowOptions{}.from_environment();
  EXPECT_EQ(options.max_retries, 100);
  EXPECT_EQ(options.backoff_factor, 600);
  EXPECT_EQ(options.backoff_jitter, 0);
}

TEST_F(MlflowTest, MembersSetInCppGetTheSameRanges) {
  const auto message_for = [](const std::function<void(MlflowOptions&)>& set) {
    MlflowOptions options;
    set(options);
    return error_of([&] { (void)options.from_environment(); });
  };
  EXPECT_EQ(message_for([](MlflowOptions& o) { o.max_retries = 101; }),
            "MlflowOptions::max_retries: expected an integer in [0, 100], found '101'");
  EXPECT_EQ(message_for([](MlflowOptions& o) { o.backoff_factor = std::nan(""); }),
            "MlflowOptions::backoff_factor: expected a number of seconds in [0, 600], found 'nan'");
  EXPECT_EQ(message_for([](MlflowOptions& o) { o.backoff_jitter = 1e300; }),
            "MlflowOptions::backoff_jitter: expected a number of seconds in [0, 600], found "
            "'1e+300'");
  EXPECT_EQ(message_for([](MlflowOptions& o) { o.request_timeout = std::chrono::hours(25); }),
            "MlflowOptions::request_timeout: expected a duration from 1ms to 86400s, found "
            "'90000s'");
  EXPECT_EQ(message_for([](MlflowOptions& o) { o.connect_timeout = std::chrono::milliseconds(0); }),
            "MlflowOptions::connect_timeout: expected a duration from 1ms to 86400s, found '0s'");
  EXPECT_EQ(message_for([](MlflowOptions& o) {
              o.max_retry_after = std::chrono::milliseconds::max();
            }),
            "MlflowOptions::max_retry_after: expected a duration from 0s to 86400s, found "
            "'9223372036854775807ms'");
  EXPECT_EQ(message_for([](MlflowOptions& o) { o.max_backoff = std::chrono::milliseconds(-1); }),
            "MlflowOptions::max_backoff: expected a duration from 0s to 86400s, found '-1ms'");
}

TEST_F(MlflowTest, InsecureTlsAndCaBundleConflict) {
  setenv("MLFLOW_TRACKING_INSECURE_TLS", "true", 1);
  setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "/etc/ca.pem", 1);
  const std::string message = error_of([] { (void)MlflowOptions{}.from_environment(); });
  EXPECT_THAT(message, HasSubstr("MLFLOW_TRACKING_INSECURE_TLS is true and "
                                 "MLFLOW_TRACKING_SERVER_CERT_PATH is set ('/etc/ca.pem')"));
  // The same from members, and from the client's constructor.
  unsetenv("MLFLOW_TRACKING_INSECURE_TLS");
  unsetenv("MLFLOW_TRACKING_SERVER_CERT_PATH");
  MlflowOptions options;
  options.insecure_tls = 1;
  options.server_cert_path = "/etc/ca.pem";
  EXPECT_THAT(error_of([&] { MlflowClient client(options); }), HasSubstr("contradict each other"));
}

TEST_F(MlflowTest, UsernameWithoutPasswordIsAnError) {
  setenv("MLFLOW_TRACKING_USERNAME", "alice", 1);
  EXPECT_THAT(error_of([] { (void)MlflowOptions{}.from_environment(); }),
              HasSubstr("MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not"));
}

TEST_F(MlflowTest, OptionsFromInferenceConfig) {
  InferenceConfig config;
  config.mlflow_tracking_uri = "http://mlflow.internal:5000";
  config.model_cache_dir = "/var/cache/models";
  config.use_cache_when_offline = true;
  config.max_artifact_bytes = 1234;
  const MlflowOptions options = mlflow_options(config);
  EXPECT_EQ(options.tracking_uri, "http://mlflow.internal:5000");
  EXPECT_EQ(options.cache_dir, fs::path("/var/cache/models"));
  EXPECT_TRUE(options.use_cache_when_offline);
  EXPECT_EQ(options.max_artifact_bytes, 1234u);
  EXPECT_EQ(options.max_retries, -1);  // the environment still applies
}

// --- detail rules -----------------------------------------------------------

TEST(MlflowDetailTest, ListingEntriesMustBePlainNames) {
  for (const char* good : {"MLmodel", "model.ubj", "..hidden", "a.b", "conda.yaml"}) {
    EXPECT_NO_THROW(detail::check_listing_entry(good, "1/abc/artifacts/model", "models:/m/1")) << good;
  }
  const std::vector<std::string> bad = {"", ".", "..", "sub/model.ubj", "..\\evil", "/etc/passwd",
                                        std::string("a\0b", 3), "../../etc"};
  for (const std::string& entry : bad) {
    const std::string message =
        error_of([&] { detail::check_listing_entry(entry, "1/abc/artifacts/model", "models:/m/1"); });
    EXPECT_THAT(message, HasSubstr("model_uri 'models:/m/1': path-escaping listing: the artifact "
                                   "listing of '1/abc/artifacts/model' names the entry '"))
        << entry;
  }
}

TEST(MlflowDetailTest, BackoffDoublesUpToTheCapPlusJitter) {
  using std::chrono::milliseconds;
  const milliseconds cap(60'000);
  EXPECT_EQ(detail::backoff_delay(2, 1, cap, 1, 0.0), milliseconds(2'000));
  EXPECT_EQ(detail::backoff_delay(2, 1, cap, 2, 0.0), milliseconds(4'000));
  EXPECT_EQ(detail::backoff_delay(2, 1, cap, 3, 0.0), milliseconds(8'000));
  EXPECT_EQ(detail::backoff_delay(2, 1, cap, 3, 0.5), milliseconds(8'500));
  EXPECT_EQ(detail::backoff_delay(2, 1, cap, 6, 0.0), milliseconds(60'000));
  EXPECT_EQ(detail::backoff_delay(2, 1, cap, 30, 0.25), milliseconds(60'250));
  EXPECT_EQ(detail::backoff_delay(0.1, 0, cap, 2, 0.9), milliseconds(200));
  EXPECT_EQ(detail::backoff_delay(0, 0, cap, 5, 0.9), milliseconds(0));
}

TEST(MlflowDetailTest, RetryAfterSecondsAndHttpDates) {
  using std::chrono::milliseconds;
  EXPECT_EQ(detail::parse_retry_after("120", 0), milliseconds(120'000));
  EXPECT_EQ(detail::parse_retry_after(" 5 ", 0), milliseconds(5'000));
  EXPECT_EQ(detail::parse_retry_after("0", 0), milliseconds(0));
  const std::time_t date = curl_getdate("Wed, 21 Oct 2015 07:28:00 GMT", nullptr);
  ASSERT_NE(date, -1);
  EXPECT_EQ(detail::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 30), milliseconds(30'000));
  EXPECT_EQ(detail::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + 30), milliseconds(0));
  EXPECT_EQ(detail::parse_retry_after("99999999999999999999999", 0), milliseconds::max());
  EXPECT_EQ(detail::parse_retry_after("", 0), std::nullopt);
  EXPECT_EQ(detail::parse_retry_after("soon", 0), std::nullopt);
  // Waits too long to count saturate instead of wrapping negative.
  EXPECT_EQ(detail::parse_retry_after("9223372036854776", 0), milliseconds::max());
  EXPECT_EQ(detail::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
                                      std::numeric_limits<std::time_t>::min()),
            milliseconds::max());
}

TEST(MlflowDetailTest, RetryableStatuses) {
  for (long status : {408, 429, 500, 502, 503, 504}) EXPECT_TRUE(detail::retryable_status(status));
  for (long status : {200, 400, 401, 403, 404, 501}) EXPECT_FALSE(detail::retryable_status(status));
}

TEST(MlflowDetailTest, UrlsArePrintedWithoutUserinfo) {
  EXPECT_EQ(detail::redact_url("http://alice:s3cret@h:5000/api/2.0/x?name=a"),
            "http://h:5000/api/2.0/x?name=a");
  EXPECT_EQ(detail::redact_url("https://token@h/api"), "https://h/api");
  EXPECT_EQ(detail::redact_url("http://h:5000/api/2.0/x?name=a@b"), "http://h:5000/api/2.0/x?name=a@b");
}

TEST(MlflowDetailTest, ErrorBodies) {
  EXPECT_EQ(detail::describe_error_body(
                R"({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=x not found"})"),
            "RESOURCE_DOES_NOT_EXIST: Registered Model with name=x not found");
  EXPECT_EQ(detail::describe_error_body("<html>\nBad gateway</html>"), "body: '<html> Bad gateway</html>'");
  const std::string long_body(500, 'x');
  EXPECT_EQ(detail::describe_error_body(long_body), "body: '" + std::string(200, 'x') + "...'");
  EXPECT_EQ(detail::describe_error_body(""), "");
}

// --- failures on real sockets -------------------------------------------------

TEST_F(MlflowTest, SecretsNeverAppearInMessagesOrLogLines) {
  const std::string port = std::to_string(unused_port());
  std::vector<std::string> lines;
  MlflowOptions options = fast_options("http://leak-user:leak-pass-4711@127.0.0.1:" + port);
  options.username = "user-SECRET-1234";
  options.password = "pw-SECRET-5678";
  options.log = [&](const std::string& line) { lines.push_back(line); };
  setenv("MLFLOW_TRACKING_TOKEN", "tok-SECRET-9012", 1);

  const auto check = [&](const std::string& message) {
    EXPECT_THAT(message, AllOf(Not(HasSubstr("SECRET")), Not(HasSubstr("leak-pass")),
                               Not(HasSubstr("leak-user"))));
  };
  MlflowClient client(options);
  std::string message = error_of([&] { (void)client.resolve("models:/fraud@champion"); });
  EXPECT_THAT(message, HasSubstr("model_uri 'models:/fraud@champion': GET http://127.0.0.1:" + port +
                                 "/api/2.0/mlflow/registered-models/alias?name=fraud&alias=champion "
                                 "failed: no answer ("));
  EXPECT_THAT(message, HasSubstr("(2 attempts, the last retry included)"));
  EXPECT_THAT(message, HasSubstr("check MLFLOW_TRACKING_URI"));
  check(message);
  EXPECT_FALSE(lines.empty());
  for (const std::string& line : lines) check(line);

  // A token alone (Bearer), through the environment.
  lines.clear();
  MlflowOptions token_only = fast_options("http://127.0.0.1:" + port);
  token_only.log = options.log;
  message = error_of([&] { (void)MlflowClient(token_only).resolve("runs:/abc/model"); });
  EXPECT_THAT(message, HasSubstr("runs/get?run_id=abc"));
  check(message);
  for (const std::string& line : lines) check(line);
}

TEST_F(MlflowTest, HttpErrorNamesStatusErrorCodeMessageAndWhatToDo) {
  CannedServer server(http_response(
      "404 Not Found", "Content-Type: application/json\r\n",
      R"({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Model Version (name=fraud, version=9) not found"})"));
  MlflowClient client(fast_options(server.url()));
  const std::string message = error_of([&] { (void)client.resolve("models:/fraud/9"); });
  EXPECT_THAT(message,
              HasSubstr("model_uri 'models:/fraud/9': GET " + server.url() +
                        "/api/2.0/mlflow/model-versions/get-download-uri?name=fraud&version=9 failed: "
                        "HTTP 404 RESOURCE_DOES_NOT_EXIST: Model Version (name=fraud, version=9) not "
                        "found (1 attempt); check the model version exists"));
  EXPECT_EQ(server.requests(), 1);  // a 404 is not retried
}

TEST_F(MlflowTest, RetryAfterLongerThanTheLimitFailsAtOnce) {
  CannedServer server(http_response("503 Service Unavailable", "Retry-After: 3600\r\n", "busy"));
  MlflowOptions options = fast_options(server.url());
  options.max_retries = 5;
  MlflowClient client(options);
  const auto started = std::chrono::steady_clock::now();
  const std::string message = error_of([&] { (void)client.current_version("models:/fraud@champion"); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_THAT(message, HasSubstr("HTTP 503 body: 'busy'; the server asked to wait 3600.0 s before "
                                 "retrying (Retry-After: '3600'), longer than max_retry_after (60.0 "
                                 "s)"));
  EXPECT_EQ(server.requests(), 1);
}

// --- numbers in the server's answers ---------------------------------------------

std::string json_ok(const std::string& body) {
  return http_response("200 OK", "Content-Type: application/json\r\n", body);
}

TEST_F(MlflowTest, AVersionThatIsNotAPositiveIntegerIsRefused) {
  // Partial numbers ("3abc" read as 3 by std::stoll), zero, negative, beyond
  // int64, and values that are not numbers at all.
  for (const std::string& version : std::vector<std::string>{"\"3abc\"", "\" 3\"", "\"0\"", "\"-2\"", "\"99999999999999999999\"", "2.5", "true",
        "[[[[[[[[1]]]]]]]]", "\"" + std::string(10'000, '7') + "\""}) {
    CannedServer server(json_ok("{\"model_version\": {\"version\": " + version + "}}"));
    MlflowClient client(fast_options(server.url()));
    const std::string message =
        error_of([&] { (void)client.current_version("models:/fraud@champion"); });
    EXPECT_THAT(message, HasSubstr("model_uri 'models:/fraud@champion': the alias lookup answered "
                                   "version "))
        << version;
    EXPECT_THAT(message, HasSubstr(", which is not a positive integer in [1, 9223372036854775807]; "
                                   "is the tracking server MLflow?"));
    EXPECT_LT(message.size(), 500u) << message;
  }
  CannedServer valid(json_ok("{\"model_version\": {\"version\": \"+0012\"}}"));
  MlflowClient client(fast_options(valid.url()));
  EXPECT_EQ(client.current_version("models:/fraud@champion"), "12");
}

TEST_F(MlflowTest, LatestRefusesAVersionItCannotRead) {
  // Skipping "x" would silently name version 2 as the latest.
  CannedServer server(json_ok(R"({"model_versions": [{"version": "2"}, {"version": "x"}]})"));
  MlflowClient client(fast_options(server.url()));
  EXPECT_THAT(error_of([&] { (void)client.current_version("models:/fraud/latest"); }),
              HasSubstr("the latest-versions lookup answered version '\"x\"', which is not a "
                        "positive integer"));
}

TEST_F(MlflowTest, AFileSizeThatIsNotAByteCountIsRefused) {
  // One answer for every request: get-download-uri reads artifact_uri, the
  // listing reads files.
  for (const std::string size : {"-5", "1.5", "\"12\"", "[1]"}) {
    CannedServer server(json_ok(
        R"({"artifact_uri": "mlflow-artifacts:/1/abc/artifacts/model", "files": [)"
        R"({"path": "model.ubj", "is_dir": false, "file_size": )" + size + "}]}"));
    MlflowClient client(fast_options(server.url()));
    const std::string message = error_of([&] { (void)client.resolve("models:/fraud/1"); });
    EXPECT_THAT(message, HasSubstr(", not a byte count in [0, 18446744073709551615], for "
                                   "'1/abc/artifacts/model/model.ubj'"))
        << size << ": " << message;
  }
}

TEST_F(MlflowTest, AJsonAnswerLargerThanAnyMlflowAnswerIsCutOff) {
  // 65 MiB of a JSON string: more than the 64 MiB a JSON answer may be.
  std::string body = "{\"model_version\": {\"version\": \"";
  body.append(65u << 20, '1');
  body += "\"}}";
  CannedServer server(json_ok(body));
  MlflowClient client(fast_options(server.url()));
  EXPECT_THAT(error_of([&] { (void)client.current_version("models:/fraud@champion"); }),
              HasSubstr("the answer is larger than the 67108864 bytes an answer may be; reading "
                        "it was stopped; is this an MLflow tracking server?"));
}

TEST(MlflowDetailTest, ErrorBodiesAreShownBounded) {
  const std::string long_message =
      detail::describe_error_body(R"({"error_code": "X", "message": ")" +
                                  std::string(1'000'000, 'm') + "\"}");
  EXPECT_THAT(long_message, HasSubstr("X: 'mmm"));
  EXPECT_THAT(long_message, HasSubstr("...' (1000000 bytes)"));
  EXPECT_LT(long_message.size(), 700u);
  // A nested message is named by its type, not serialised (which recurses).
  const std::string nested = R"({"error_code": "X", "message": )" + std::string(30'000, '[') +
                             std::string(30'000, ']') + "}";
  EXPECT_EQ(detail::describe_error_body(nested), "X: a JSON array");
}

TEST_F(MlflowTest, ServerErrorsAreRetriedThenReported) {
  CannedServer server(http_response("502 Bad Gateway", "", "<html>bad gateway</html>"));
  MlflowOptions options = fast_options(server.url());
  options.max_retries = 2;
  std::vector<std::string> lines;
  options.log = [&](const std::string& line) { lines.push_back(line); };
  const std::string message =
      error_of([&] { (void)MlflowClient(options).current_version("models:/fraud/latest"); });
  EXPECT_THAT(message, HasSubstr("POST " + server.url() +
                                 "/api/2.0/mlflow/registered-models/get-latest-versions failed: HTTP "
                                 "502 body: '<html>bad gateway</html>' (3 attempts"));
  EXPECT_EQ(server.requests(), 3);
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("retry 1 of 2 for POST")));
}

TEST_F(MlflowTest, CancelAbandonsTheRetryWait) {
  CannedServer server(http_response("503 Service Unavailable", "Retry-After: 30\r\n", ""));
  std::atomic<bool> cancel{false};
  MlflowOptions options = fast_options(server.url());
  options.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancel = true;
  });
  const auto started = std::chrono::steady_clock::now();
  const std::string message =
      error_of([&] { (void)MlflowClient(options).current_version("models:/fraud@champion"); });
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_THAT(message, HasSubstr("cancelled"));
}

TEST_F(MlflowTest, OfflineCacheCannotServeMovingReferencesOrUncachedVersions) {
  const std::string port = std::to_string(unused_port());
  MlflowOptions options = fast_options("http://127.0.0.1:" + port);
  options.use_cache_when_offline = true;
  MlflowClient client(options);
  EXPECT_THAT(error_of([&] { (void)client.resolve("models:/fraud@champion"); }),
              HasSubstr("use_cache_when_offline cannot help: models:/fraud@champion is a moving "
                        "reference"));
  EXPECT_THAT(error_of([&] { (void)client.resolve("models:/fraud/3"); }),
              HasSubstr("use_cache_when_offline: no cached copy of models:/fraud/3"));
}

TEST_F(MlflowTest, MissingTrackingUriAndForeignArtifactStores) {
  MlflowClient client(fast_options(""));
  EXPECT_THAT(error_of([&] { (void)client.resolve("models:/fraud/3"); }),
              HasSubstr("needs an MLflow tracking server, but none is configured: set MLFLOW_TRACKING_URI"));
  MlflowClient sqlite(fast_options("sqlite:///mlflow.db"));
  EXPECT_THAT(error_of([&] { (void)sqlite.resolve("runs:/abc/model"); }),
              HasSubstr("is not an http(s) URL"));
}

TEST_F(MlflowTest, CurrentVersionWithoutAServer) {
  MlflowClient client(fast_options(""));
  EXPECT_EQ(client.current_version("models:/fraud/3"), "3");
  EXPECT_EQ(client.current_version("models:/fraud/3/sub"), "3");
  EXPECT_EQ(client.current_version("runs:/abc/model"), "");
  EXPECT_EQ(client.current_version("models:/m-0123"), "");
  EXPECT_EQ(client.current_version("/models/x.ubj"), "");
}

TEST_F(MlflowTest, StaleTemporaryFoldersAreRemovedAtStart) {
  const fs::path cache = scratch_ / "cache";
  fs::create_directories(cache / "tmp-old");
  fs::create_directories(cache / "tmp-new");
  fs::create_directories(cache / "models" / "keep");
  fs::last_write_time(cache / "tmp-old", fs::file_time_type::clock::now() - std::chrono::hours(2));
  MlflowClient client(fast_options(""));
  EXPECT_FALSE(fs::exists(cache / "tmp-old"));
  EXPECT_TRUE(fs::exists(cache / "tmp-new"));
  EXPECT_TRUE(fs::exists(cache / "models" / "keep"));
}

// --- resolve_model(uri, options) ----------------------------------------------

TEST_F(MlflowTest, LocalPathsStillResolveWithoutTouchingMlflow) {
  const fs::path file = scratch_ / "model.json";
  // The smallest model the admission gate accepts: one tree, one leaf.
  std::ofstream(file) << R"({"version": [1, 7, 4], "learner": {"learner_model_param": {
    "base_score": "5E-1", "num_feature": "1"}, "objective": {"name": "reg:squarederror"},
    "gradient_booster": {"name": "gbtree", "model": {"gbtree_model_param": {"num_trees": "1"},
    "tree_info": [0], "trees": [{"left_children": [-1], "right_children": [-1],
    "split_indices": [0], "split_conditions": [0.5], "default_left": [0]}]}}}})";
  // A broken MLflow environment must not matter for a local model.
  setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "broken", 1);
  MlflowOptions options;
  options.tracking_uri = "http://127.0.0.1:1";
  for (const std::string& uri : std::vector<std::string>{file.string(), "file://" + file.string()}) {
    const ResolvedModel model = resolve_model(uri, options);
    EXPECT_EQ(model.model_file, file);
    EXPECT_EQ(model.format, ModelFormat::kJson);
    EXPECT_EQ(model.saved_by_version, (std::vector<int>{1, 7, 4}));
    EXPECT_TRUE(model.registry_name.empty());
    EXPECT_TRUE(model.cache_path.empty());
    EXPECT_FALSE(model.from_cache);
  }
  unsetenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES");
  EXPECT_EQ(MlflowClient(fast_options("")).resolve(file.string()).model_file, file);
}

TEST_F(MlflowTest, CloudStoresOtherThanS3AreRefusedSayingWhatIsRead) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"gs://bucket/model", "Google Cloud Storage (gs://) is not a store inferloop reads"},
      {"wasbs://container@account.blob.core.windows.net/model",
       "Azure Blob Storage (wasbs://) is not a store inferloop reads"},
      {"abfss://container@account.dfs.core.windows.net/model",
       "Azure Blob Storage (abfss://) is not a store inferloop reads"},
  };
  for (const auto& test_case : cases) {
    // (Not a structured binding: clang 14 cannot capture one in a lambda.)
    const std::string& uri = test_case.first;
    const std::string& store = test_case.second;
    // Azure's container@account reads as userinfo: messages show it scrubbed.
    const std::string shown = detail::scrub_secrets(uri);
    EXPECT_THAT(parse_error(uri), HasSubstr("model_uri '" + shown + "': " + store));
    // resolve_model() refuses it with the grammar's own message: one place decides.
    const std::string message = error_of([&] { (void)resolve_model(uri, MlflowOptions{}); });
    EXPECT_EQ(message, parse_error(uri));
    EXPECT_THAT(message, HasSubstr("model_uri '" + shown + "': " + store)) << message;
    EXPECT_THAT(message, HasSubstr("it reads MLflow's artifact proxy (mlflow-artifacts:/")) << message;
    EXPECT_THAT(message, HasSubstr("S3 and S3-compatible stores (s3://)")) << message;
    EXPECT_THAT(message, HasSubstr("mlflow artifacts download -u URI -d DIR")) << message;
  }
}

}  // namespace
}  // namespace inferloop
