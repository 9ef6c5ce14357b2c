// ModelReloader: live reload. reload() (any application thread) and the
// refresh thread (a Boost.Asio timer, when model_refresh_interval is set and
// the model can change) resolve model_uri again and, when it names another
// model, build and warm fresh predictors for every replica off the hot path
// and stage them behind one atomic pointer. The poller adopts a staged
// generation at its next dispatch (adopt_staged) and switches each replica
// when it next dispatches to it; predictors switched away from are retired
// and freed by the next reload or by stop.
//
// Lifecycle: made by start() with the model start() loaded; stop() ends the
// refresh thread and waits for a reload in progress, then the owner stops the
// poller and finally calls release_models(). Threads: reload() from any
// thread, serialised by reload_mutex_; adopt_staged()/retire() from the
// poller only; model_info() from any thread.
//
// Memory ordering: staged_ is exchanged acq_rel by a reload (the predictors
// were built and warmed before the release) and exchanged with acquire by the
// poller.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "inferloop/inference_loop.hpp"
#include "inferloop/mlflow.hpp"
#include "loop/error_sink.hpp"
#include "loop/loop_counters.hpp"
#include "loop/model_loader.hpp"

namespace inferloop::detail {

// A model built by a reload, waiting for the poller to switch replicas to
// it: predictors[i] is replica i's (null once the replica took it).
struct ModelGeneration {
  std::uint64_t model_version = 0;
  std::vector<std::unique_ptr<Predictor>> predictors;
};

class ModelReloader {
 public:
  ModelReloader(const void* loop, const InferenceConfig& config, ModelLoader& loader,
                ModelShape shape, std::size_t replicas, const ResolvedModel& serving,
                std::string serving_description, ErrorSink& errors, LoopCounters& counters,
                ModelChangeHandler on_model_change, const Clock& clock);
  ~ModelReloader();
  ModelReloader(const ModelReloader&) = delete;
  ModelReloader& operator=(const ModelReloader&) = delete;

  // See InferenceLoop::reload(). Throws inferloop::Error after counting and
  // reporting a failure; the serving model is untouched until staging.
  InferenceLoop::ReloadOutcome reload();
  // Starts the refresh thread when model_refresh_interval is set and polling
  // can find something new (a moving MLflow reference, or a custom resolver).
  void start_refresh();
  [[nodiscard]] ModelInfo model_info() const;

  // Stop, first half: no new reload starts, a download in progress is
  // abandoned, the refresh thread is joined, and the returned lock holds off
  // reload() until release_models() (after the poller is joined).
  [[nodiscard]] std::unique_lock<std::mutex> stop() noexcept;
  // Stop, second half, with the lock stop() returned: frees staged,
  // adopted and retired predictors.
  void release_models(std::unique_lock<std::mutex>& lock) noexcept;

  // ---- poller thread ----------------------------------------------------------
  // A generation staged since the last call (cheap check first: one relaxed load).
  [[nodiscard]] bool has_staged() const noexcept {
    return staged_.load(std::memory_order_relaxed) != nullptr;
  }
  // Takes the staged generation, which every dispatch from now on uses;
  // returns it (owned by the reloader). Predictors of a previous generation
  // that no replica took are retired.
  ModelGeneration* adopt_staged() noexcept;
  // Keeps a predictor a replica was switched away from until the next
  // reload frees it (never allocates: room is reserved at staging).
  void retire(std::unique_ptr<Predictor> predictor) noexcept;

 private:
  void collect_retired();

  const void* const loop_;
  const InferenceConfig& config_;
  ModelLoader& loader_;
  const ModelShape shape_;
  const std::size_t replicas_;
  ErrorSink& errors_;
  LoopCounters& counters_;
  const ModelChangeHandler on_model_change_;
  const Clock& clock_;

  // Serialises reload() (application threads and the refresh thread) and
  // guards everything up to staged_.
  std::mutex reload_mutex_;
  std::unique_ptr<MlflowClient> refresh_client_;
  std::optional<ModelUri> parsed_uri_;  // set at construction, read-only afterwards
  bool uri_moving_ = false;             // set at construction, read-only afterwards
  std::string serving_identity_;        // what makes two resolutions the same model
  std::string serving_registry_version_;
  std::uint64_t last_model_version_ = 1;  // model_version of the newest model

  mutable std::mutex info_mutex_;
  ModelInfo info_;  // guarded by info_mutex_

  // The refresh thread; started and joined by the owner thread.
  std::unique_ptr<boost::asio::io_context> refresh_io_;
  std::thread refresh_thread_;

  // See the file comment.
  std::atomic<ModelGeneration*> staged_{nullptr};
  // Poller-thread state: the generation replicas are switching to.
  std::unique_ptr<ModelGeneration> adopted_;
  // Predictors switched away from, freed by the next reload or stop.
  std::mutex retired_mutex_;
  std::vector<std::unique_ptr<Predictor>> retired_;
};

}  // namespace inferloop::detail
