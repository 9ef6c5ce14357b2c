// MLflow model URIs: resolving them against a tracking server, downloading
// the model folder through MLflow's artifact proxy or straight from S3 into a
// local cache, and asking which version a moving reference (alias, stage,
// latest) names now.
//
// Every form MLflow's Python client accepts for a model is taken apart by
// parse_model_uri() (table in docs/mlflow.md):
//   models:/<name>/<version>   models:/<name>@<alias>   models:/<name>/latest
//   models:/<name>/<stage>     models:/<model_id>       runs:/<run_id>/<path>
//   mlflow-artifacts:/<path>   mlflow-artifacts://host:port/<path>
//   http(s)://host/api/2.0/mlflow-artifacts/artifacts/<path>
//   s3://<bucket>/<key>        file:///path               a plain local path
// A trailing artifact path is allowed after the registry forms
// (models:/name/3/sub, models:/name@alias/sub).
//
// Artifacts in S3 (an s3:// model URI, or a tracking server whose artifact
// store is a bucket it does not proxy, `mlflow server --no-serve-artifacts
// --default-artifact-root s3://...`) are read straight from the bucket with
// the credentials, region and endpoint boto3 would use (AWS_ACCESS_KEY_ID,
// ~/.aws/credentials, AWS_REGION, MLFLOW_S3_ENDPOINT_URL, ...; the table in
// docs/mlflow.md), into the same cache with the same checks.
//
// MlflowClient speaks the REST API with libcurl (no Python at run time),
// authenticates and verifies TLS the way MLflow's own client does (the
// environment variables in MlflowOptions), retries 408/429/5xx and connection
// failures with exponential backoff plus jitter, honouring Retry-After, and
// reports every failure with the URI, the endpoint, the HTTP status and
// MLflow's error_code and message. Credentials never appear in a message or a
// log line: URLs are printed without their user:password part and headers are
// never printed.
//
// The cache: each downloaded model folder is written to a temporary folder
// beside the cache, every file's size checked against the listing, and then
// renamed into place under a name derived from its content (a SHA-1 over
// every file's relative path and bytes). A crash mid-download leaves at most a
// temporary folder that nothing trusts (and the next download removes). A
// small ref file per immutable reference (a registry version, a run, a logged
// model) records which content folder it resolved to, so a model resolved by
// version can be found again without the server (MlflowOptions::
// use_cache_when_offline).
//
// Thread safety: an MlflowClient may be used by one thread at a time; make one
// per thread. Several processes may share one cache folder: folders appear by
// rename, which is atomic, and identical content gets the identical name.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "inferloop/model_source.hpp"

namespace inferloop {

struct InferenceConfig;

// How MlflowClient reaches the server. Members left at their "unset" value
// take the environment variable MLflow's Python client reads, then MLflow's
// default; from_environment() shows the result.
struct MlflowOptions {
  // "" -> MLFLOW_TRACKING_URI. http(s)://host:port[/prefix]. Needed for
  // models:/, runs:/ and mlflow-artifacts:/ (without a host) URIs.
  std::string tracking_uri;
  // "" -> $XDG_CACHE_HOME/inferloop, else $HOME/.cache/inferloop.
  std::filesystem::path cache_dir;
  // Largest single artifact file accepted, in bytes; larger ones are refused
  // before download (from the listing) and while downloading.
  std::uint64_t max_artifact_bytes = std::uint64_t{2} << 30;
  // When the server cannot be reached (connection refused, timeouts, 5xx after
  // every retry), resolve an immutable reference (models:/name/<version>,
  // runs:/, models:/<model_id>) from the cache instead, and say so in the log.
  // Moving references (alias, stage, latest) cannot be resolved offline.
  bool use_cache_when_offline = false;

