// InferenceLoop: the facade. It owns the loop's parts, builds them in
// start() and takes them down in stop(), in an order that keeps every
// guarantee of include/inferloop/inference_loop.hpp. The parts, one job each:
//
//   FeatureSlot      the engine's wait-free hand-over (include/inferloop/feature_slot.hpp)
//   Dispatcher       the poller thread: waits, takes the newest snapshot,
//                    round-robin to an idle replica, conflation (dispatcher.hpp)
//   Replica          a predictor and its in-flight prediction (replica.hpp)
//   Delivery         result slot, history, on_result, wait_for (delivery.hpp)
//   ModelLoader      model_uri -> checked, warmed predictors (model_loader.hpp)
//   ModelReloader    live reload and the refresh thread (model_reloader.hpp)
//   LoopCounters     one writer per counter, summed by stats() (loop_counters.hpp)
//   ErrorSink        last_error() and on_error (error_sink.hpp)
//   BacktestDriver   backtest mode: the simulation instead of the threads
//                    (src/backtest/backtest_driver.hpp)
//   MetricsServer    /metrics on config.metrics_listen (src/metrics/); it
//                    reads the others through observe() and knows nothing else
//
// Live and backtest mode are the two drivers of the same Delivery and
// LoopCounters: a live loop runs a Dispatcher (and a ModelReloader), a
// backtest a BacktestDriver; everything that reads results is shared.
//
// start() order: resolve and build the predictors (the first build fixes the
// shape), then the slot, counters and delivery, then the drivers, then the
// metrics server; `built_` (release) publishes them to readers on other
// threads. stop() order: the metrics server first (no scrape reads a part
// being stopped), then reloads (cancel, join the refresh thread, hold off
// reload()), then
// the poller (no more dispatches), then the replicas (they finish and
// deliver what they run), then the models a reload left behind.
//
// Why over 500 lines: the start/stop order above is the one thing this file
// owns, and every public method of InferenceLoop forwards here with its
// lifecycle check; the parts' own logic lives in their files.
#include "inferloop/inference_loop.hpp"

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "backtest/backtest_driver.hpp"
#include "config/loop_memory.hpp"
#include "inferloop/error.hpp"
#include "loop/callback_scope.hpp"
#include "loop/delivery.hpp"
#include "loop/dispatcher.hpp"
#include "loop/error_sink.hpp"
#include "loop/loop_counters.hpp"
#include "loop/loop_access.hpp"
#include "loop/model_loader.hpp"
#include "loop/model_reloader.hpp"
#include "loop/replica.hpp"
#include "metrics/metrics_server.hpp"
#include "util/device.hpp"
#include "util/misuse.hpp"
#include "util/text.hpp"

namespace inferloop {

class InferenceLoop::Impl final {
 public:
  Impl(InferenceConfig config, LoopOptions options)
      : config_(std::move(config)),
        options_(std::move(options)),
        clock_(options_.clock ? options_.clock : system_clock()),
        registry_(options_.registry != nullptr ? options_.registry : &PredictorRegistry::global()),
        errors_(this, options_.on_error),
        loader_(this, config_, *registry_, options_.resolver) {
    config_.validate();
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

  ~Impl() { stop(); }

  // ---- lifecycle ------------------------------------------------------------

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
      } else {
        start_live();
      }
    } catch (...) {
      // Whatever started is stopped and joined; the loop stays stopped.
      stop();
      throw start_error(std::current_exception());
    }
  }

  void stop() noexcept {
    if (detail::CallbackScope::inside_callback_of(this)) {
      request_stop();
      return;
    }
    std::lock_guard lock(lifecycle_mutex_);
    if (stopped_) return;
    stopped_ = true;
    metrics_server_.reset();
    if (backtest_) {
      backtest_->stop(clock_->now());
    } else {
      std::unique_lock reload_lock =
          reloader_ ? reloader_->stop() : std::unique_lock<std::mutex>();
      loader_.cancel();
      if (dispatcher_) dispatcher_->stop();
      // Whatever was published but never dispatched (also after a stop that
      // a callback requested) is accounted for, so that
      // published == dispatched + conflated + discarded_at_stop holds.
      if (counters_) {
        detail::DispatchCounters& dispatch = counters_->dispatch();
        const std::uint64_t published = published_count();
        const std::uint64_t accounted = dispatch.dispatched.value() + dispatch.conflated.value();
        dispatch.discarded_at_stop.set(published > accounted ? published - accounted : 0);
      }
      if (reloader_) reloader_->release_models(reload_lock);
    }
    running_.store(false, std::memory_order_release);
    if (delivery_) delivery_->wake_waiters();
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
    loader_.cancel();
    if (dispatcher_) dispatcher_->request_stop();
    if (delivery_) delivery_->wake_waiters();
  }

  // ---- reading results --------------------------------------------------------

  FeatureSlot& features() {
    if (!slot_) {
      throw Error("loop.features() called before start(): the feature width comes from the "
                  "model, which start() loads; call start() first, or set num_features in the "
                  "config to publish before start()");
    }
    return *slot_;
  }

  Prediction make_prediction() const {
    if (!built()) {
      throw Error("loop.make_prediction() called before start(): the result size comes from "
                  "the model, which start() loads; call start() first");
    }
    return Prediction(delivery_->capacity());
  }

  bool latest(Prediction& out) const noexcept {
    if (!built()) return false;
    if (out.storage.size() < delivery_->capacity()) {
#if INFERLOOP_DEBUG_CHECKS
      detail::misuse_abort("InferenceLoop::latest() was given a Prediction with room for " +
                           std::to_string(out.storage.size()) + " values, but this loop's "
                           "results need " + std::to_string(delivery_->capacity()) +
                           "; make it with loop.make_prediction() after start()");
#endif
      return false;
    }
    sync_backtest();
    return delivery_->latest(out);
  }

  std::uint64_t latest_feature_seq() const noexcept {
    if (!built()) return 0;
    sync_backtest();
    return delivery_->latest_feature_seq();
  }

  bool wait_for(std::uint64_t feature_seq, std::chrono::nanoseconds timeout, Prediction* out) const {
    refuse_inside_callback("wait_for()");
    if (!built()) return false;
    if (backtest_) {
      // Simulated time stands still while we wait: what is not visible now
      // cannot become visible until the engine moves the clock.
      sync_backtest();
      if (delivery_->delivered_seq() < feature_seq) return false;
      return out == nullptr || latest(*out);
    }
    // The delivered sequence, not the result slot: a caller woken here may
    // rely on the result being in history() and its callback having returned.
    if (!delivery_->wait_for(feature_seq, timeout, [&] { return !running(); })) return false;
    return out == nullptr || latest(*out);
  }

  LoopStats stats() const {
    if (!built()) {
      LoopStats empty;
      if (slot_) {
        empty.snapshots_published = slot_->last_published_seq();
        empty.snapshots_rejected = slot_->rejected();
      }
      return empty;
    }
    sync_backtest();
    const bool from_slot = !options_.feature_source;
    return counters_->snapshot(published_count(), from_slot ? slot_->rejected() : 0);
  }

  std::vector<Prediction> history() const {
    if (!built()) return {};
    sync_backtest();
    return delivery_->history();
  }

  std::optional<LoopError> last_error() const { return errors_.last(); }

  ModelInfo model_info() const {
    if (!built()) throw Error("loop.model_info() called before start(): no model is loaded yet");
    return reloader_ ? reloader_->model_info() : initial_info_;
  }

  const InferenceConfig& config() const noexcept { return config_; }

  detail::BacktestDriver::ReplayEnd replay(std::span<const std::int64_t> timestamps_ns,
                                           std::span<const float> features) {
    if (!backtest_ || !running()) {
      throw Error("replay: the loop is not a running backtest (start() it with "
                  "LoopOptions::backtest set)");
    }
    if (published_count() != 0) {
      throw Error("replay: " + std::to_string(published_count()) + " snapshot(s) were published "
                  "before; a replay starts on a loop that has seen none");
    }
    const detail::BacktestDriver::ReplayEnd end =
        backtest_->replay_all({timestamps_ns, features, config_.max_rows, 1});
    // Counted when the replay is over: a scrape during it sees the
    // dispatches before the snapshots that made them.
    replayed_snapshots_.store(end.snapshots, std::memory_order_release);
    return end;
  }

  std::optional<Timestamp> backtest_idle_at() const {
    if (!backtest_) return std::nullopt;
    return backtest_->idle_at(clock_->now());
  }

  detail::LoopObservation observe() const {
    detail::LoopObservation seen;
    seen.config = &config_;
    seen.metrics_url = metrics_url();
    seen.running = running();
    seen.stats = stats();
    if (!built()) return seen;
    seen.replicas = counters_->replicas();
    seen.model = model_info();
    seen.newest = delivery_->newest();
    seen.now = clock_->now();  // after the read: an age is never negative
    return seen;
  }

  std::string metrics_url() const { return running() ? metrics_url_ : std::string(); }

  InferenceLoop::ReloadOutcome reload() {
    refuse_inside_callback("reload()");
    if (options_.backtest) {
      throw Error("loop.reload() in backtest mode: a backtest replays one model; start another "
                  "backtest to compare models");
    }
    if (!reloader_ || !running()) {
      throw Error("loop.reload() called while the loop is not running: call start() first");
    }
    return reloader_->reload();
  }

 private:
  [[nodiscard]] bool built() const noexcept { return built_.load(std::memory_order_acquire); }

  // reload() and wait_for() would wait for the calling callback itself.
  void refuse_inside_callback(std::string_view call) const {
    if (!detail::CallbackScope::inside_callback_of(this)) return;
    throw Error("loop." + std::string(call) +
                " called from inside one of this loop's callbacks (on_result, on_error, "
                "on_model_change, the feature source or the resolver), which would wait for "
                "the callback itself; call it from another thread (docs/design.md, "
                "\"Calls from callbacks\")");
  }

  [[nodiscard]] std::uint64_t published_count() const noexcept {
    return options_.feature_source
               ? counters_->dispatch().source_snapshots.value()
               : slot_->last_published_seq() + replayed_snapshots_.load(std::memory_order_acquire);
  }

  // ---- start ------------------------------------------------------------------

  // Resolves and builds `count` predictors, then the parts every mode shares.
  std::vector<std::unique_ptr<Predictor>> load(std::size_t count, std::size_t counter_slots,
                                               std::size_t writers) {
    serving_model_ = loader_.resolve(config_.model_uri);
    std::vector<std::unique_ptr<Predictor>> predictors = loader_.build(serving_model_, count, shape_);
    // With the model's real width and outputs: refuse, naming the key, what
    // could never fit rather than fail in (or swap through) the allocations below.
    detail::check_loop_memory(config_, shape_.num_features, shape_.num_outputs);
    if (!slot_) {
      slot_ = std::make_unique<FeatureSlot>(config_.max_rows, shape_.num_features, clock_,
                                            &poller_wake_);
    }
    counters_ = std::make_unique<detail::LoopCounters>(counter_slots);
    delivery_ = std::make_unique<detail::Delivery>(
        this, config_.max_rows * shape_.num_outputs, writers, config_.history_capacity,
        options_.on_result, errors_, counters_->history_dropped());
    initial_info_ = ModelInfo{1, serving_model_, predictors.front()->describe(),
                              shape_.num_features, shape_.num_outputs};
    return predictors;
  }

  void start_live() {
    const auto replicas = static_cast<std::size_t>(config_.num_replicas);
    std::vector<std::unique_ptr<Predictor>> predictors = load(replicas, replicas, replicas);
    for (std::uint32_t id = 0; id < replicas; ++id) {
      replicas_.push_back(std::make_unique<detail::Replica>(
          id, std::move(predictors[id]), config_.max_rows, shape_.num_features,
          shape_.num_outputs, counters_->replica(id)));
    }
    reloader_ = std::make_unique<detail::ModelReloader>(
        this, config_, loader_, shape_, replicas, serving_model_, initial_info_.predictor, errors_,
        *counters_, options_.on_model_change, *clock_);
    const detail::PredictionSinks sinks{*clock_, *delivery_, errors_, poller_wake_};
    dispatcher_ = std::make_unique<detail::Dispatcher>(this, config_, *slot_, options_.feature_source,
                                                       replicas_, *reloader_,
                                                       counters_->dispatch(), sinks);
    serve_metrics();
    built_.store(true, std::memory_order_release);
    // The resolver (on this thread) asked for a stop: start no thread.
    if (stop_requested_.load(std::memory_order_acquire)) return;
    // Before the threads: a callback on them may request a stop at once,
    // and that must not be overwritten.
    running_.store(true, std::memory_order_release);
    dispatcher_->start();
    wait_for_first_result();  // stops the loop itself when it throws
    if (!stop_requested_.load(std::memory_order_acquire)) reloader_->start_refresh();
  }

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
    const auto replicas = static_cast<std::size_t>(config_.num_replicas);
    backtest_predictors_ = load(backtest.threads, replicas, /*writers=*/1);
    BacktestOptions driver_options = backtest;
    if (driver_options.replay_batch_rows == 0 && detail::parse_device(config_.device).cuda) {
      driver_options.replay_batch_rows = detail::BacktestDriver::kReplayBatchRowsGpu;
    }
    std::vector<Predictor*> predictors;
    for (auto& predictor : backtest_predictors_) predictors.push_back(predictor.get());
    backtest_ = std::make_unique<detail::BacktestDriver>(
        driver_options, replicas, std::move(predictors), shape_.num_features, shape_.num_outputs,
        config_.max_rows, *delivery_, *counters_, errors_);
    // Snapshots published before start() sat in the triple buffer: the
    // newest arrives now, the older ones were conflated, as live.
    FeatureSnapshot early;
    if (slot_->take_newest(early)) {
      if (early.feature_seq > 1) counters_->dispatch().conflated.add(early.feature_seq - 1);
      backtest_->on_publish(early);
    }
    slot_->set_publish_observer(
        [](void* loop, const FeatureSnapshot& snapshot) noexcept {
          static_cast<Impl*>(loop)->backtest_publish(snapshot);
        },
        this);
    serve_metrics();
    built_.store(true, std::memory_order_release);
    running_.store(true, std::memory_order_release);
  }

  // Before built_: a scrape that comes first sees the zero counters of a
  // loop not yet built.
  void serve_metrics() {
    if (config_.metrics_listen.empty()) return;
    metrics_server_ = std::make_unique<detail::MetricsServer>(config_.metrics_listen,
                                                              [this] { return observe(); });
    metrics_url_ = metrics_server_->url();
  }

  // The engine thread, inside publish(). After a stop request from a
  // callback, snapshots are no longer simulated (as live: none is dispatched).
  void backtest_publish(const FeatureSnapshot& snapshot) noexcept {
    if (stop_requested_.load(std::memory_order_acquire)) {
      counters_->dispatch().discarded_at_stop.add();
      return;
    }
    backtest_->on_publish(snapshot);
  }

  void sync_backtest() const noexcept {
    if (backtest_) backtest_->sync(clock_->now());
  }

  void wait_for_first_result() {
    if (config_.startup_timeout.count() == 0) return;
    const bool expect_result =
        static_cast<bool>(options_.feature_source) || slot_->last_published_seq() > 0;
    if (!expect_result) return;
    const std::uint64_t target = options_.feature_source ? 1 : slot_->last_published_seq();
    if (wait_for(target, config_.startup_timeout, nullptr)) return;
    if (stop_requested_.load(std::memory_order_acquire)) return;
    const auto error = last_error();
    const LoopStats s = stats();
    stop();
    std::string message =
        "no first result within startup_timeout (" +
        detail::duration_text(config_.startup_timeout) + "): waited for the prediction of " +
        (options_.feature_source ? std::string("the feature source's first snapshot")
                                 : "feature_seq " + std::to_string(target)) +
        " from " + std::to_string(replicas_.size()) + " replica(s) of '" + config_.model_uri +
        "'; " + std::to_string(s.dispatched) + " snapshot(s) dispatched, " +
        std::to_string(s.errors + s.source_errors) + " error(s)";
    if (error) message += "; last error: " + error->message;
    message += ". Check that the feature source returns data and the predictor succeeds, or raise "
               "startup_timeout";
    throw Error(message);
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

  // ---- state ----------------------------------------------------------------

  const InferenceConfig config_;
  const LoopOptions options_;
  const std::shared_ptr<Clock> clock_;
  const PredictorRegistry* const registry_;
  detail::ErrorSink errors_;
  detail::ModelLoader loader_;

  // Woken by publishes, replicas going idle and stop requests.
  detail::WakeSignal poller_wake_;

  // Built by start() on the owner thread, then read-only; readers on other
  // threads check built_ (acquire) first. slot_ may exist from construction.
  std::unique_ptr<FeatureSlot> slot_;
  detail::ModelShape shape_;
  ResolvedModel serving_model_;
  ModelInfo initial_info_;
  std::unique_ptr<detail::LoopCounters> counters_;
  std::unique_ptr<detail::Delivery> delivery_;
  std::vector<std::unique_ptr<detail::Replica>> replicas_;
  std::unique_ptr<detail::ModelReloader> reloader_;
  std::unique_ptr<detail::Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<Predictor>> backtest_predictors_;
  std::unique_ptr<detail::BacktestDriver> backtest_;
  std::unique_ptr<detail::MetricsServer> metrics_server_;  // owner thread only
  std::string metrics_url_;
  // Written once by start() (release) after the parts above exist.
  std::atomic<bool> built_{false};

  // Lifecycle; guarded by lifecycle_mutex_ (owner thread).
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  // Written by start(), stop() and request_stop(); read by anyone (acquire).
  std::atomic<bool> running_{false};
  // Written by request_stop() (release: a stop() from inside a callback);
  // read by start() and backtest publishes (acquire).
  std::atomic<bool> stop_requested_{false};
  // Written once by replay() (release) after its last round; read by
  // published_count() (acquire).
  std::atomic<std::uint64_t> replayed_snapshots_{0};
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

detail::LoopObservation detail::LoopAccess::observe(const InferenceLoop& loop) {
  return loop.impl_->observe();
}
std::string detail::LoopAccess::metrics_url(const InferenceLoop& loop) {
  return loop.impl_->metrics_url();
}
detail::BacktestDriver::ReplayEnd detail::LoopAccess::replay(
    InferenceLoop& loop, std::span<const std::int64_t> timestamps_ns,
    std::span<const float> features) {
  return loop.impl_->replay(timestamps_ns, features);
}

}  // namespace inferloop
