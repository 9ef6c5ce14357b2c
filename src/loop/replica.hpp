// Replica: one predictor instance and everything one in-flight prediction
// needs (its input rows, its output, the snapshot's metadata), plus, when
// the loop runs more than one replica, the thread that runs its predictions.
//
// Ownership: between predictions the replica is idle and its predictor,
// input and metadata belong to the poller, which may switch it to a reloaded
// model (switch_model) and hands it the next snapshot (hand_over). From
// hand_over() until the prediction is delivered they belong to the thread
// that runs it. With one replica that thread is the poller itself
// (run_inline: no hand-off at all); with several it is the replica's own.
//
// The replica's own thread waits for work with the loop's wait strategy,
// but spins only while primed: the poller primes the replica next in line,
// so with N replicas one of them spins and the others sleep, whatever N is
// (spinning threads beyond the cores starve the one that has work).
//
// Claims. A handed-over job runs on exactly one thread: the one that
// claims it. The replica's thread claims each job it sees; the poller may
// claim one that its replica has not claimed yet and run it itself
// (run_unclaimed_here): where the replica's thread has no core (more
// threads than cores, the engine's thread among them), the job then runs
// within the poller's wait instead of a scheduler's time slice later. The
// job keeps its replica (predictor, model version, counters, replica_id):
// only the thread that runs it differs, as with one inline replica.
//
// Memory ordering: job_seq_ is written by the poller (seq_cst, after the
// input and metadata: the release half publishes them) and read by the
// replica thread (seq_cst; the acquire half makes them visible). claimed_
// (the last job claimed) is advanced by one compare-exchange (seq_cst) by
// whichever thread claims a job, the replica's thread or the poller, before
// it reads the job: exactly one succeeds per job. busy_ is set by the poller
// at hand-over and cleared by the thread that ran the job (seq_cst, after
// delivery: the poller reads it with seq_cst before reusing the buffers, so
// one job's writes to the predictor and counters happen before the next
// job's, whichever threads run them). primed_ and stop_ are seq_cst flags
// of the replica's wait condition; each write is followed by a notify() on
// wake_ (detail/wake_signal.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "inferloop/clock.hpp"
#include "inferloop/config.hpp"
#include "inferloop/detail/wake_signal.hpp"
#include "inferloop/prediction.hpp"
#include "inferloop/predictor.hpp"
#include "loop/delivery.hpp"
#include "loop/error_sink.hpp"
#include "loop/loop_counters.hpp"

namespace inferloop::detail {

// What the poller hands a replica: a snapshot's metadata (its values are
// copied into the replica's input, or, inline, read where they are).
struct SnapshotMeta {
  std::size_t rows = 0;
  std::uint64_t feature_seq = 0;
  Timestamp feature_time{0};
  Timestamp published_at{0};
};

// The parts of the loop every prediction reports to.
struct PredictionSinks {
  const Clock& clock;
  Delivery& delivery;
  ErrorSink& errors;
  // Woken when a threaded replica becomes idle (the poller may have a
  // pending snapshot for it); its condition is completions().
  WakeSignal& poller_wake;
};

class Replica {
 public:
  Replica(std::uint32_t id, std::unique_ptr<Predictor> predictor, std::size_t max_rows,
          std::size_t num_features, std::size_t num_outputs, ReplicaCounters& counters);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
  [[nodiscard]] std::uint64_t model_version() const noexcept { return model_version_; }

  // Poller, replica idle: serve `predictor` (model_version `version`) from the
  // next dispatch on; returns the predictor it replaces.
  std::unique_ptr<Predictor> switch_model(std::unique_ptr<Predictor> predictor,
                                          std::uint64_t version) noexcept;

  // Poller thread, one replica: predicts `values` right here and delivers.
  void run_inline(std::span<const float> values, const SnapshotMeta& meta,
                  const PredictionSinks& sinks) noexcept;

  // ---- several replicas: the replica's own thread -------------------------

  // Starts the thread. `strategy` and `spin` are the loop's; `cpu` >= 0 pins
  // it (throws inferloop::Error naming replica_cpus when refused).
  void start_thread(WaitStrategy strategy, std::chrono::nanoseconds spin,
                    const PredictionSinks& sinks, int cpu = -1);
  // Poller: whether the replica can take a snapshot (seq_cst).
  [[nodiscard]] bool idle() const noexcept { return !busy_.load(std::memory_order_seq_cst); }
  // Poller, replica idle: copies the snapshot in and wakes the thread.
  void hand_over(std::span<const float> values, const SnapshotMeta& meta) noexcept;
  // Poller: spin for the next hand-over instead of sleeping (no-op unless
  // the strategy spins).
  void prime() noexcept;
  // Poller: whether the replica's thread has claimed the last job handed
  // over (seq_cst).
  [[nodiscard]] bool claimed() const noexcept {
    return claimed_.load(std::memory_order_seq_cst) == job_seq_.load(std::memory_order_seq_cst);
  }
  // Poller, after hand_over(): claims the job if the replica's thread has
  // not, and runs it here, on the replica's predictor, delivering as the
  // thread would. Returns false, doing nothing, when the thread claimed it.
  bool run_unclaimed_here(const PredictionSinks& sinks) noexcept;
  // Finishes the prediction in flight (delivering it), then joins. Idempotent.
  void stop_thread() noexcept;
  // Predictions this replica finished since start; bumped (seq_cst) after
  // busy_ clears, so the poller can wait on "some replica became idle".
  [[nodiscard]] std::uint64_t completions() const noexcept {
    return completions_.load(std::memory_order_seq_cst);
  }

 private:
  void predict_and_deliver(std::span<const float> values, const SnapshotMeta& meta,
                           const PredictionSinks& sinks) noexcept;
  // Claims job `job` (the job_seq_ it was handed over with): true for
  // exactly one caller per job.
  bool claim(std::uint64_t job) noexcept;
  // The claimed job: predicts, delivers, then frees the replica.
  void run_claimed(const PredictionSinks& sinks) noexcept;
  void thread_main(WaitStrategy strategy, std::chrono::nanoseconds spin, PredictionSinks sinks) noexcept;

  const std::uint32_t id_;
  const std::size_t num_features_;
  const std::size_t num_outputs_;
  ReplicaCounters& counters_;

  // Owned as described in the file comment.
  std::unique_ptr<Predictor> predictor_;
  std::uint64_t model_version_ = 1;
  std::vector<float> input_;  // max_rows * num_features
  SnapshotMeta meta_;
  Prediction output_;  // max_rows * num_outputs

  std::thread thread_;
  WakeSignal wake_;
  alignas(64) std::atomic<std::uint64_t> job_seq_{0};  // hand-overs so far; see the file comment
  std::atomic<std::uint64_t> claimed_{0};  // the last job claimed; see the file comment
  alignas(64) std::atomic<bool> busy_{false};
  std::atomic<bool> primed_{false};
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<std::uint64_t> completions_{0};
};

}  // namespace inferloop::detail
