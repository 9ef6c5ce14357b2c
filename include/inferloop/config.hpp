// InferenceConfig: what an InferenceLoop serves and how.
//
// Build one in C++ (aggregate initialisation, then validate()), or load it
// from YAML with load_config(): a file that is either the mapping itself or a
// larger application file that holds it under `inference_config:`, or names
// the file that holds it with `inference_config_path:` (relative to the
// naming file's folder; cycles and chains deeper than 8 are refused).
//
// Every key, its type, its default and its range is listed in
// docs/configuration.md and in the table at the top of src/config/config.cpp; the
// two are kept in step by a test. Unknown keys are errors with a "did you
// mean" hint, and every error names the file, line:column, the key, what was
// expected and what was found (quoted, at most 80 characters of it).
//
// Input is bounded: a config is at most 1 MiB, nests at most 64 levels, holds
// one YAML document and at most one inference_config section. A config that
// cannot fit in this machine's physical memory (history_capacity x max_rows
// ..., see docs/configuration.md#limits) is refused like a bad value.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inferloop {

// How the poller thread waits for the next feature snapshot.
enum class WaitStrategy {
  kSpin,           // busy-poll: lowest latency, burns a core per waiting thread
  kSpinThenBlock,  // busy-poll for spin_duration, then sleep until woken (default)
  kBlock,          // sleep until woken: lowest CPU, adds a wake-up to each hop
  kInterval,       // every `interval`, take the newest snapshot (or call the source)
  kContinuous,     // the reference design: ask for features whenever a replica is idle
};

// What the predictor returns: XGBoost's transformed output (probabilities for
// binary:logistic, ...) or the raw margin.
enum class OutputKind { kTransformed, kMargin };

struct InferenceConfig {
  // --- the reference design's keys ---------------------------------------
  // Optional label for logs and status lines (the Ray Serve deployment name
  // in the reference design).
  std::optional<std::string> deployment_name;
  // Required. An MLflow model URI (models:/name@alias, models:/name/3,
  // models:/name/latest, runs:/<run_id>/model, mlflow-artifacts:/..., ...:
  // docs/mlflow.md), or a local path or file:// URI to a model file (.json,
  // .ubj, legacy binary) or to an MLflow model folder (one holding an MLmodel
  // file).
  std::string model_uri;
  // Registered predictor name; see PredictorRegistry.
  std::string predictor_class_name = "XGBoostPredictor";
  // Predictor replicas, each with its own worker thread. 1..64.
  int num_replicas = 1;

  // --- inferloop's own keys ----------------------------------------------
  // "cpu", "cuda" or "cuda:N"; passed to the predictor.
  std::string device = "cpu";
  // Features per row, 0..10'000'000. 0 = take it from the model; when set, it
  // must match the model (and the MLmodel signature, when there is one).
  std::size_t num_features = 0;
  // Largest number of rows (instruments) in one snapshot. 1..1'000'000.
  std::size_t max_rows = 1;
  WaitStrategy wait_strategy = WaitStrategy::kSpinThenBlock;
  // How long a waiting thread spins before it sleeps (kSpinThenBlock); <= 1 s.
  // The default outlasts the gap between snapshots of an engine publishing
  // at 1 kHz or more, so under load the poller never sleeps and a publish
  // never pays a wake-up (docs/design.md, "Wait strategies").
  std::chrono::nanoseconds spin_duration = std::chrono::milliseconds(1);
  // Period of kInterval; 1 ns..1 day.
  std::chrono::nanoseconds interval = std::chrono::milliseconds(1);
  // How long start() waits for the first result before it fails, at most a
  // day. 0 = do not wait for a first result at all.
  std::chrono::nanoseconds startup_timeout = std::chrono::seconds(10);
  // Results kept for history(), 0..100'000'000; 0 = no history. Oldest
  // dropped first, counted.
  std::size_t history_capacity = 0;
  OutputKind output = OutputKind::kTransformed;
  // XGBoostPredictor and LightGBMPredictor: one booster shared by all
  // replicas (each with its own proxy DMatrix or single-row FastConfig)
  // instead of one booster per replica.
  bool share_booster = false;
  // CPU affinity (Linux), for engines that pin their hot threads: the CPU
  // the poller thread runs on (-1 = not pinned; with one replica the poller
  // also runs its predictions), and the CPUs of the replica threads (replica
  // i on replica_cpus[i % size]; empty = not pinned; unused with one
  // replica). start() fails naming the key when the system refuses a CPU.
  int poller_cpu = -1;
  std::vector<int> replica_cpus;
  // Threads each predictor call may use (XGBoost's nthread, LightGBM's
  // num_threads). 1 is fastest for one row; raise it only for large
  // snapshots.
  int predictor_threads = 1;
  // Remote predictors (KServeV2Predictor, MlflowScoringPredictor,
  // RayServePredictor): base URLs of the serving endpoints, e.g.
  // "http://10.0.0.5:8080". Replica i uses endpoints[i % size] while it is
  // healthy. Ignored by in-process predictors. See docs/scaling.md.
  std::vector<std::string> endpoints;

