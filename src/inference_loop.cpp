// InferenceLoop: see include/inferloop/inference_loop.hpp for the lifecycle
// and which thread may call what.
//
// Data flow of one snapshot:
//   engine thread   FeatureSlot::publish()  -> wakes the poller (WakeSignal)
//   poller thread   take_newest(); pick the next idle replica round-robin;
//                   copy the features into that replica's input buffer;
//                   post the prediction task to the replica's io_context
//   replica thread  predict(); ResultSlot::publish_if_newer(); history,
//                   callback, wait_for() waiters; mark itself idle and wake
//                   the poller (a pending snapshot may be waiting for it)
//
// Ownership of a replica's input buffer and snapshot metadata passes from the
// poller to the replica with the post (Asio's queue synchronises it) and back
// when the replica stores busy=false (release), which the poller reads with
// acquire before it writes the buffer again.
#include "inferloop/inference_loop.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "backtest/engine.hpp"
#include "inferloop/detail/latency_histogram.hpp"
#include "inferloop/detail/result_slot.hpp"
#include "inferloop/detail/wake_signal.hpp"
#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "util/misuse.hpp"
#include "util/text.hpp"

namespace inferloop {

namespace {

namespace asio = boost::asio;
using detail::WakeSignal;

void name_this_thread(const std::string& name) {
  // Linux limits thread names to 15 characters.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// How a replica's worker thread waits for work: the same trade-off as the
// poller's, minus the poller-only modes.
WaitStrategy replica_wait_strategy(WaitStrategy poller) {
  switch (poller) {
    case WaitStrategy::kSpin:
      return WaitStrategy::kSpin;
    case WaitStrategy::kBlock:
      return WaitStrategy::kBlock;
    default:
      return WaitStrategy::kSpinThenBlock;
  }
}

// What makes two resolutions of model_uri the same model: MLflow's version
// plus the file (cache folders are content-addressed, so new content means a
// new path) and, for local files replaced in place, its size and mtime.
std::string model_identity(const ResolvedModel& model) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(model.model_file, ec);
  const auto mtime = std::filesystem::last_write_time(model.model_file, ec);
  return model.registry_version + "|" + model.model_file.string() + "|" + std::to_string(size) +
         "|" + std::to_string(mtime.time_since_epoch().count());
}

// models:/name@alias/sub at version 4 -> models:/name/4/sub: the refresh
// resolves the version it saw, even if the alias moves again meanwhile.
std::string pinned_registry_uri(const ModelUri& uri, const std::string& version) {
  std::string pinned = "models:/" + uri.name + "/" + version;
  if (!uri.path.empty()) pinned += "/" + uri.path;
  return pinned;
}

// A model loaded by a live reload, waiting for the poller to switch replicas
// over to it: predictors[i] is replica i's (null once the replica took it).
struct ModelGeneration {
  std::uint64_t model_version = 0;
  std::vector<std::unique_ptr<Predictor>> predictors;
};

// The loop whose user code (on_result, on_error, on_model_change, the
// feature source, a custom resolver) this thread is running right now, or
// null. stop(), reload() and wait_for() read it: from inside a callback,
// joining the loop's threads or waiting for a delivery would wait for the
// calling thread itself. Thread-local, so it needs no synchronisation.
thread_local const void* t_running_callback_of = nullptr;

// Marks the current thread as running `loop`'s user code for its lifetime.
class CallbackScope {
 public:
  explicit CallbackScope(const void* loop) noexcept : outer_(t_running_callback_of) {
    t_running_callback_of = loop;
  }
  ~CallbackScope() { t_running_callback_of = outer_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  const void* outer_;
};

}  // namespace

class InferenceLoop::Impl final : private detail::BacktestHost {
 public:
  Impl(InferenceConfig config, LoopOptions options)
      : config_(std::move(config)), options_(std::move(options)) {
    config_.validate();
    clock_ = options_.clock ? options_.clock : system_clock();
    registry_ = options_.registry != nullptr ? options_.registry : &PredictorRegistry::global();
    const bool pull_mode = static_cast<bool>(options_.feature_source);
    if (pull_mode && config_.wait_strategy != WaitStrategy::kInterval &&
        config_.wait_strategy != WaitStrategy::kContinuous) {
      throw Error("wait_strategy " + std::string(to_string(config_.wait_strategy)) +
                  " waits for snapshots published into loop.features(), but a feature_source "
                  "callable was given: use wait_strategy interval or continuous with a "
                  "feature source, or publish into loop.features() instead");
    }
    if (config_.num_features > 0) {
      slot_ = std::make_unique<FeatureSlot>(config_.max_rows, config_.num_features, clock_,
                                            &poller_wake_);
    }
  }

  ~Impl() override { stop(); }

  // ---- lifecycle ---------------------------------------------------------

  void start() {
    {
      std::lock_guard lock(lifecycle_mutex_);
      if (started_) {
        throw Error("InferenceLoop::start() called twice: a loop starts once; make a new "
                    "InferenceLoop to start again");
      }
      started_ = true;
    }
    try {
      if (options_.backtest) {
        start_backtest();
        return;
      }
      load_replicas();
      // The resolver (on this thread) asked for a stop: start no thread.
      if (stop_requested_.load(std::memory_order_acquire)) return;
      // Before the threads: a callback on them may request a stop at once,
      // and that must not be overwritten.
      running_.store(true, std::memory_order_release);
      launch_threads();
      wait_for_first_result();  // stops the loop itself when it throws
      launch_refresh_thread();
    } catch (...) {
      // Whatever started is stopped and joined; the loop stays stopped.
      stop();
      throw start_error(std::current_exception());
    }
  }

  // What start() throws: always an inferloop::Error, so that an engine
  // needs one catch. A std exception from a predictor factory, a resolver,
  // an allocation or a thread that could not be created is wrapped with what
  // start() was doing and what the config asked for.
  Error start_error(const std::exception_ptr& failure) const {
    const std::string context = "start() of '" + config_.model_uri + "' (predictor_class_name " +
                                config_.predictor_class_name + ", num_replicas " +
                                std::to_string(config_.num_replicas) + ")";
    try {
      std::rethrow_exception(failure);
    } catch (const Error& error) {
      return error;
    } catch (const std::bad_alloc&) {
      return Error(context + ": out of memory while loading the model and allocating the "
                   "loop's buffers (max_rows " + std::to_string(config_.max_rows) +
                   ", history_capacity " + std::to_string(config_.history_capacity) +
                   "); lower max_rows, history_capacity or num_replicas");
    } catch (const std::system_error& error) {
      return Error(context + ": " + error.what() +
                   " (a thread or system resource could not be created; check the process's "
                   "thread and memory limits)");
    } catch (const std::exception& error) {
      return Error(context + " failed: " + error.what());
    } catch (...) {
      return Error(context + " failed with a non-standard exception (from a predictor factory, "
                   "the resolver or a callback)");
    }
  }

