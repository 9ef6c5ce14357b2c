// InferenceLoop: a polling thread and N predictor replicas that turn the
// newest feature snapshot into the newest prediction, which the engine reads
// without ever blocking.
//
// Lifecycle:
//   InferenceLoop loop(config, options);   // nothing loaded yet
//   loop.start();    // resolve + load the model into every replica, warm each
//                    // up, start the threads; wait for a first result (below)
//   loop.features().publish(values, t);    // engine thread, wait-free
//   loop.latest(prediction);               // any thread, wait-free
//   loop.stop();     // idempotent; in-flight predictions are delivered
//   ~InferenceLoop() calls stop().
//
// start() waits up to config.startup_timeout for a first result when it can
// expect one: when a feature source callable is set, or a snapshot was
// published before start(). Otherwise it returns once the threads run, and
// the engine may wait_for() its first snapshot.
//
// Threads:
//   - the poller thread (one per loop) takes snapshots and dispatches them
//     round-robin to idle replicas; when all are busy it keeps only the newest
//     pending snapshot (conflation, counted).
//   - each replica runs on its own thread behind a Boost.Asio io_context; it
//     predicts, then publishes the result only if its feature_seq is newer
//     than the one already visible, so a slow replica never hides a newer
//     prediction. The result callback, history and error handler run on the
//     replica's thread.
//   - start(), stop() and the destructor: one owner thread, not concurrently.
//   - features(): its producer side from one engine thread at a time.
//   - latest(), wait_for(), stats(), history(), last_error(), model_info(),
//     reload(): any thread, any time (reload() calls are serialised).
//   - a refresh thread, when config.model_refresh_interval is set and
//     model_uri is a moving MLflow reference (alias, stage, latest): a
//     Boost.Asio timer asks MLflow which version the reference names and
//     reloads when it changes.
//
// Live reload (reload(), or the refresh thread): the new model is resolved,
// downloaded, loaded into fresh predictors for every replica and warmed up on
// the reloading thread, off the hot path. Then it is staged, and the poller
// switches each replica over at its next dispatch (a replica busy with the
// old model finishes that prediction first). Every snapshot dispatched after
// the swap uses the new model and every one before it the old, so results
// carry model_version N or N+1, model_version never goes backwards in what
// latest() shows, no snapshot is dropped or answered twice, and no replica
// pauses for more than the pointer swap. A reload that fails (download, a
// corrupt model, a different feature width) changes nothing: the old model
// keeps serving, the failure is counted (stats().model_reload_failures),
// reported to the error handler and retried at the next refresh.
//
// Calls from callbacks (on_result, on_error, on_model_change, the feature
// source, a custom resolver), on the loop's own threads or inside reload():
//   - stop() requests the stop and returns: no snapshot is dispatched from
//     then on, running() is false and wait_for() callers wake; the owner's
//     stop() (or the destructor) completes it and joins the threads.
//   - reload() and wait_for() throw inferloop::Error: both would wait for
//     the calling callback itself.
//   - latest(), latest_feature_seq(), stats(), history(), last_error(),
//     model_info(), make_prediction(), config(): allowed.
//   - never destroy the loop from its own callback.
// docs/design.md ("Calls from callbacks") has the table.
//
// Errors: start() throws inferloop::Error (and leaves the loop stopped) when
// the config, the model or the first result fails; whatever a predictor
// factory, a resolver, an allocation or a thread creation throws is wrapped
// in an inferloop::Error that says what start() was doing. A predictor that throws
// while serving is counted, kept as last_error(), handed to the error
// handler, and the loop keeps serving; so does an error handler or result
// callback that throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "inferloop/backtest.hpp"
#include "inferloop/clock.hpp"
#include "inferloop/config.hpp"
#include "inferloop/feature_slot.hpp"
#include "inferloop/prediction.hpp"
#include "inferloop/predictor.hpp"
#include "inferloop/stats.hpp"

namespace inferloop {

namespace detail {
struct LoopAccess;
}  // namespace detail

// What a feature source callable fills when the poller asks (the reference
// design's style). `values` has room for max_rows x num_features floats.
struct FeatureRequest {
  std::span<float> values;
  std::size_t cols = 0;
  std::size_t rows = 1;        // set by the source: rows written (1..max_rows)
  Timestamp feature_time{0};   // set by the source (defaults to the Clock's now)
};
// Returns false when it has no new features; the poller then asks again on
// the next tick (interval) or at once (continuous). May throw: counted as an
// error like a predictor's.
using FeatureSource = std::function<bool(FeatureRequest&)>;

struct LoopError {
  std::string message;
  std::uint64_t feature_seq = 0;  // snapshot being predicted (0: not a prediction)
  std::uint32_t replica_id = 0;
  Timestamp at{0};  // loop Clock time
};

using ResultCallback = std::function<void(const Prediction&)>;
using ErrorHandler = std::function<void(const LoopError&)>;
struct ModelInfo;
using ModelChangeHandler = std::function<void(const ModelInfo&)>;

// Turns config.model_uri into a model a predictor can load.
using ModelResolver = std::function<ResolvedModel(const std::string& model_uri)>;

struct LoopOptions {
  std::shared_ptr<Clock> clock;  // default: system_clock()
  // Default: resolve_model(). Predictors that need no model file (tests'
  // fakes, remote predictors) can pass their own.
  ModelResolver resolver;
  // Optional: the reference design's pull style. Needs wait_strategy
  // interval or continuous. Without it, publish into features().
  FeatureSource feature_source;
  // Called on a replica thread for every result that becomes the latest, in
  // increasing feature_seq order (deliveries are serialised; a slow callback
  // delays other replicas' deliveries, never latest() readers).
  ResultCallback on_result;
  // Called on the thread where the error happened.
  ErrorHandler on_error;
  // Called on the reloading thread after a live reload staged a new model
  // (every snapshot dispatched from then on uses it).
  ModelChangeHandler on_model_change;
  // Where predictor_class_name is looked up; default PredictorRegistry::global().
  const PredictorRegistry* registry = nullptr;
  // Set: backtest mode (include/inferloop/backtest.hpp, docs/backtesting.md).
  // The loop runs in the simulated time of `clock` (start() throws unless
  // clock->is_simulated()); num_replicas is the simulated replica count.
  // No poller or replica threads run; publish() drives a simulation of them
  // and latest(), wait_for(), stats() and history() first bring it up to
  // clock->now(), waiting for the computation of what is visible by then.
  // on_result then runs on the thread that called one of those (or stop())
  // and must not publish; a feature_source is refused.
  std::optional<BacktestOptions> backtest;
};

struct ModelInfo {
  // The loop's model_version: 1 for the model start() loaded, +1 per swap.
  // model.registry_version is MLflow's version of the same model.
  std::uint64_t model_version = 0;
  ResolvedModel model;
  std::string predictor;  // Predictor::describe() of replica 0
  std::size_t num_features = 0;
  std::size_t num_outputs = 0;
};

class InferenceLoop {
 public:
  // Validates the config (throws inferloop::Error); loads nothing.
  explicit InferenceLoop(InferenceConfig config, LoopOptions options = {});
  ~InferenceLoop();
  InferenceLoop(const InferenceLoop&) = delete;
  InferenceLoop& operator=(const InferenceLoop&) = delete;