  // Retries after the first attempt: -1 -> MLFLOW_HTTP_REQUEST_MAX_RETRIES, else 7.
  int max_retries = -1;
  // Seconds; the n-th retry waits backoff_factor * 2^(n-1) (capped by
  // max_backoff) plus a uniform random jitter in [0, backoff_jitter).
  // Negative -> MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (2) / _BACKOFF_JITTER (1).
  double backoff_factor = -1;
  double backoff_jitter = -1;
  std::chrono::milliseconds max_backoff{std::chrono::seconds(60)};
  // A Retry-After longer than this is not waited for: the request fails,
  // saying how long the server asked to wait.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Whole-request timeout; 0 -> MLFLOW_HTTP_REQUEST_TIMEOUT seconds, else 120 s.
  std::chrono::milliseconds request_timeout{0};

  // Credentials and TLS; "" / unset -> the environment variable named.
  std::string token;            // MLFLOW_TRACKING_TOKEN -> "Authorization: Bearer"
  std::string username;         // MLFLOW_TRACKING_USERNAME  } -> Basic auth; both
  std::string password;         // MLFLOW_TRACKING_PASSWORD  }    win over a token
  int insecure_tls = -1;        // MLFLOW_TRACKING_INSECURE_TLS=true -> 1: no verification
  std::string server_cert_path; // MLFLOW_TRACKING_SERVER_CERT_PATH: CA bundle
  std::string client_cert_path; // MLFLOW_TRACKING_CLIENT_CERT_PATH: client certificate

  // Receives one line per REST call, retry, cache hit and download (what
  // `inferloop resolve` prints). Never given a secret. May be empty.
  std::function<void(const std::string&)> log;
  // When set and true, an in-progress request or retry wait is abandoned and
  // the call throws (InferenceLoop::stop() uses it). Must outlive the client.
  const std::atomic<bool>* cancel = nullptr;

  // Copy with every unset member filled from the environment and defaults.
  // Throws inferloop::Error for contradictory settings (insecure TLS and a
  // CA bundle both set) or unparsable values, naming the variable.
  [[nodiscard]] MlflowOptions from_environment() const;
};

// The MLflow part of an InferenceConfig (mlflow_tracking_uri,
// model_cache_dir, use_cache_when_offline, max_artifact_bytes).
[[nodiscard]] MlflowOptions mlflow_options(const InferenceConfig& config);

// A model URI taken apart. Throws inferloop::Error from parse_model_uri() for
// a URI that is none of the forms above, saying which forms exist.
struct ModelUri {
  enum class Kind {
    kLocal,             // a plain path or file:// URI
    kRegistryVersion,   // models:/name/3
    kRegistryAlias,     // models:/name@champion
    kRegistryLatest,    // models:/name/latest
    kRegistryStage,     // models:/name/Production
    kLoggedModel,       // models:/m-0123... (MLflow 3)
    kRun,               // runs:/<run_id>/<path>
    kArtifacts,         // mlflow-artifacts:/<path>, mlflow-artifacts://host:port/<path>
    kHttp,              // http(s)://.../api/2.0/mlflow-artifacts/artifacts/<path>
    kS3,                // s3://<bucket>/<key>: a model folder (prefix) or file in S3
  };
  Kind kind = Kind::kLocal;
  std::string uri;            // as given
  std::string name;           // registered model name (registry forms)
  std::string version;        // kRegistryVersion
  std::string alias;          // kRegistryAlias
  std::string stage;          // kRegistryStage, as written
  std::string model_id;       // kLoggedModel
  std::string run_id;         // kRun
  std::string host;           // kArtifacts with a host: "host:port"; kHttp: scheme://host:port;
                              // kS3: the bucket
  std::string path;           // artifact path: trailing path, run path, proxy path; kS3: the key
  std::filesystem::path local_path;  // kLocal

  // Alias, stage or latest: the version it names can change while a loop runs.
  [[nodiscard]] bool moving() const noexcept;
  // Needs a tracking server: everything but kLocal, kHttp, kS3 and an
  // mlflow-artifacts://host:port/... URI (which names its server).
  [[nodiscard]] bool needs_tracking_server() const noexcept;
};

[[nodiscard]] ModelUri parse_model_uri(const std::string& uri);

// What MlflowClient::fetch() put on local disk, and where it came from.
struct FetchedModel {
  // The model folder (or single model file) on local disk: in the cache, or
  // where a tracking server keeps its unserved artifacts on this machine.
  std::filesystem::path path;
  std::string registry_name;     // registry forms: the model's name and
  std::string registry_version;  // MLflow's version ("3"); else ""
  std::string artifact_uri;      // where MLflow keeps it
  std::filesystem::path cache_path;  // the cache folder (empty when read in place)
  bool from_cache = false;       // taken from the cache without asking (offline)
  bool read_in_place = false;    // a local folder the server does not serve
  std::vector<std::string> resolution;  // one line per REST call or cache decision
};

// Which way a metric improves, for MlflowClient::best_run().
enum class MetricGoal { kMinimize, kMaximize };

// What MlflowClient::best_run() found.
struct BestRun {
  std::string experiment_id;
  std::string run_id;
  // runs:/<run_id>/<model name>: the run's model, a URI to pin in a config;
  // resolve() reads it back as the same model.
  std::string model_uri;
  std::string metric;
  double metric_value = 0;        // the run's latest value of the metric
  std::size_t runs_ranked = 0;    // finished runs with a value (not NaN) for the metric
  std::size_t runs_skipped = 0;   // finished runs without the metric, or with NaN
  std::vector<std::string> resolution;  // one line per REST call
};

// Thread safety: one thread at a time (see the file comment).
class MlflowClient {
 public:
  // Throws inferloop::Error for bad options (see from_environment()).
  explicit MlflowClient(MlflowOptions options = {});
  ~MlflowClient();
  MlflowClient(const MlflowClient&) = delete;
  MlflowClient& operator=(const MlflowClient&) = delete;

  // Finds what any form above names and puts it on local disk, downloading
  // it into the cache when it is not there yet; reads no model. A local
  // path or file:// URI is returned as it is. Throws inferloop::Error naming
  // the URI, the endpoint, the HTTP status and MLflow's error_code and message.
  [[nodiscard]] FetchedModel fetch(const std::string& model_uri);

  // fetch(), then the local copy read as resolve_model() reads a local model
  // (MLmodel, admission gate); sets ResolvedModel's registry fields,
  // artifact_uri, cache_path, from_cache and resolution. Defined with the
  // model reading (src/model/resolve.cpp): the MLflow client itself never
  // reads a model. Throws like fetch() and like resolve_model().
  [[nodiscard]] ResolvedModel resolve(const std::string& model_uri);

  // The registry version `model_uri` names right now: one REST call for a
  // moving reference (alias, stage, latest), none for models:/name/3 (its
  // version) and "" for forms outside the registry. Throws like resolve().
  [[nodiscard]] std::string current_version(const std::string& model_uri);

  // The model of experiment `experiment_name`'s best finished run by its
  // latest value of `metric` (the smallest for kMinimize, the largest for
  // kMaximize), as a runs:/ URI. The rules (docs/mlflow.md, "Best run"):
  // only FINISHED, not deleted runs count; a run without the metric, or
  // whose value is NaN, is skipped; equal values go to the run that started
  // first, then to the smaller run id, so the answer never depends on the
  // server's order. The run's model is its one logged model (MLflow 3: the
  // run's model outputs) or its one logged artifact path (MLflow 2: the
  // mlflow.log-model.history tag).
  // Throws inferloop::Error, saying what to do, when the experiment does not
  // exist, no finished run has a value for the metric (naming a close metric
  // name the runs do log), the best run logged no model or more than one
  // (listing them), or the server fails (as fetch() does).
  // NOTE: reads every finished run of the experiment (1000 per request, at
  // most 100'000 runs); one thread at a time, like every method here.
  [[nodiscard]] BestRun best_run(const std::string& experiment_name, const std::string& metric,
                                 MetricGoal goal = MetricGoal::kMinimize);

  // The options in effect (environment applied).
  [[nodiscard]] const MlflowOptions& options() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferloop
