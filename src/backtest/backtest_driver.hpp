// BacktestDriver: InferenceLoop's backtest mode (include/inferloop/backtest.hpp).
//
// Lifecycle: start() makes it with one predictor per compute thread; the
// FeatureSlot's publish observer calls on_publish() for every snapshot;
// latest(), wait_for(), stats() and history() call sync(); stop() calls
// stop(); the destructor joins the workers.
//
// Three stages, each in an order that no thread timing can change:
//   1. the ReplicaSimulator decides, in publish order, when each snapshot
//      starts, on which simulated replica, and when its result becomes
//      visible (or that it is conflated);
//   2. compute: dispatched snapshots queue up; `threads - 1` worker threads
//      and the thread that drives the backtest predict them, several queued
//      snapshots per predict() call, each thread with its own predictor;
//   3. results are delivered (Delivery, the same one live results go
//      through) in the simulator's visibility order, by the thread that
//      called on_publish() or sync(), once computed. sync() waits for them,
//      computing queued snapshots itself rather than sleeping; on_publish()
//      only delivers what is done, unless too many results wait (then it
//      waits too, bounding memory).
//
// replay() has every event up front and takes another way through the
// same simulator, delivery and counters: replay_all() (bulk_replay.cpp)
// simulates a round ahead and predicts in large calls, on the same workers.
//
// Why the driving thread computes: a hand-off to a worker and back costs two
// thread wake-ups per result when the engine reads after every publish, far
// more than the prediction; and when the engine publishes in bulk, a thread
// that would otherwise wait joins the work. Workers are woken only when a
// batch's worth of snapshots queues up, so a bulk replay pays one wake-up per
// batch, not per row.
//
// Threads: on_publish(), sync(), stop(), idle_at(), replay_all() from any
// thread, serialised by mutex_ (recursive: a result callback that calls back
// into the loop returns at once instead of deadlocking). Workers touch only
// queue_, the jobs they took, replay_all()'s chunks and their predictor;
// what they take, under compute_mutex_.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <boost/circular_buffer.hpp>

#include "backtest/simulator.hpp"
#include "inferloop/backtest.hpp"
#include "inferloop/feature_slot.hpp"
#include "inferloop/prediction.hpp"
#include "inferloop/predictor.hpp"
#include "loop/delivery.hpp"
#include "loop/error_sink.hpp"
#include "loop/loop_counters.hpp"

namespace inferloop::detail {

class BacktestDriver final : private SimListener {
 public:
  // `predictors` (one per compute thread, the driving thread's first) must
  // outlive the driver; so must the loop parts it reports to.
  BacktestDriver(const BacktestOptions& options, std::size_t num_replicas,
                 std::vector<Predictor*> predictors, std::size_t num_features,
                 std::size_t num_outputs, std::size_t max_rows, Delivery& delivery,
                 LoopCounters& counters, ErrorSink& errors);
  ~BacktestDriver() override;
  BacktestDriver(const BacktestDriver&) = delete;
  BacktestDriver& operator=(const BacktestDriver&) = delete;

  void on_publish(const FeatureSnapshot& snapshot) noexcept;
  // Runs the simulation to `now` and delivers every result visible by then.
  void sync(Timestamp now) noexcept;
  // sync(now), drop the pending snapshot, run every started prediction to
  // its visibility and deliver it, then join the workers.
  void stop(Timestamp now) noexcept;
  [[nodiscard]] Timestamp idle_at(Timestamp now) const;

  // A whole replay at once (replay(), include/inferloop/replay.hpp; defined
  // in bulk_replay.cpp): row i is published at timestamps_ns[i], consecutive
  // rows with one timestamp form a snapshot of at most max_rows rows, the
  // snapshots get feature_seq first_seq, first_seq + 1, ...; then the clock
  // runs to idle and the driver stops, as stop(idle_at) would. The results,
  // counters and errors are those that publishing the same snapshots one by
  // one and then stopping at idle_at would give, in the same order; only the
  // computation differs: rounds of large predict() calls instead of batches
  // of queued snapshots. Result callbacks run on the calling thread.
  // REQUIRES: nothing published before; rows and sizes checked by replay().
  // Throws only what allocating its bookkeeping throws (std::bad_alloc),
  // after every computation has finished; the driver is then stopped.
  struct ReplayRows {
    std::span<const std::int64_t> timestamps_ns;
    std::span<const float> features;
    std::size_t max_rows = 1;
    std::uint64_t first_seq = 1;
  };
  struct ReplayEnd {
    std::uint64_t snapshots = 0;
    Timestamp idle_at{0};  // when the last result became visible
  };
  ReplayEnd replay_all(const ReplayRows& rows);
  // replay_all's rows per compute thread and round when
  // BacktestOptions::replay_batch_rows is 0 (the loop picks the GPU one).
  static constexpr std::size_t kReplayBatchRowsCpu = 8192;
  static constexpr std::size_t kReplayBatchRowsGpu = std::size_t{1} << 20;

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
  struct Worker {
    Predictor* predictor = nullptr;
    std::vector<float> input;   // gathered rows of a batch
    std::vector<float> output;  // their predictions
    std::vector<Job*> batch;
  };
  // replay_all's chunks: one predict() call's worth of a round, by index,
  // with the predictor of whichever compute thread took it.
  using ChunkTask = void (*)(void* context, Worker& worker, std::size_t chunk);

  // SimListener: called by the simulator under mutex_, through the base
  // (the overrides are private).
  SimListener& as_listener() noexcept { return *this; }
  void on_dispatch(const SimJob& job, bool arriving) override;
  void on_visible(const SimJob& job) override;
  void on_conflated(std::uint64_t feature_seq) override;
  void on_discarded(std::uint64_t feature_seq) override;

  Job* take_free_job();
  Job* make_job();
  void recycle(Job* job);
  void submit(Job* job);
  // Delivers visible results in order; waits for computation when `block`
  // or when more than `keep_at_most` results wait.
  void deliver(bool block, std::size_t keep_at_most = 0);
  // One visible result (its values already in `result.storage`), or its error.
  void deliver_result(const SimJob& sim, std::size_t rows, Timestamp feature_time, bool failed,
                      const std::string& error, Prediction& result);
  // Takes up to a batch of queued jobs into `worker.batch`. compute_mutex_ held.
  bool take_batch(Worker& worker);
  void worker_main(Worker& worker) noexcept;
  void predict_batch(Worker& worker) noexcept;
  // Offers chunks 0..count-1 of `task` to the compute threads, after those
  // of the set already on offer, if any (at most two sets at a time: a
  // replay's round and the next, so that no worker waits for the driving
  // thread between rounds). finish_chunks() returns when every chunk of the
  // oldest set is done and takes that set off offer (false when none was
  // on offer); while it waits, the driving thread runs chunks itself, the
  // oldest set's first, then the next set's.
  void start_chunks(ChunkTask task, void* context, std::size_t count);
  bool finish_chunks();
  // How a simulated dispatch is counted (replay_all's recorder counts the
  // same, with its histogram samples grouped).
  void count_dispatch(const SimJob& job);

  const std::size_t num_features_;
  const std::size_t num_outputs_;
  const std::size_t max_rows_;
  const std::size_t max_batch_;
  const std::size_t replay_batch_rows_;  // per thread and round; resolved by the loop
  Delivery& delivery_;
  LoopCounters& counters_;
  ErrorSink& errors_;

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
  // Visible, not yet delivered, in order. The two job queues are ring
  // buffers that make_job() grows: pushing onto them never allocates.
  boost::circular_buffer<Job*> visible_;
  Worker driving_;                  // the driving thread's predictor and buffers

  std::mutex compute_mutex_;
  std::condition_variable work_ready_;  // workers sleep on it
  std::condition_variable job_done_;    // the driving thread sleeps on it
  // Guarded by compute_mutex_.
  boost::circular_buffer<Job*> queue_;
  std::size_t sleeping_workers_ = 0;
  bool workers_stop_ = false;
  // A set of replay_all's chunks on offer: the task, how many chunks, how
  // many were taken and how many are done.
  struct ChunkSet {
    ChunkTask task = nullptr;
    void* context = nullptr;
    std::size_t count = 0;
    std::size_t taken = 0;
    std::size_t done = 0;
  };
  // The oldest set on offer with a chunk not yet taken, or null. A set stays
  // where it is until finish_chunks() takes it off offer, after its last
  // chunk is done, so a thread running one of its chunks may keep the pointer.
  ChunkSet* set_with_untaken_chunk() noexcept;
  // Takes the next chunk of `set` and runs it on `worker`'s predictor with
  // compute_mutex_ released (`lock` holds it on entry and on return); true
  // when that chunk was the set's last to finish.
  bool run_next_chunk(std::unique_lock<std::mutex>& lock, ChunkSet& set, Worker& worker);
  // The sets on offer, oldest first: chunk_sets_[first_chunk_set_], then,
  // when chunk_sets_on_offer_ is 2, the other one.
  std::array<ChunkSet, 2> chunk_sets_;
  std::size_t first_chunk_set_ = 0;
  std::size_t chunk_sets_on_offer_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;  // last: joined before the rest goes
};

}  // namespace inferloop::detail