  // See the file comment. Throws inferloop::Error; calling it twice throws.
  void start();
  // Idempotent. Stops taking snapshots, lets in-flight predictions finish and
  // delivers their results, joins every thread. From inside one of this
  // loop's callbacks it only requests the stop (see the file comment).
  void stop() noexcept;
  [[nodiscard]] bool running() const noexcept;

  // Where the engine publishes snapshots. Exists from construction when
  // config.num_features is set, else from start() on (the model tells the
  // width). Throws inferloop::Error if it does not exist yet.
  [[nodiscard]] FeatureSlot& features();

  // A Prediction sized for this loop's largest result. Call after start()
  // (or with num_features known); reuse it for every latest() call.
  [[nodiscard]] Prediction make_prediction() const;

  // Copies the newest visible result into `out`; false (and `out` untouched)
  // when there is none yet. Never blocks, never allocates, never torn.
  // NOTE: backtest mode: the newest result visible at clock->now(); it may
  // wait for that result's computation (simulated time does not move).
  // REQUIRES: out.storage.size() >= the loop's largest result (make_prediction()).
  // NOTE: a smaller `out` is misuse: builds with debug checks (no NDEBUG, or
  // INFERLOOP_DEBUG_CHECKS=ON) abort with a message; release builds return
  // false and leave `out` untouched.
  bool latest(Prediction& out) const noexcept;
  // feature_seq of the newest visible result (0 = none). Wait-free (backtest
  // mode: like latest(), it may wait for computation).
  [[nodiscard]] std::uint64_t latest_feature_seq() const noexcept;

  // Blocks until a result for `feature_seq` or a newer snapshot has been
  // delivered (readable by latest(), in history(), its callback returned),
  // or `timeout` passes, or the loop stops (true/false). Copies the newest
  // result into `out` when given. The timeout is wall time, whatever the Clock.
  // NOTE: backtest mode: simulated time does not pass while waiting, so it
  // returns at once whether that result is visible at clock->now().
  // Throws inferloop::Error when called from one of this loop's callbacks.
  bool wait_for(std::uint64_t feature_seq, std::chrono::nanoseconds timeout,
                Prediction* out = nullptr) const;

  [[nodiscard]] LoopStats stats() const;
  // The newest results, oldest first (at most config.history_capacity).
  [[nodiscard]] std::vector<Prediction> history() const;
  [[nodiscard]] std::optional<LoopError> last_error() const;
  // Throws inferloop::Error before start().
  [[nodiscard]] ModelInfo model_info() const;
  [[nodiscard]] const InferenceConfig& config() const noexcept;

  // What a reload() did.
  struct ReloadOutcome {
    bool swapped = false;            // a new model now serves new snapshots
    std::uint64_t model_version = 0; // the loop's model_version serving from now on
    std::string registry_version;    // its MLflow version, when from the registry
    std::string detail;              // "registry version 1 -> 2", or why nothing changed
  };
  // Asks now whether model_uri names a different model than the one serving
  // (for an MLflow alias/stage/latest: its current version; otherwise the
  // resolved model file), and if so loads it and swaps it in (see Live
  // reload above). Returns when the new model is staged. Throws
  // inferloop::Error when resolving or loading fails; the old model keeps
  // serving and the failure is counted. Throws in backtest mode and before
  // start().
  // Throws inferloop::Error when called from one of this loop's callbacks
  // (a reload calls on_error and on_model_change itself).
  ReloadOutcome reload();

  // Backtest mode: the simulated time at which everything published so far
  // will have been dispatched (or conflated) and become visible, if nothing
  // more is published; at least clock->now(). Move the clock there before
  // stop() to keep the last snapshot's prediction. nullopt in live mode.
  [[nodiscard]] std::optional<Timestamp> backtest_idle_at() const;

 private:
  // What observers read beyond stats() (metrics.hpp): src/loop/loop_observation.hpp.
  friend struct detail::LoopAccess;
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferloop
