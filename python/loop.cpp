// InferenceLoop for Python: the C++ loop behind a thin wrapper (PythonLoop)
// that adds what Python callers need and C++ callers do themselves.
//
//   - publish(): one producer at a time is the FeatureSlot's contract; Python
//     threads may call publish() concurrently, so calls are serialised by
//     publish_mutex_ (taken with the GIL released, never the other way
//     round, so a callback that needs the GIL cannot deadlock against it).
//     The array is used in place when it is float32 and C-contiguous
//     (arrays.hpp); feature_time defaults to the loop clock's now(). In
//     backtest mode, publishing from inside the loop's own callback (which
//     runs inside this thread's publish/latest/...) is refused.
//   - latest(): copies into a Prediction allocated once (scratch_, sized at
//     start()), or into a fresh one when another thread, or a callback
//     re-entering latest() on this thread, holds the scratch: never blocks
//     on it.
//   - Every call that may wait or compute (start, stop, publish in backtest
//     mode, latest, wait_for, stats, history, reload, model_info) runs with
//     the GIL released; callbacks take it back (callbacks.hpp).
//   - wait_for() waits in slices so that Ctrl-C (a pending signal) interrupts
//     it with KeyboardInterrupt.
//   - The destructor stops the loop with the GIL released (a replica thread
//     may be waiting for the GIL to run a callback), then drops the Python
//     callbacks with the GIL held. When the last reference goes inside one
//     of the loop's own callbacks, on a replica thread, that thread cannot
//     join itself: a detached thread finishes the destruction instead.
//     Importing the module registers an atexit hook
//     (stop_live_loops below) that stops every loop still running.
//   - Garbage collection: the loop reports its callbacks to Python's cyclic
//     collector (a callback that refers to its loop is a cycle); clearing
//     the cycle stops the loop.
//
// Threads: every method from any Python thread.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "callbacks.hpp"
#include "config_conversion.hpp"
#include "inferloop/backtest.hpp"
#include "inferloop/clock.hpp"
#include "inferloop/error.hpp"
#include "inferloop/inference_loop.hpp"
#include "results.hpp"

namespace inferloop::python {
namespace {

using namespace std::chrono_literals;

class PythonLoop;

// Every PythonLoop alive, so that the interpreter's exit can stop them
// before it tears down what their callbacks need. Guarded by the GIL: loops
// are only made and destroyed with it held.
std::set<PythonLoop*>& live_loops() {
  static std::set<PythonLoop*> loops;
  return loops;
}

class PythonLoop {
 public:
  // GIL held (a constructor binding).
  PythonLoop(const InferenceConfig& config, std::shared_ptr<ManualClock> manual_clock,
             std::optional<BacktestOptions> backtest, nb::object on_result, nb::object on_error)
      : manual_clock_(std::move(manual_clock)),
        clock_(manual_clock_ ? std::shared_ptr<Clock>(manual_clock_) : system_clock()),
        callbacks_(std::make_shared<PythonCallbacks>(std::move(on_result), std::move(on_error))),
        backtest_(backtest.has_value()) {
    if (backtest && !manual_clock_) {
      throw nb::value_error("InferenceLoop: a backtest (latency=...) runs in simulated time: "
                            "pass clock=inferloop.ManualClock(first_event_ns) as well");
    }
    LoopOptions options;
    options.clock = clock_;
    options.backtest = std::move(backtest);
    options.on_result = callbacks_->result_callback();
    options.on_error = callbacks_->error_handler();
    loop_ = std::make_unique<InferenceLoop>(config, std::move(options));
    live_loops().insert(this);
  }

  // GIL held (nanobind's dealloc).
  ~PythonLoop() {
    live_loops().erase(this);
    if (callbacks_->running_here()) {
      // The last reference went inside this loop's own callback: this may be
      // one of the loop's threads, which stop() would join.
      std::thread([loop = std::move(loop_), callbacks = std::move(callbacks_)]() mutable {
        loop.reset();
        nb::gil_scoped_acquire gil;
        callbacks.reset();
      }).detach();
      return;
    }
    {
      nb::gil_scoped_release release;
      loop_.reset();  // stops and joins; its std::function copies go with it
    }
    callbacks_.reset();  // the Python callables, released with the GIL
  }

  // Python's cyclic garbage collector (GIL held).
  int traverse(visitproc visitor, void* argument) const {
    return callbacks_ ? callbacks_->visit(visitor, argument) : 0;
  }
  void clear() {
    stop();  // unreachable from Python: nothing can use it any more
    if (callbacks_) callbacks_->clear();
  }