  void stop() noexcept {
    if (inside_callback()) {
      request_stop();
      return;
    }
    std::lock_guard lock(lifecycle_mutex_);
    if (backtest_ && !stopped_) {
      stopped_ = true;
      backtest_->stop(clock_->now());
      running_.store(false, std::memory_order_release);
      return;
    }
    if (!threads_started_ || stopped_) return;
    stopped_ = true;
    // Reloads first: abandon a download in progress, join the refresh
    // thread, and wait for an application thread inside reload().
    reload_cancel_.store(true, std::memory_order_release);
    if (refresh_io_) refresh_io_->stop();
    if (refresh_thread_.joinable()) refresh_thread_.join();
    std::unique_lock reload_lock(reload_mutex_);
    stopping_.store(true, std::memory_order_release);
    poller_wake_.notify();
    if (poller_io_) poller_io_->stop();
    if (poller_.joinable()) poller_.join();
    // Whatever was published but never dispatched (also after a stop that a
    // callback requested) is accounted for, so that
    // published == dispatched + conflated + discarded_at_stop holds.
    const std::uint64_t published =
        slot_ && !options_.feature_source ? slot_->last_published_seq() : source_seq_.load();
    const std::uint64_t accounted = dispatched_.load() + conflated_.load();
    discarded_at_stop_.store(published > accounted ? published - accounted : 0);
    // The poller is gone, so nothing is posted any more. Releasing the work
    // guard lets each replica's run loop return once its queue is empty:
    // in-flight predictions finish and their results are delivered.
    for (auto& replica : replicas_) {
      replica->guard.reset();
      replica->wake.notify();
    }
    for (auto& replica : replicas_) {
      if (replica->thread.joinable()) replica->thread.join();
    }
    // Every thread is gone: free models a reload left behind.
    delete staged_.exchange(nullptr, std::memory_order_acq_rel);
    adopting_.reset();
    retired_.clear();
    reload_lock.unlock();
    running_.store(false, std::memory_order_release);
    std::lock_guard wait_lock(wait_mutex_);
    wait_cv_.notify_all();
  }

  [[nodiscard]] bool running() const noexcept { return running_.load(std::memory_order_acquire); }

  // stop() from inside one of this loop's callbacks: joining would wait for
  // the calling thread (or for a reload() that is calling it), so the stop
  // is only requested here and completed by the owner's stop() or the
  // destructor. From now on no snapshot is dispatched, running() is false
  // and wait_for() callers wake.
  void request_stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    running_.store(false, std::memory_order_release);
    // The poller and the refresh thread see these flags at their next wake
    // or tick; the owner's stop() stops their io_contexts and joins them.
    reload_cancel_.store(true, std::memory_order_release);
    stopping_.store(true, std::memory_order_release);
    poller_wake_.notify();
    std::lock_guard wait_lock(wait_mutex_);
    wait_cv_.notify_all();
  }

  [[nodiscard]] bool inside_callback() const noexcept { return t_running_callback_of == this; }

  // reload() and wait_for() would wait for the calling callback itself.
  void refuse_inside_callback(std::string_view call) const {
    if (!inside_callback()) return;
    throw Error("loop." + std::string(call) +
                " called from inside one of this loop's callbacks (on_result, on_error, "
                "on_model_change, the feature source or the resolver), which would wait for "
                "the callback itself; call it from another thread (docs/design.md, "
                "\"Calls from callbacks\")");
  }

  // ---- reading results ---------------------------------------------------

  FeatureSlot& features() {
    if (!slot_) {
      throw Error("loop.features() called before start(): the feature width comes from the "
                  "model, which start() loads; call start() first, or set num_features in the "
                  "config to publish before start()");
    }
    return *slot_;
  }

  Prediction make_prediction() const {
    if (!results_) {
      throw Error("loop.make_prediction() called before start(): the result size comes from "
                  "the model, which start() loads; call start() first");
    }
    return Prediction(results_->capacity());
  }

  bool latest(Prediction& out) const noexcept {
    if (!results_) return false;
    if (out.storage.size() < results_->capacity()) {
#if INFERLOOP_DEBUG_CHECKS
      detail::misuse_abort("InferenceLoop::latest() was given a Prediction with room for " +
                           std::to_string(out.storage.size()) + " values, but this loop's "
                           "results need " + std::to_string(results_->capacity()) +
                           "; make it with loop.make_prediction() after start()");
#endif
      return false;
    }
    sync_backtest();
    return results_->read(out);
  }

  std::uint64_t latest_feature_seq() const noexcept {
    sync_backtest();
    return results_ ? results_->newest_feature_seq() : 0;
  }

