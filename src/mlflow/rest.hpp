// RestClient: MLflow's REST API over one libcurl easy handle (kept open
// between calls: HTTP keep-alive), with MLflow's authentication, TLS
// settings and retry policy. Used by MlflowClient (src/mlflow/client.cpp),
// and by the S3 client (src/s3/s3_client.cpp) with an S3 Service: the same
// retries, timeouts and cancellation, S3's signing and S3's error messages.
//
// Every call takes a Call: the model URI being resolved (for messages), a
// hint saying what to do when the call fails, and the trace that collects one
// line per request and retry. Failures throw RestError, whose message names
// the URI, the endpoint (without userinfo), the HTTP status, MLflow's
// error_code and message, the attempts made and the hint. Secrets (the
// token, the password, URL userinfo) are scrubbed from every message and
// trace line.
//
// Threads: one thread at a time (libcurl's rule for an easy handle).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "net/curl_handle.hpp"

namespace inferloop::detail {

class RestError : public Error {
 public:
  RestError(const std::string& message, bool unreachable, long status, std::string error_code)
      : Error(message), unreachable_(unreachable), status_(status), error_code_(std::move(error_code)) {}
  // No answer came back after every retry: connection refused, timeouts, or
  // a retryable status (408/429/5xx) every time. use_cache_when_offline
  // applies only to these.
  [[nodiscard]] bool unreachable() const noexcept { return unreachable_; }
  [[nodiscard]] long status() const noexcept { return status_; }  // 0: no HTTP answer
  [[nodiscard]] const std::string& error_code() const noexcept { return error_code_; }

 private:
  bool unreachable_;
  long status_;
  std::string error_code_;
};

// Where a request's messages and trace lines go. Messages begin
// "<subject> '<model_uri>': ".
struct Call {
  const std::string& model_uri;
  std::string hint;                       // what to do when it fails, e.g. "check the alias exists: ..."
  std::vector<std::string>* trace;        // one line per request / retry; may be null
  // Probing whether a path is a file: a 500/502/504 there usually means "a
  // folder, not a file" and retrying it only delays the error, so only
  // 408/429/503 (the server asking to come back) are retried.
  bool probe = false;
  // What model_uri names, as messages say it: "model_uri" for a model URI;
  // "experiment" when the call looks up an experiment's runs (best run).
  const char* subject = "model_uri";
};

// Who answers a RestClient: an MLflow tracking server (mlflow_service(), the
// default) or an S3 store (src/s3/s3_client.cpp). The retry policy, timeouts
// and cancellation are the same for both; what differs is how a request
// authenticates and how a failure is explained.
struct Service {
  // A non-2xx body as message text ("RESOURCE_DOES_NOT_EXIST: ...",
  // "NoSuchKey: The specified key does not exist."), and its error code alone.
  std::function<std::string(const std::string& body)> describe_error;
  std::function<std::string(const std::string& body)> error_code;
  // The hint a failure ends with, by kind of failure; Call::hint for the rest.
  std::string tls_hint;          // certificate verification failed
  std::string no_answer_hint;    // no answer, and retrying cannot help
  std::string too_large_hint;    // an answer larger than any this service sends
  std::string unreachable_hint;  // no answer (connection refused, timeouts) on every attempt
  std::string auth_hint;         // 401, 403, or an error code in auth_error_codes
  // Error codes that mean "the credentials", whatever the status (S3 answers
  // 400 InvalidToken and ExpiredToken).
  std::set<std::string> auth_error_codes;
  std::string not_found_hint;    // 404 without an error code, when the call has no hint
  // Runs once on the new handle (a CURL*), after the MLflow settings: S3's
  // SigV4 signing and its own TLS settings.
  std::function<void(void* curl)> configure;
  // Sent with every request; may hold secrets (headers are never printed).
  std::vector<std::string> headers;
  // Replaced by "***" in every message and trace line, like the token and
  // the password.
  std::vector<std::string> secrets;
};

// MLflow's error bodies and the hints that name MLflow's variables.
[[nodiscard]] Service mlflow_service();

class RestClient {
 public:
  // `options` with the environment applied (MlflowOptions::from_environment()).
  explicit RestClient(const MlflowOptions& options, Service service = mlflow_service());
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // 2xx with a JSON body -> the body; anything else throws RestError.
  nlohmann::json get_json(const std::string& url, const Call& call);
  // 2xx -> the body as it came, at most max_bytes of it; anything else
  // throws RestError.
  std::string get_text(const std::string& url, std::uint64_t max_bytes, const Call& call);
  nlohmann::json post_json(const std::string& url, const nlohmann::json& body, const Call& call);

  // Streams `url` into `file` (created or truncated). Throws RestError when
  // the answer is not 2xx or has more than max_bytes bytes (the transfer is
  // aborted as soon as it does). Returns the bytes written.
  std::uint64_t download(const std::string& url, const std::filesystem::path& file,
                         std::uint64_t max_bytes, const Call& call);

  // "key=value&key=value" with every value escaped by curl_easy_escape.
  std::string query(const std::vector<std::pair<std::string, std::string>>& parameters);
  // Each '/'-separated segment of `path` escaped by curl_easy_escape.
  std::string escape_path(const std::string& path);

  // `text` with every secret this client knows replaced by "***".
  [[nodiscard]] std::string scrub(std::string text) const;

  // Sleeps `wait`, in small steps so that options.cancel is noticed within
  // ~20 ms. Throws RestError when cancelled.
  void sleep_cancellable(std::chrono::milliseconds wait, const Call& call, const std::string& what);
  void throw_if_cancelled(const Call& call, const std::string& what) const;

 private:
  enum class Method { kGet, kPost };
  // One request with retries. `sink` receives the bytes of a 2xx answer and
  // returns false to abort (a write failed); the body of any other answer is
  // kept for the error message. `before_attempt` runs before every attempt
  // (a download truncates its file). `streaming`: a download, which may take
  // long; see the timeout comment in rest.cpp.
  void perform(Method method, const std::string& url, const std::string* post_body,
               const std::function<bool(const char*, std::size_t)>& sink,
               const std::function<void()>& before_attempt, const Call& call,
               std::uint64_t max_bytes, bool streaming);

  MlflowOptions options_;
  Service service_;
  CurlHandle curl_;
  curl_slist* get_headers_;   // Authorization (when a token is set)
  curl_slist* post_headers_;  // the same plus Content-Type: application/json
  std::mt19937_64 random_;  // jitter; seeded once from std::random_device
};

}  // namespace inferloop::detail