  PythonLoop(const PythonLoop&) = delete;
  PythonLoop& operator=(const PythonLoop&) = delete;

  void start() {
    nb::gil_scoped_release release;
    loop_->start();
    std::lock_guard lock(scratch_mutex_);
    scratch_ = loop_->make_prediction();
    started_.store(true, std::memory_order_release);
  }

  void stop() {
    nb::gil_scoped_release release;
    loop_->stop();
  }

  [[nodiscard]] bool running() const { return loop_->running(); }

  std::uint64_t publish(nb::handle features, std::optional<std::int64_t> feature_time_ns) {
    const FeatureMatrix matrix = feature_matrix(features, "publish(features)");
    FeatureSlot& slot = loop_->features();  // inferloop::Error before the width is known
    if (matrix.cols != slot.cols() || matrix.rows == 0 || matrix.rows > slot.max_rows()) {
      throw nb::value_error(("publish(features): " + slot.shape_error(matrix.rows * matrix.cols) +
                             " (features arrived as " + std::to_string(matrix.rows) + " x " +
                             std::to_string(matrix.cols) + ")").c_str());
    }
    const Timestamp feature_time =
        feature_time_ns ? Timestamp{*feature_time_ns} : clock_->now();
    if (backtest_ && callbacks_->running_here()) {
      // This thread is inside the loop's publish(), latest(), ... that
      // delivers the result: the simulation cannot take a snapshot now.
      throw Error("InferenceLoop.publish() called from inside the same backtest loop's callback; "
                  "a backtest loop delivers results inside publish(), latest(), wait_for(), "
                  "stats() and stop(): publish from the engine's own loop instead");
    }
    std::uint64_t feature_seq = 0;
    {
      nb::gil_scoped_release release;
      std::lock_guard lock(publish_mutex_);
      feature_seq = slot.publish(matrix.values(), feature_time);
    }
    if (feature_seq == 0) {
      throw Error("publish(features): the loop refused the snapshot: " +
                  slot.shape_error(matrix.rows * matrix.cols));
    }
    return feature_seq;
  }

  std::optional<Result> latest() {
    if (!started_.load(std::memory_order_acquire)) return std::nullopt;
    nb::gil_scoped_release release;
    std::unique_lock lock(scratch_mutex_, std::try_to_lock);
    if (lock.owns_lock()) {
      if (loop_->latest(scratch_)) return Result::from(scratch_);
      return std::nullopt;
    }
    Prediction own = loop_->make_prediction();
    if (loop_->latest(own)) return Result::from(own);
    return std::nullopt;
  }

  [[nodiscard]] std::uint64_t latest_feature_seq() const {
    nb::gil_scoped_release release;
    return loop_->latest_feature_seq();
  }

  bool wait_for(std::uint64_t feature_seq, std::optional<double> timeout_s) {
    if (timeout_s && (!std::isfinite(*timeout_s) || *timeout_s < 0)) {
      throw nb::value_error(("wait_for: timeout must be a finite number of seconds >= 0, or None "
                             "(wait until the result arrives or the loop stops), found " +
                             std::to_string(*timeout_s)).c_str());
    }
    const auto started = std::chrono::steady_clock::now();
    const auto limit = timeout_s ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::duration<double>(*timeout_s))
                                 : std::chrono::nanoseconds::max();
    // Slices: the GIL is taken between them to let a pending signal
    // (Ctrl-C) raise KeyboardInterrupt.
    constexpr std::chrono::nanoseconds kSlice = 50ms;
    while (true) {
      const auto waited = std::chrono::steady_clock::now() - started;
      const auto left = limit - std::min<std::chrono::nanoseconds>(waited, limit);
      const auto slice = std::min(left, kSlice);
      bool arrived = false;
      {
        nb::gil_scoped_release release;
        arrived = loop_->wait_for(feature_seq, slice);
      }
      if (arrived) return true;
      if (left <= slice || !loop_->running()) return false;
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
    }
  }

  [[nodiscard]] LoopStats stats() const {
    nb::gil_scoped_release release;
    return loop_->stats();
  }

  [[nodiscard]] std::vector<Result> history() const {
    std::vector<Result> results;
    nb::gil_scoped_release release;
    for (const Prediction& prediction : loop_->history()) results.push_back(Result::from(prediction));
    return results;
  }

  [[nodiscard]] std::optional<LoopError> last_error() const { return loop_->last_error(); }

  [[nodiscard]] ModelInfo model_info() const {
    nb::gil_scoped_release release;
    return loop_->model_info();
  }