  bool wait_for(std::uint64_t feature_seq, std::chrono::nanoseconds timeout, Prediction* out) const {
    refuse_inside_callback("wait_for()");
    if (backtest_) {
      // Simulated time stands still while we wait: what is not visible now
      // cannot become visible until the engine moves the clock.
      sync_backtest();
      if (delivered_seq_.load(std::memory_order_acquire) < feature_seq) return false;
      return out == nullptr || latest(*out);
    }
    // delivered_seq_, not the result slot: a caller woken here may rely on
    // the result being in history() and its callback having returned.
    auto reached = [&] { return delivered_seq_.load(std::memory_order_acquire) >= feature_seq; };
    if (!reached()) {
      std::unique_lock lock(wait_mutex_);
      waiters_.fetch_add(1, std::memory_order_seq_cst);
      // Pairs with the fence in deliver(): see notify_waiters().
      std::atomic_thread_fence(std::memory_order_seq_cst);
      wait_cv_.wait_for(lock, timeout, [&] {
        return reached() || (threads_started_.load() && !running());
      });
      waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
    if (!reached()) return false;
    if (out != nullptr) return latest(*out);
    return true;
  }

  LoopStats stats() const {
    sync_backtest();
    LoopStats s;
    // With a feature source the slot exists but nobody publishes into it.
    const bool from_slot = slot_ && !options_.feature_source;
    s.snapshots_published =
        from_slot ? slot_->last_published_seq() : source_seq_.load(std::memory_order_relaxed);
    s.snapshots_rejected = from_slot ? slot_->rejected() : 0;
    s.dispatched = dispatched_.load(std::memory_order_relaxed);
    s.conflated = conflated_.load(std::memory_order_relaxed);
    s.discarded_at_stop = discarded_at_stop_.load(std::memory_order_relaxed);
    s.predictions = predictions_.load(std::memory_order_relaxed);
    s.errors = errors_.load(std::memory_order_relaxed);
    s.source_errors = source_errors_.load(std::memory_order_relaxed);
    s.stale_results = stale_results_.load(std::memory_order_relaxed);
    s.history_dropped = history_dropped_.load(std::memory_order_relaxed);
    s.in_flight = in_flight_.load(std::memory_order_relaxed);
    s.model_swaps = model_swaps_.load(std::memory_order_relaxed);
    s.model_reload_failures = model_reload_failures_.load(std::memory_order_relaxed);
    s.queue_wait = queue_wait_.summary();
    s.predict = predict_.summary();
    s.publish_to_visible = publish_to_visible_.summary();
    return s;
  }

  std::vector<Prediction> history() const {
    sync_backtest();
    std::lock_guard lock(history_mutex_);
    std::vector<Prediction> out;
    out.reserve(history_size_);
    const std::size_t capacity = history_.size();
    for (std::size_t i = 0; i < history_size_; ++i) {
      const Prediction& entry = history_[(history_head_ + capacity - history_size_ + i) % capacity];
      Prediction copy = entry;
      copy.storage.resize(static_cast<std::size_t>(entry.rows) * entry.cols);
      out.push_back(std::move(copy));
    }
    return out;
  }

  std::optional<LoopError> last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
  }

  ModelInfo model_info() const {
    std::lock_guard lock(model_mutex_);
    if (!model_info_) {
      throw Error("loop.model_info() called before start(): no model is loaded yet");
    }
    return *model_info_;
  }

  const InferenceConfig& config() const noexcept { return config_; }

  std::optional<Timestamp> backtest_idle_at() const {
    if (!backtest_) return std::nullopt;
    return backtest_->idle_at(clock_->now());
  }

  // ---- live reload ---------------------------------------------------------

  // Any thread; serialised by reload_mutex_. Throws after counting and
  // reporting a failure; the serving model is untouched until staging.
  InferenceLoop::ReloadOutcome reload() {
    refuse_inside_callback("reload()");
    if (options_.backtest) {
      throw Error("loop.reload() in backtest mode: a backtest replays one model; start another "
                  "backtest to compare models");
    }
    if (!threads_started_.load() || !running()) {
      throw Error("loop.reload() called while the loop is not running: call start() first");
    }
    std::lock_guard lock(reload_mutex_);
    collect_retired();
    if (reload_cancel_.load(std::memory_order_acquire)) {
      throw Error("loop.reload(): the loop is stopping");
    }
    const std::uint64_t serving = last_model_version_;
    try {
      ResolvedModel candidate;
      if (uri_moving_ && !options_.resolver) {
        if (!refresh_client_) {
          MlflowOptions mlflow = mlflow_options(config_).from_environment();
          // A refresh is retried by the next one: a server that is down must
          // not hold the refresh thread in minutes of backoff.
          mlflow.max_retries = std::min(mlflow.max_retries, 2);
          mlflow.cancel = &reload_cancel_;
          refresh_client_ = std::make_unique<MlflowClient>(std::move(mlflow));
        }
        const std::string version = refresh_client_->current_version(config_.model_uri);
        if (version == serving_registry_version_) {
          return {false, serving, version,
                  "'" + config_.model_uri + "' still names registry version " + version};
        }
        candidate = refresh_client_->resolve(pinned_registry_uri(*parsed_uri_, version));
        candidate.uri = config_.model_uri;
      } else {
        candidate = resolve_configured(config_.model_uri);
        if (model_identity(candidate) == serving_identity_) {
          return {false, serving, candidate.registry_version,
                  "'" + config_.model_uri + "' still resolves to the model serving (" +
                      candidate.model_file.string() + ")"};
        }
      }
      SharedPredictorState shared;
      auto generation = std::make_unique<ModelGeneration>();
      generation->predictors = make_predictors(candidate, shared);
      generation->model_version = serving + 1;
      // Before staging: after it, the poller owns these predictors.
      const std::string description = generation->predictors.front()->describe();
      {
        // Room for what the poller retires at the switch (each replica's old
        // predictor, and a previous generation's unused ones), so that it
        // never allocates.
        std::lock_guard retired_lock(retired_mutex_);
        retired_.reserve(retired_.size() + 4 * replicas_.size());
      }
      // A generation staged earlier that no dispatch took yet is replaced.
      std::unique_ptr<ModelGeneration> unused(
          staged_.exchange(generation.release(), std::memory_order_acq_rel));
      last_model_version_ = serving + 1;
      const std::string detail =
          serving_registry_version_.empty() || candidate.registry_version.empty()
              ? "model file " + candidate.model_file.string()
              : "registry version " + serving_registry_version_ + " -> " +
                    candidate.registry_version;
      serving_identity_ = model_identity(candidate);
      serving_registry_version_ = candidate.registry_version;
      model_swaps_.fetch_add(1, std::memory_order_relaxed);
      ModelInfo info{last_model_version_, candidate, description, num_features_, num_outputs_};
      {
        std::lock_guard model_lock(model_mutex_);
        model_info_ = info;
      }
      if (options_.on_model_change) {
        try {
          CallbackScope scope(this);
          options_.on_model_change(info);
        } catch (...) {
          // Like the other callbacks: a throwing handler must not undo the swap.
        }
      }
      return {true, last_model_version_, candidate.registry_version, detail};
    } catch (const std::exception& e) {
      model_reload_failures_.fetch_add(1, std::memory_order_relaxed);
      std::string message = "reload of '" + config_.model_uri + "' failed; still serving model_version " +
                            std::to_string(serving) +
                            (serving_registry_version_.empty()
                                 ? std::string()
                                 : " (registry version " + serving_registry_version_ + ")") +
                            ": " + e.what();
      report_error({message, 0, 0, clock_->now()});
      throw Error(message);
    }
  }

 private:
  struct Replica {
    explicit Replica(std::uint32_t replica_id) : id(replica_id), io(1) {}

    const std::uint32_t id;
    std::unique_ptr<Predictor> predictor;
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::thread thread;
    // Bumped when work is posted or the guard is released; the replica's
    // thread sleeps on it between tasks.
    WakeSignal wake;
    // Set true by the poller when it dispatches (relaxed: the post publishes
    // it), set false by the replica when it is done (release; the poller
    // reads it with acquire before reusing `input`).
    std::atomic<bool> busy{false};

    // Owned by the poller while !busy, by the replica while busy.
    std::vector<float> input;
    std::size_t rows = 0;
    std::uint64_t feature_seq = 0;
    Timestamp feature_time{0};
    Timestamp published_at{0};
    // Which model `predictor` is: the poller switches it (and `predictor`)
    // to a reloaded model while the replica is idle.
    std::uint64_t model_version = 1;
    // Owned by the replica thread.
    Prediction output;
  };

  // ---- start() helpers ---------------------------------------------------

  ResolvedModel resolve_configured(const std::string& uri) {
    if (options_.resolver) {
      CallbackScope scope(this);
      return options_.resolver(uri);
    }
    MlflowOptions mlflow = mlflow_options(config_);
    mlflow.cancel = &reload_cancel_;
    return resolve_model(uri, mlflow);
  }

  // Owner thread (start) or a reloading thread. One predictor per replica
  // (per compute thread in a backtest), each checked against the loop's
  // shape (set here by the first load) and warmed up.
  std::vector<std::unique_ptr<Predictor>> make_predictors(const ResolvedModel& model,
                                                          SharedPredictorState& shared) {
    // A backtest simulates num_replicas replicas but computes with one
    // predictor per compute thread.
    const auto count = static_cast<std::uint32_t>(
        options_.backtest ? options_.backtest->threads
                          : static_cast<std::size_t>(config_.num_replicas));
    std::vector<std::unique_ptr<Predictor>> predictors;
    for (std::uint32_t id = 0; id < count; ++id) {
      PredictorContext context{config_, model, id, shared};
      predictors.push_back(registry_->create(config_.predictor_class_name, context));
    }
    const Predictor& first = *predictors.front();
    const bool first_load = num_features_ == 0;
    if (first_load) {
      num_features_ = first.num_features();
      num_outputs_ = first.num_outputs();
      check_width(model, first);
    } else if (first.num_features() != num_features_ || first.num_outputs() != num_outputs_) {
      throw Error("the new model " + model.model_file.string() +
                  (model.registry_version.empty() ? std::string()
                                                  : " (registry version " + model.registry_version + ")") +
                  " takes " + std::to_string(first.num_features()) + " features and gives " +
                  std::to_string(first.num_outputs()) + " output(s) per row, but this loop serves " +
                  std::to_string(num_features_) + " and " + std::to_string(num_outputs_) +
                  ": a live reload cannot change the shape; restart the loop to serve it");
    } else {
      check_width(model, first);
    }
    for (std::uint32_t id = 0; id < count; ++id) {
      Predictor& predictor = *predictors[id];
      if (predictor.num_features() != num_features_ || predictor.num_outputs() != num_outputs_) {
        throw Error("replica " + std::to_string(id) + " of '" + config_.model_uri +
                    "' reports a different shape than replica 0; every replica must serve the "
                    "same model");
      }
      try {
        predictor.warm_up();
      } catch (const std::exception& e) {
        throw Error("warm-up of replica " + std::to_string(id) + " (" + predictor.describe() +
                    ") failed: " + e.what());
      }
    }
    return predictors;
  }

  void load_replicas() {
    const ResolvedModel model = resolve_configured(config_.model_uri);
    SharedPredictorState shared;
    std::vector<std::unique_ptr<Predictor>> predictors = make_predictors(model, shared);
    for (std::uint32_t id = 0; id < predictors.size(); ++id) {
      auto replica = std::make_unique<Replica>(id);
      replica->predictor = std::move(predictors[id]);
      replicas_.push_back(std::move(replica));
    }
    const Predictor& first = *replicas_.front()->predictor;
    serving_identity_ = model_identity(model);
    serving_registry_version_ = model.registry_version;
    try {
      parsed_uri_ = parse_model_uri(config_.model_uri);
      uri_moving_ = parsed_uri_->moving();
    } catch (const Error&) {
      // A URI only a custom resolver understands: reload() resolves it again.
      uri_moving_ = false;
    }
    for (auto& replica : replicas_) {
      replica->input.assign(config_.max_rows * num_features_, 0.0F);
      replica->output = Prediction(config_.max_rows * num_outputs_);
    }
    if (!slot_) {
      slot_ = std::make_unique<FeatureSlot>(config_.max_rows, num_features_, clock_, &poller_wake_);
    }
    source_scratch_.assign(config_.max_rows * num_features_, 0.0F);
    source_pending_.assign(config_.max_rows * num_features_, 0.0F);
    results_ = std::make_unique<detail::ResultSlot>(config_.max_rows * num_outputs_);
    history_.assign(config_.history_capacity, Prediction(config_.max_rows * num_outputs_));

    std::lock_guard lock(model_mutex_);
    model_info_ = ModelInfo{1, model, first.describe(), num_features_, num_outputs_};
  }

  void check_width(const ResolvedModel& model, const Predictor& predictor) const {
    const std::size_t width = predictor.num_features();
    if (config_.num_features != 0 && config_.num_features != width) {
      throw Error("num_features is " + std::to_string(config_.num_features) +
                  " in the config, but the model '" + config_.model_uri + "' takes " +
                  std::to_string(width) + " features per row; fix num_features (or remove it to " +
                  "take the width from the model)");
    }
    if (!model.signature_inputs.empty() && model.signature_inputs.size() != width) {
      throw Error("the MLmodel signature of '" + config_.model_uri + "' lists " +
                  std::to_string(model.signature_inputs.size()) + " inputs, but the model file " +
                  model.model_file.string() + " takes " + std::to_string(width) +
                  " features; the MLflow model folder is inconsistent: log the model again");
    }
  }

  void launch_threads() {
    // First: if creating a thread fails half-way, stop() must join the ones
    // that did start.
    threads_started_.store(true);
    const WaitStrategy replica_strategy = replica_wait_strategy(config_.wait_strategy);
    for (auto& replica_ptr : replicas_) {
      Replica* replica = replica_ptr.get();
      replica->guard.emplace(replica->io.get_executor());
      replica->thread = std::thread([this, replica, replica_strategy] {
        name_this_thread("inferloop-r" + std::to_string(replica->id));
        replica_main(*replica, replica_strategy);
      });
    }
    if (config_.wait_strategy == WaitStrategy::kInterval) {
      poller_io_ = std::make_unique<asio::io_context>(1);
    }
    poller_ = std::thread([this] {
      name_this_thread("inferloop-poll");
      poller_main();
    });
  }

  // A refresh thread only where polling can find something new: a moving
  // MLflow reference, or a custom resolver (asked again on each tick).
  void launch_refresh_thread() {
    if (config_.model_refresh_interval.count() == 0) return;
    if (!uri_moving_ && !options_.resolver) return;
    if (stop_requested_.load(std::memory_order_acquire)) return;
    refresh_io_ = std::make_unique<asio::io_context>(1);
    refresh_thread_ = std::thread([this] {
      name_this_thread("inferloop-mdl");
      asio::steady_timer timer(*refresh_io_);
      std::function<void(const boost::system::error_code&)> tick =
          [&](const boost::system::error_code& ec) {
            if (ec || reload_cancel_.load(std::memory_order_acquire)) return;
            try {
              reload();
            } catch (...) {
              // Counted and reported by reload(); the next tick retries.
            }
            timer.expires_after(config_.model_refresh_interval);
            timer.async_wait(tick);
          };
      timer.expires_after(config_.model_refresh_interval);
      timer.async_wait(tick);
      refresh_io_->run();
    });
  }

  // Reloading thread, under reload_mutex_: frees the predictors the poller
  // switched replicas away from (outside the lock: freeing a model can take
  // milliseconds, and the poller takes retired_mutex_ to retire one).
  void collect_retired() {
    std::vector<std::unique_ptr<Predictor>> garbage;
    {
      std::lock_guard lock(retired_mutex_);
      garbage.reserve(retired_.capacity());
      std::swap(garbage, retired_);
    }
  }

  void wait_for_first_result() {
    if (config_.startup_timeout.count() == 0) return;
    const bool expect_result = static_cast<bool>(options_.feature_source) ||
                               slot_->last_published_seq() > 0;
    if (!expect_result) return;
    const std::uint64_t target = options_.feature_source ? 1 : slot_->last_published_seq();
    if (wait_for(target, config_.startup_timeout, nullptr)) return;
    const auto error = last_error();
    const LoopStats s = stats();
    stop();
    std::string message = "no first result within startup_timeout (" +
                          detail::duration_text(config_.startup_timeout) + "): waited for the prediction of " +
                          (options_.feature_source ? std::string("the feature source's first snapshot")
                                                   : "feature_seq " + std::to_string(target)) +
                          " from " + std::to_string(replicas_.size()) + " replica(s) of '" +
                          config_.model_uri + "'; " + std::to_string(s.dispatched) +
                          " snapshot(s) dispatched, " + std::to_string(s.errors + s.source_errors) +
                          " error(s)";
    if (error) message += "; last error: " + error->message;
    message += ". Check that the feature source returns data and the predictor succeeds, or raise "
               "startup_timeout";
    throw Error(message);
  }

  // ---- backtest mode -----------------------------------------------------

  void start_backtest() {
    const BacktestOptions& backtest = *options_.backtest;
    if (!clock_->is_simulated()) {
      throw Error("backtest mode needs a simulated clock: LoopOptions::backtest is set but "
                  "LoopOptions::clock is not simulated (is_simulated() is false); pass a "
                  "std::make_shared<inferloop::ManualClock>() and move it as the backtest "
                  "replays events");
    }
    if (options_.feature_source) {
      throw Error("backtest mode takes snapshots published into loop.features(), but a "
                  "feature_source callable was given: publish each event's features instead");
    }
    if (backtest.threads < 1 || backtest.threads > 256) {
      throw Error("BacktestOptions::threads is " + std::to_string(backtest.threads) +
                  "; it must be 1..256 (the threads that compute predictions)");
    }
    load_replicas();
    std::vector<Predictor*> predictors;
    for (auto& replica : replicas_) predictors.push_back(replica->predictor.get());
    backtest_ = std::make_unique<detail::BacktestEngine>(
        backtest, static_cast<std::size_t>(config_.num_replicas), std::move(predictors),
        num_features_, num_outputs_, config_.max_rows, static_cast<detail::BacktestHost&>(*this));
    // Snapshots published before start() sat in the triple buffer: the
    // newest arrives now, the older ones were conflated, as live.
    FeatureSnapshot early;
    if (slot_->take_newest(early)) {
      if (early.feature_seq > 1) conflated_.fetch_add(early.feature_seq - 1);
      backtest_->on_publish(early);
    }
    slot_->set_publish_observer(
        [](void* loop, const FeatureSnapshot& snapshot) noexcept {
          static_cast<Impl*>(loop)->backtest_publish(snapshot);
        },
        this);
    threads_started_.store(true);
    running_.store(true, std::memory_order_release);
  }

  // The engine thread, inside publish(). After a stop request from a
  // callback, snapshots are no longer simulated (as live: none is dispatched).
  void backtest_publish(const FeatureSnapshot& snapshot) noexcept {
    if (stop_requested_.load(std::memory_order_acquire)) {
      discarded_at_stop_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    backtest_->on_publish(snapshot);
  }

  void sync_backtest() const noexcept {
    if (backtest_) backtest_->sync(clock_->now());
  }

  // BacktestHost: called by the engine, in simulation order.
  void backtest_dispatched(const detail::SimJob& job) noexcept override {
    dispatched_.fetch_add(1, std::memory_order_relaxed);
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    queue_wait_.record(job.started_at - job.published_at);
    predict_.record(job.visible_at - job.started_at);
  }
  void backtest_conflated() noexcept override {
    conflated_.fetch_add(1, std::memory_order_relaxed);
  }
  void backtest_discarded() noexcept override {
    discarded_at_stop_.fetch_add(1, std::memory_order_relaxed);
  }
  void backtest_result(const Prediction& result) noexcept override {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    predictions_.fetch_add(1, std::memory_order_relaxed);
    deliver(result);
  }
  void backtest_failed(const LoopError& error) noexcept override {
    if (error.feature_seq == 0) {
      source_errors_.fetch_add(1, std::memory_order_relaxed);
    } else {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
    report_error(error);
  }

  // ---- the poller thread -------------------------------------------------

  void poller_main() {
    switch (config_.wait_strategy) {
      case WaitStrategy::kInterval:
        run_interval_poller();
        break;
      case WaitStrategy::kContinuous:
        if (options_.feature_source) {
          run_continuous_source_poller();
          break;
        }
        [[fallthrough]];
      default:
        run_event_poller();
        break;
    }
  }

  // spin / spin_then_block / block (and continuous without a source): wait
  // for a publish or a replica going idle, then dispatch the newest snapshot.
  void run_event_poller() {
    const WaitStrategy strategy = config_.wait_strategy == WaitStrategy::kContinuous
                                      ? WaitStrategy::kSpinThenBlock
                                      : config_.wait_strategy;
    while (true) {
      const std::uint32_t epoch = poller_wake_.epoch();
      if (stopping_.load(std::memory_order_acquire)) return;
      take_from_slot();
      if (has_pending_ && dispatch_pending()) continue;
      poller_wake_.wait(epoch, strategy, config_.spin_duration);
    }
  }

  // interval: a Boost.Asio steady_timer ticks every `interval`; each tick
  // takes the newest snapshot (or asks the source) and dispatches it if a
  // replica is idle, else keeps it pending for the next tick.
  void run_interval_poller() {
    asio::steady_timer timer(*poller_io_);
    auto deadline = std::chrono::steady_clock::now() + config_.interval;
    std::function<void(const boost::system::error_code&)> tick =
        [&](const boost::system::error_code& ec) {
          if (ec || stopping_.load(std::memory_order_acquire)) return;
          if (options_.feature_source) {
            pull_from_source();
          } else {
            take_from_slot();
          }
          if (has_pending_) dispatch_pending();
          // Drift-free schedule; after a stall, skip the missed ticks rather than burst.
          deadline += config_.interval;
          const auto now = std::chrono::steady_clock::now();
          if (deadline < now) deadline = now + config_.interval;
          timer.expires_at(deadline);
          timer.async_wait(tick);
        };
    timer.expires_at(deadline);
    timer.async_wait(tick);
    poller_io_->run();
  }

  // continuous with a source: the reference design's loop. Whenever a
  // replica is idle, ask the source for features and dispatch them.
  void run_continuous_source_poller() {
    while (!stopping_.load(std::memory_order_acquire)) {
      const std::uint32_t epoch = poller_wake_.epoch();
      if (find_idle_replica() == nullptr) {
        poller_wake_.wait(epoch, WaitStrategy::kSpinThenBlock, config_.spin_duration);
        continue;
      }
      if (pull_from_source()) {
        dispatch_pending();
      } else {
        std::this_thread::yield();
      }
    }
  }

  // Poller thread. Takes the newest snapshot from the slot into `pending_`,
  // counting every snapshot that will now never be dispatched.
  void take_from_slot() {
    FeatureSnapshot snapshot;
    if (!slot_->take_newest(snapshot)) return;
    // Snapshots overwritten in the slot before the poller saw them, plus a
    // pending one this snapshot replaces.
    std::uint64_t lost = snapshot.feature_seq - last_taken_seq_ - 1;
    if (has_pending_) ++lost;
    if (lost > 0) conflated_.fetch_add(lost, std::memory_order_relaxed);
    last_taken_seq_ = snapshot.feature_seq;
    pending_ = snapshot;
    has_pending_ = true;
  }

  // Poller thread. Asks the feature source for a snapshot; true if it gave one.
  bool pull_from_source() {
    FeatureRequest request;
    request.values = std::span<float>(source_scratch_);
    request.cols = num_features_;
    request.rows = 1;
    request.feature_time = clock_->now();
    bool produced = false;
    try {
      CallbackScope scope(this);
      produced = options_.feature_source(request);
    } catch (const std::exception& e) {
      source_errors_.fetch_add(1, std::memory_order_relaxed);
      report_error({std::string("feature source threw: ") + e.what(), 0, 0, clock_->now()});
      return false;
    } catch (...) {
      source_errors_.fetch_add(1, std::memory_order_relaxed);
      report_error({"feature source threw a non-standard exception", 0, 0, clock_->now()});
      return false;
    }
    if (!produced) return false;
    if (request.rows == 0 || request.rows > config_.max_rows) {
      source_errors_.fetch_add(1, std::memory_order_relaxed);
      report_error({"feature source reported " + std::to_string(request.rows) +
                        " rows; it must write 1.." + std::to_string(config_.max_rows) +
                        " rows (max_rows)",
                    0, 0, clock_->now()});
      return false;
    }
    const std::uint64_t feature_seq = source_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (has_pending_) conflated_.fetch_add(1, std::memory_order_relaxed);
    // The source wrote into scratch; a call that returned false or threw may
    // have left half a snapshot there, so only a complete one becomes pending.
    std::swap(source_scratch_, source_pending_);
    pending_.values = std::span<const float>(source_pending_.data(), request.rows * num_features_);
    pending_.rows = request.rows;
    pending_.cols = num_features_;
    pending_.feature_seq = feature_seq;
    pending_.feature_time = request.feature_time;
    pending_.published_at = clock_->now();
    has_pending_ = true;
    return true;
  }

  Replica* find_idle_replica() {
    const std::size_t count = replicas_.size();
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t index = (next_replica_ + i) % count;
      if (!replicas_[index]->busy.load(std::memory_order_acquire)) {
        next_replica_ = (index + 1) % count;
        return replicas_[index].get();
      }
    }
    return nullptr;
  }

  // Poller thread. Dispatches `pending_` to the next idle replica, if any.
  bool dispatch_pending() {
    if (staged_.load(std::memory_order_relaxed) != nullptr) adopt_staged_model();
    Replica* replica = find_idle_replica();
    if (replica == nullptr) return false;
    if (replica->model_version != serving_version_) switch_model(*replica);
    std::copy(pending_.values.begin(), pending_.values.end(), replica->input.begin());
    replica->rows = pending_.rows;
    replica->feature_seq = pending_.feature_seq;
    replica->feature_time = pending_.feature_time;
    replica->published_at = pending_.published_at;
    replica->busy.store(true, std::memory_order_relaxed);
    has_pending_ = false;
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    dispatched_.fetch_add(1, std::memory_order_relaxed);
    asio::post(replica->io, [this, replica] { predict_on(*replica); });
    replica->wake.notify();
    return true;
  }

  // Poller thread. Takes a staged reload: every dispatch from now on uses it.
  void adopt_staged_model() {
    std::unique_ptr<ModelGeneration> next(staged_.exchange(nullptr, std::memory_order_acquire));
    if (!next) return;
    if (adopting_) {
      // Replicas that never got round to the previous reload skip it.
      std::lock_guard lock(retired_mutex_);
      for (auto& unused : adopting_->predictors) {
        if (unused) retired_.push_back(std::move(unused));
      }
    }
    adopting_ = std::move(next);
    serving_version_ = adopting_->model_version;
  }

  // Poller thread, `replica` idle (so the poller owns its predictor).
  void switch_model(Replica& replica) {
    std::lock_guard lock(retired_mutex_);
    retired_.push_back(std::move(replica.predictor));
    replica.predictor = std::move(adopting_->predictors[replica.id]);
    replica.model_version = serving_version_;
  }

  // ---- replica threads ---------------------------------------------------

  // Runs the replica's io_context until its work guard is released and its
  // queue is empty. Between tasks it waits like the poller does.
  static void replica_main(Replica& replica, WaitStrategy strategy) {
    if (strategy == WaitStrategy::kBlock) {
      replica.io.run();
      return;
    }
    while (!replica.io.stopped()) {
      const std::uint32_t epoch = replica.wake.epoch();
      if (replica.io.poll() > 0) continue;
      if (replica.io.stopped()) break;
      // Nothing queued: wait for the poller's next post (or the guard's release).
      replica.wake.wait(epoch, strategy, std::chrono::microseconds(50));
    }
  }

  // Replica thread: one prediction, start to finish. Never throws.
  void predict_on(Replica& replica) noexcept {
    const Timestamp started = clock_->now();
    queue_wait_.record(started - replica.published_at);
    const std::size_t rows = replica.rows;
    try {
      replica.predictor->predict(
          std::span<const float>(replica.input.data(), rows * num_features_), rows,
          std::span<float>(replica.output.storage.data(), rows * num_outputs_));
      const Timestamp finished = clock_->now();
      predict_.record(finished - started);
      Prediction& result = replica.output;
      result.feature_seq = replica.feature_seq;
      result.feature_time = replica.feature_time;
      result.published_at = replica.published_at;
      result.started_at = started;
      result.completed_at = finished;
      result.model_version = replica.model_version;
      result.replica_id = replica.id;
      result.rows = static_cast<std::uint32_t>(rows);
      result.cols = static_cast<std::uint32_t>(num_outputs_);
      predictions_.fetch_add(1, std::memory_order_relaxed);
      deliver(result);
    } catch (const std::exception& e) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      report_error({e.what(), replica.feature_seq, replica.id, clock_->now()});
    } catch (...) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      report_error({"predictor threw a non-standard exception", replica.feature_seq, replica.id,
                    clock_->now()});
    }
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    replica.busy.store(false, std::memory_order_release);
    poller_wake_.notify();
  }