  // --- MLflow (docs/mlflow.md) -------------------------------------------
  // Tracking server for models:/, runs:/ and mlflow-artifacts:/ URIs; empty =
  // the MLFLOW_TRACKING_URI environment variable.
  std::string mlflow_tracking_uri;
  // Where downloaded models are kept; empty = $XDG_CACHE_HOME/inferloop, else
  // ~/.cache/inferloop.
  std::string model_cache_dir;
  // How often a running loop asks MLflow whether a moving reference (alias,
  // stage, latest) names a new version, and swaps it in when it does; at most
  // a day. 0 = never (InferenceLoop::reload() still works).
  std::chrono::nanoseconds model_refresh_interval{0};
  // Start from the cached copy of a model resolved by version (models:/name/3,
  // runs:/, a logged model id) when the tracking server cannot be reached.
  bool use_cache_when_offline = false;
  // Largest model file downloaded from MLflow, in bytes (1 byte..1 TiB).
  std::size_t max_artifact_bytes = std::size_t{2} << 30;

  // --- observability (docs/metrics.md) -----------------------------------
  // Where a started loop serves its Prometheus metrics at /metrics:
  // "HOST:PORT", HOST an IPv4 address or localhost, e.g. "127.0.0.1:9464"
  // (port 0: any free port; metrics_url() says which). Empty = no server
  // (render_metrics() still renders them for an engine's own HTTP server).
  std::string metrics_listen;

  // Throws inferloop::Error listing every problem found (one per line): each
  // key against its range, then the memory the loop needs at the least
  // against this machine's (with num_features as set, one output).
  void validate() const;
};

// One problem found in a config, with where it was found. `line` and
// `column` are 1-based; 0 when not known (a config built in C++).
struct ConfigIssue {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;
  std::string message;  // "expected ..., found ..." plus a hint where there is one

  // "file:line:column: key: message"
  [[nodiscard]] std::string to_string() const;
};

// Parses YAML text. `source_name` is used in messages (a file path, or
// "<string>"). Throws inferloop::Error whose message lists every issue.
[[nodiscard]] InferenceConfig parse_config(std::string_view yaml_text,
                                           std::string_view source_name = "<string>");
[[nodiscard]] InferenceConfig load_config(const std::filesystem::path& file);

// Like load_config, but returns every issue instead of throwing (for
// `inferloop validate`). Empty = valid.
[[nodiscard]] std::vector<ConfigIssue> check_config_file(const std::filesystem::path& file);

[[nodiscard]] std::string_view to_string(WaitStrategy strategy) noexcept;
[[nodiscard]] std::string_view to_string(OutputKind kind) noexcept;

// The names of every accepted key, in documentation order.
[[nodiscard]] const std::vector<std::string>& config_keys();

// "250us", "10ms", "2s", "1500ns" (a bare integer means milliseconds is NOT
// accepted: units are required). Throws inferloop::Error on a bad value.
[[nodiscard]] std::chrono::nanoseconds parse_duration(std::string_view text);

}  // namespace inferloop