  InferenceLoop::ReloadOutcome reload() {
    nb::gil_scoped_release release;
    return loop_->reload();
  }

  [[nodiscard]] std::optional<std::int64_t> backtest_idle_at() const {
    nb::gil_scoped_release release;
    const auto idle = loop_->backtest_idle_at();
    if (!idle) return std::nullopt;
    return idle->count();
  }

  [[nodiscard]] InferenceConfig config() const { return loop_->config(); }
  [[nodiscard]] std::shared_ptr<ManualClock> clock() const { return manual_clock_; }
  [[nodiscard]] std::size_t num_features() { return loop_->features().cols(); }

 private:
  std::shared_ptr<ManualClock> manual_clock_;  // null: the system clock
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<PythonCallbacks> callbacks_;
  std::unique_ptr<InferenceLoop> loop_;

  const bool backtest_;
  // Serialises publish() calls from several Python threads.
  std::mutex publish_mutex_;

  // Set (release) by start() once scratch_ is sized; latest() returns None
  // before (acquire), since a Prediction too small for the loop is misuse.
  std::atomic<bool> started_{false};
  std::mutex scratch_mutex_;  // guards scratch_; latest() only try-locks it
  Prediction scratch_;
};

std::optional<BacktestOptions> backtest_options(const std::optional<std::string>& latency,
                                                std::uint64_t seed, std::size_t threads,
                                                std::size_t max_batch_snapshots) {
  if (!latency) return std::nullopt;
  BacktestOptions options;
  options.latency = LatencyModel::parse(*latency);
  options.seed = seed;
  options.threads = threads;
  options.max_batch_snapshots = max_batch_snapshots;
  return options;
}

// atexit (GIL held): stop every loop still running. Each is held by a
// strong reference while its stop() runs without the GIL, so no other
// thread can destroy it meanwhile.
void stop_live_loops() {
  std::vector<nb::object> loops;
  for (PythonLoop* loop : live_loops()) {
    nb::object object = nb::find(loop);
    if (object.is_valid()) loops.push_back(std::move(object));
  }
  for (const nb::object& object : loops) nb::cast<PythonLoop&>(object).stop();
}

int loop_traverse(PyObject* self, visitproc visit, void* arg) {  // names Py_VISIT expects
  Py_VISIT(Py_TYPE(self));  // a heap type: instances keep it alive
  if (!nb::inst_ready(self)) return 0;
  return nb::inst_ptr<PythonLoop>(self)->traverse(visit, arg);
}

int loop_clear(PyObject* self) {
  if (nb::inst_ready(self)) nb::inst_ptr<PythonLoop>(self)->clear();
  return 0;
}

PyType_Slot loop_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(&loop_traverse)},
                            {Py_tp_clear, reinterpret_cast<void*>(&loop_clear)},
                            {0, nullptr}};

}  // namespace