  // Replica thread: makes a result visible if it is the newest.
  void deliver(const Prediction& result) noexcept {
    // Serialises publication, history and callback across replicas, so
    // callbacks and history see results in feature_seq order.
    std::lock_guard delivery_lock(delivery_mutex_);
    if (!results_->publish_if_newer(result)) {
      stale_results_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    publish_to_visible_.record(result.completed_at - result.published_at);
    if (!history_.empty()) {
      std::lock_guard lock(history_mutex_);
      // Same-size vector assignment copies in place: no allocation.
      history_[history_head_] = result;
      history_head_ = (history_head_ + 1) % history_.size();
      if (history_size_ == history_.size()) {
        history_dropped_.fetch_add(1, std::memory_order_relaxed);
      } else {
        ++history_size_;
      }
    }
    if (options_.on_result) {
      try {
        CallbackScope scope(this);
        options_.on_result(result);
      } catch (const std::exception& e) {
        report_error({std::string("result callback threw: ") + e.what(), result.feature_seq,
                      result.replica_id, clock_->now()});
      } catch (...) {
        report_error({"result callback threw a non-standard exception", result.feature_seq,
                      result.replica_id, clock_->now()});
      }
    }
    delivered_seq_.store(result.feature_seq, std::memory_order_release);
    notify_waiters();
  }

  // Wakes wait_for() callers, paying for the mutex only when there are any.
  // Memory ordering: the result's release store, then this seq_cst fence,
  // then the load of waiters_; a waiter increments waiters_ (seq_cst), fences,
  // then re-reads the result under the mutex. One of the two always sees the
  // other, so no waiter sleeps through its result.
  void notify_waiters() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    std::lock_guard lock(wait_mutex_);
    wait_cv_.notify_all();
  }

  void report_error(LoopError error) noexcept {
    try {
      {
        std::lock_guard lock(error_mutex_);
        last_error_ = error;
      }
      if (options_.on_error) {
        CallbackScope scope(this);
        options_.on_error(error);
      }
    } catch (...) {
      // An error handler that throws must not take the loop down with it;
      // the error is already counted and kept as last_error().
    }
  }

  // ---- state -------------------------------------------------------------

  InferenceConfig config_;
  LoopOptions options_;
  std::shared_ptr<Clock> clock_;
  const PredictorRegistry* registry_ = nullptr;

  // Set during start() by the owner thread, read-only afterwards.
  std::size_t num_features_ = 0;
  std::size_t num_outputs_ = 0;
  std::unique_ptr<FeatureSlot> slot_;
  std::unique_ptr<detail::ResultSlot> results_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  // Backtest mode only: made by start(), driven under its own mutex.
  std::unique_ptr<detail::BacktestEngine> backtest_;

