// BacktestEngine: InferenceLoop's backtest mode (include/inferloop/backtest.hpp).
//
// Lifecycle: InferenceLoop::start() creates it with the loop's compute
// predictors (one per compute thread); the FeatureSlot's publish observer
// calls on_publish() for every snapshot; latest(), wait_for(), stats(),
// history() call sync(); stop() calls stop(); the destructor joins the pool.
//
// Three stages, each in a fixed order that no thread timing can change:
//   1. the ReplicaSimulator decides, under mutex_, when each snapshot starts,
//      on which simulated replica, and when its result becomes visible;
//   2. a Boost.Asio thread_pool computes the dispatched snapshots, several
//      per predict() call when they queue up, each worker with its own
//      predictor instance;
//   3. results are handed to the loop (BacktestHost::backtest_result) in the
//      simulator's visibility order, by the thread that called on_publish()
//      or sync(), once their computation is done. sync() waits for it;
//      on_publish() only hands over what is already computed, unless too many
//      results are waiting (then it waits too, bounding memory).
//
// Threads: on_publish(), sync(), stop(), idle_at() from any thread, serialised
// by mutex_ (a recursive one: a result callback that calls back into the
// loop returns at once instead of deadlocking). The pool's workers touch
// only compute_queue_, the jobs they took and the predictor slots, all under
// compute_mutex_.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "backtest/simulator.hpp"
#include "inferloop/backtest.hpp"
#include "inferloop/feature_slot.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/prediction.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// The loop's side: counters, statistics and delivery. Called with the
// engine's mutex held, from the thread that drives the engine.
class BacktestHost {
 public:
  virtual ~BacktestHost() = default;
  virtual void backtest_dispatched(const SimJob& job) noexcept = 0;
  virtual void backtest_conflated() noexcept = 0;
  virtual void backtest_discarded() noexcept = 0;
  // A computed result, in visibility order; the host applies the live
  // staleness rule and delivers it.
  virtual void backtest_result(const Prediction& result) noexcept = 0;
  virtual void backtest_failed(const LoopError& error) noexcept = 0;
};

class BacktestEngine final : private SimListener {
 public:
  // `predictors` (one per compute thread) must outlive the engine.
  BacktestEngine(const BacktestOptions& options, std::size_t num_replicas,
                 std::vector<Predictor*> predictors, std::size_t num_features,
                 std::size_t num_outputs, std::size_t max_rows, BacktestHost& host);
  ~BacktestEngine() override;
  BacktestEngine(const BacktestEngine&) = delete;
  BacktestEngine& operator=(const BacktestEngine&) = delete;

  void on_publish(const FeatureSnapshot& snapshot) noexcept;
  // Runs the simulation to `now` and delivers every result visible by then.
  void sync(Timestamp now) noexcept;
  // sync(now), drop the pending snapshot, run every started prediction to
  // its visibility and deliver it, then join the compute threads.
  void stop(Timestamp now) noexcept;
  [[nodiscard]] Timestamp idle_at(Timestamp now) const;

 private:
  struct Job {
    SimJob sim;
    std::vector<float> features;  // max_rows * num_features, allocated once
    std::size_t rows = 0;
    Timestamp feature_time{0};
    Prediction output;  // max_rows * num_outputs
    // Guarded by compute_mutex_ from submission until delivery.
    bool done = false;
    bool failed = false;
    std::string error;
  };
  struct ComputeSlot {
    Predictor* predictor = nullptr;
    std::vector<float> input;   // gathered rows of a batch
    std::vector<float> output;  // their predictions
  };

  // SimListener: called by the simulator under mutex_.
  void on_dispatch(const SimJob& job, bool arriving) override;
  void on_visible(const SimJob& job) override;
  void on_conflated(std::uint64_t feature_seq) override;
  void on_discarded(std::uint64_t feature_seq) override;

  Job* take_free_job();
  void recycle(Job* job);
  void submit(Job* job);
  // Delivers visible results in order; waits for computation when `block`.
  void deliver(bool block, std::size_t keep_at_most = 0);
  // Pool worker: predicts a batch of queued jobs.
  void compute_batch() noexcept;
  void predict_jobs(ComputeSlot& slot, const std::vector<Job*>& batch) noexcept;

  const std::size_t num_features_;
  const std::size_t num_outputs_;
  const std::size_t max_rows_;
  const std::size_t max_batch_;
  BacktestHost& host_;

  const LatencyModel latency_;  // the simulator's sampler points at it

  mutable std::recursive_mutex mutex_;
  // Guarded by mutex_.
  bool delivering_ = false;
  bool stopped_ = false;
  ReplicaSimulator simulator_;
  std::vector<std::unique_ptr<Job>> jobs_;  // owns every Job
  std::vector<Job*> free_jobs_;
  std::vector<Job*> replica_jobs_;  // job running on each simulated replica
  Job* arriving_ = nullptr;         // the snapshot on_publish() is routing
  Job* pending_ = nullptr;          // the simulator's pending snapshot
  std::deque<Job*> visible_;        // visible, not yet delivered, in order
  std::vector<Job*> help_batch_;    // jobs deliver() computes itself

  std::mutex compute_mutex_;
  std::condition_variable computed_;
  std::deque<Job*> compute_queue_;              // guarded by compute_mutex_
  std::vector<ComputeSlot> slots_;              // owned by the engine
  std::vector<ComputeSlot*> free_slots_;        // guarded by compute_mutex_
  boost::asio::thread_pool pool_;               // last: joined before the rest goes
};

}  // namespace inferloop::detail