void bind_loop(nb::module_& module) {
  nb::module_::import_("atexit").attr("register")(nb::cpp_function(&stop_live_loops));
  nb::class_<PythonLoop>(
      module, "InferenceLoop", nb::is_weak_referenceable(), nb::type_slots(loop_slots),
      "A poller and num_replicas predictor replicas that turn the newest published features "
      "into the newest prediction, which any thread reads without waiting.\n\n"
      "InferenceLoop(config) serves live (system clock). With clock=ManualClock(...) and "
      "latency=\"lognormal:40us,15us\" it is the same loop in backtest mode: simulated time, "
      "results visible only when they could have existed live, bit-identical on every rerun "
      "(docs/backtesting.md).\n\n"
      "Use it as a context manager (start on enter, stop on exit) or call start()/stop().")
      .def(
          "__init__",
          [](PythonLoop* self, nb::handle config, std::shared_ptr<ManualClock> clock,
             std::optional<std::string> latency, std::uint64_t seed, std::size_t threads,
             std::size_t max_batch_snapshots, nb::object on_result, nb::object on_error) {
            new (self) PythonLoop(to_config(config), std::move(clock),
                                  backtest_options(latency, seed, threads, max_batch_snapshots),
                                  std::move(on_result), std::move(on_error));
          },
          nb::sig("def __init__(self, config: InferenceConfig | str | os.PathLike[str] | "
                  "collections.abc.Mapping[str, object], *, clock: ManualClock | None = None, "
                  "latency: str | None = None, seed: int = 1, threads: int = 1, "
                  "max_batch_snapshots: int = 64, "
                  "on_result: collections.abc.Callable[[Result], object] | None = None, "
                  "on_error: collections.abc.Callable[[LoopError], object] | None = None) -> None"),
          nb::arg("config"), nb::kw_only(), nb::arg("clock").none() = nb::none(),
          nb::arg("latency").none() = nb::none(), nb::arg("seed") = 1, nb::arg("threads") = 1,
          nb::arg("max_batch_snapshots") = 64, nb::arg("on_result").none() = nb::none(),
          nb::arg("on_error").none() = nb::none(),
          "config: an InferenceConfig, a YAML path or a dict of YAML keys.\n"
          "clock: a ManualClock (simulated time); default: the system clock.\n"
          "latency: a latency spec (zero, constant:50us, lognormal:40us,15us, replay:FILE); "
          "set = backtest mode, which needs clock. seed, threads, max_batch_snapshots: the "
          "backtest's (threads compute, never change results).\n"
          "on_result(Result): called for every result that becomes the latest, on a loop "
          "thread (backtest: the publishing/reading thread), in feature_seq order.\n"
          "on_error(LoopError): called for every error while serving.\n"
          "Validates the config (inferloop.Error); loads nothing until start().")
      .def("start", &PythonLoop::start,
           "Resolves and loads the model into every replica and starts the threads. Raises "
           "inferloop.Error (the loop stays stopped) when the model or config fails.")
      .def("stop", &PythonLoop::stop,
           "Idempotent: stops taking snapshots, delivers in-flight results, joins the threads.")
      .def_prop_ro("running", &PythonLoop::running)
      .def("publish", &PythonLoop::publish,
           nb::sig("def publish(self, features: numpy.typing.ArrayLike, "
                   "feature_time_ns: int | None = None) -> int"),
           nb::arg("features"), nb::arg("feature_time_ns").none() = nb::none(),
           "Publishes a snapshot: a float32 array, 1-D (one row) or 2-D (rows x features), "
           "used in place when C-contiguous (other real dtypes are converted: docs/python.md). "
           "feature_time_ns defaults to the loop clock's now. Returns the snapshot's "
           "feature_seq. Raises ValueError for a wrong width or row count, TypeError for a "
           "wrong dtype. Safe from several threads (calls are serialised).")
      .def("latest", &PythonLoop::latest,
           "The newest visible Result, or None before the first one (in a backtest: the "
           "newest visible at the clock's time).")
      .def_prop_ro("latest_feature_seq", &PythonLoop::latest_feature_seq,
                   "feature_seq of the newest visible result (0: none).")
      .def("wait_for", &PythonLoop::wait_for, nb::arg("feature_seq"),
           nb::arg("timeout").none() = nb::none(),
           "Waits until a result for feature_seq (or a newer snapshot) is visible: True; or "
           "the timeout (seconds; None = no limit) passes or the loop stops: False. In a "
           "backtest it answers at once (simulated time does not pass while waiting).")
      .def("stats", &PythonLoop::stats, "Counters and latency percentiles (LoopStats).")
      .def("history", &PythonLoop::history,
           "The newest results, oldest first (at most config.history_capacity).")
      .def("last_error", &PythonLoop::last_error, "The newest LoopError, or None.")
      .def("model_info", &PythonLoop::model_info,
           "The model serving now (ModelInfo). Raises inferloop.Error before start().")
      .def("reload", &PythonLoop::reload,
           "Asks now whether model_uri names a different model and swaps it in if so "
           "(ReloadOutcome). Raises inferloop.Error when that fails; the old model keeps "
           "serving.")
      .def("backtest_idle_at", &PythonLoop::backtest_idle_at,
           "Backtest mode: the simulated time (ns) at which everything published so far is "
           "visible; set the clock there before stop() to keep the last prediction. None live.")
      .def_prop_ro("config", &PythonLoop::config, "A copy of the loop's InferenceConfig.")
      .def_prop_ro("clock", &PythonLoop::clock,
                   nb::for_getter(nb::sig("def clock(self, /) -> ManualClock | None")),
                   "The ManualClock, or None (system clock).")
      .def_prop_ro("num_features", &PythonLoop::num_features,
                   "Features per row (from the config, or the model once started).")
      .def("__enter__",
           [](nb::handle self) {
             PythonLoop& loop = nb::cast<PythonLoop&>(self);
             if (!loop.running()) loop.start();
             return nb::borrow(self);
           },
           nb::sig("def __enter__(self) -> InferenceLoop"))
      .def(
          "__exit__",
          [](PythonLoop& loop, nb::handle, nb::handle, nb::handle) { loop.stop(); },
          nb::arg("exc_type").none(), nb::arg("exc_value").none(), nb::arg("traceback").none());
}

}  // namespace inferloop::python