  // Lifecycle; guarded by lifecycle_mutex_ (owner thread).
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  std::thread poller_;
  std::unique_ptr<asio::io_context> poller_io_;  // interval mode's timer runs here
  // Written once by start() (seq_cst), read by wait_for() on any thread.
  std::atomic<bool> threads_started_{false};
  // Written by start()/stop(); read by anyone (acquire).
  std::atomic<bool> running_{false};
  // Written by stop() and request_stop(); read by the poller (acquire).
  std::atomic<bool> stopping_{false};
  // Written by request_stop() (release: a stop() from inside a callback);
  // read by start(), the refresh launch and backtest publishes (acquire).
  std::atomic<bool> stop_requested_{false};

  // Woken by publishes, replicas going idle and stop().
  WakeSignal poller_wake_;

  // Poller-thread state.
  FeatureSnapshot pending_;
  bool has_pending_ = false;
  std::uint64_t last_taken_seq_ = 0;
  std::size_t next_replica_ = 0;
  std::vector<float> source_scratch_;  // the feature source writes here
  std::vector<float> source_pending_;  // the last complete snapshot it produced

  // Counters: each written by the poller or the replicas with relaxed
  // read-modify-writes, read by stats() (relaxed; exact once joined).
  std::atomic<std::uint64_t> source_seq_{0};  // poller: snapshots a source produced
  std::atomic<std::uint64_t> dispatched_{0};
  std::atomic<std::uint64_t> conflated_{0};
  std::atomic<std::uint64_t> discarded_at_stop_{0};
  std::atomic<std::uint64_t> predictions_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> source_errors_{0};
  std::atomic<std::uint64_t> stale_results_{0};
  std::atomic<std::uint64_t> history_dropped_{0};
  std::atomic<std::uint64_t> in_flight_{0};
  detail::LatencyHistogram queue_wait_;
  detail::LatencyHistogram predict_;
  detail::LatencyHistogram publish_to_visible_;

  // Held by a replica thread while it delivers a result.
  std::mutex delivery_mutex_;
  // feature_seq of the newest result whose delivery (slot, history, callback)
  // is complete. Written under delivery_mutex_ (release), read by wait_for().
  std::atomic<std::uint64_t> delivered_seq_{0};

  // wait_for(): waiters_ counts callers inside wait_cv_.wait_for.
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_cv_;
  mutable std::atomic<std::uint32_t> waiters_{0};

  // History ring: guarded by history_mutex_ (replica threads write, anyone reads).
  mutable std::mutex history_mutex_;
  std::vector<Prediction> history_;
  std::size_t history_head_ = 0;  // next slot to write
  std::size_t history_size_ = 0;

  mutable std::mutex error_mutex_;
  std::optional<LoopError> last_error_;  // guarded by error_mutex_

  mutable std::mutex model_mutex_;
  std::optional<ModelInfo> model_info_;  // guarded by model_mutex_

  // ---- live reload -------------------------------------------------------
  // Serialises reload() (application threads and the refresh thread) and
  // guards everything below up to staged_.
  std::mutex reload_mutex_;
  // Set by stop() (release); read by reloads and, through
  // MlflowOptions::cancel, by a download in progress (acquire).
  std::atomic<bool> reload_cancel_{false};
  std::unique_ptr<MlflowClient> refresh_client_;
  std::optional<ModelUri> parsed_uri_;  // set by start(), read-only afterwards
  bool uri_moving_ = false;             // set by start(), read-only afterwards
  std::string serving_identity_;        // model_identity() of the newest model
  std::string serving_registry_version_;
  std::uint64_t last_model_version_ = 1;  // model_version of the newest model
  std::thread refresh_thread_;            // owner thread: start() and stop()
  std::unique_ptr<asio::io_context> refresh_io_;
  // The hand-over to the poller: written by a reload (exchange, acq_rel),
  // taken by the poller (exchange, acquire: the predictors were built and
  // warmed before the release).
  std::atomic<ModelGeneration*> staged_{nullptr};
  // Poller-thread state: the generation replicas are switching to, and the
  // model_version new dispatches get.
  std::unique_ptr<ModelGeneration> adopting_;
  std::uint64_t serving_version_ = 1;
  // Predictors switched away from, freed by the next reload or stop().
  std::mutex retired_mutex_;
  std::vector<std::unique_ptr<Predictor>> retired_;
  // Written by reloads (relaxed), read by stats().
  std::atomic<std::uint64_t> model_swaps_{0};
  std::atomic<std::uint64_t> model_reload_failures_{0};
};

// ---- InferenceLoop: forwards to Impl -------------------------------------

InferenceLoop::InferenceLoop(InferenceConfig config, LoopOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}
InferenceLoop::~InferenceLoop() = default;
void InferenceLoop::start() { impl_->start(); }
void InferenceLoop::stop() noexcept { impl_->stop(); }
bool InferenceLoop::running() const noexcept { return impl_->running(); }
FeatureSlot& InferenceLoop::features() { return impl_->features(); }
Prediction InferenceLoop::make_prediction() const { return impl_->make_prediction(); }
bool InferenceLoop::latest(Prediction& out) const noexcept { return impl_->latest(out); }
std::uint64_t InferenceLoop::latest_feature_seq() const noexcept { return impl_->latest_feature_seq(); }
bool InferenceLoop::wait_for(std::uint64_t feature_seq, std::chrono::nanoseconds timeout,
                             Prediction* out) const {
  return impl_->wait_for(feature_seq, timeout, out);
}
LoopStats InferenceLoop::stats() const { return impl_->stats(); }
std::vector<Prediction> InferenceLoop::history() const { return impl_->history(); }
std::optional<LoopError> InferenceLoop::last_error() const { return impl_->last_error(); }
ModelInfo InferenceLoop::model_info() const { return impl_->model_info(); }
InferenceLoop::ReloadOutcome InferenceLoop::reload() { return impl_->reload(); }
const InferenceConfig& InferenceLoop::config() const noexcept { return impl_->config(); }
std::optional<Timestamp> InferenceLoop::backtest_idle_at() const {
  return impl_->backtest_idle_at();
}

}  // namespace inferloop
