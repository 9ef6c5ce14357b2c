// Replica: see replica.hpp.
#include "loop/replica.hpp"

#include <pthread.h>

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "loop/thread_name.hpp"

namespace inferloop::detail {

Replica::Replica(std::uint32_t id, std::unique_ptr<Predictor> predictor, std::size_t max_rows,
                 std::size_t num_features, std::size_t num_outputs, ReplicaCounters& counters)
    : id_(id),
      num_features_(num_features),
      num_outputs_(num_outputs),
      counters_(counters),
      predictor_(std::move(predictor)),
      input_(max_rows * num_features, 0.0F),
      output_(max_rows * num_outputs) {}

Replica::~Replica() { stop_thread(); }

std::unique_ptr<Predictor> Replica::switch_model(std::unique_ptr<Predictor> predictor,
                                                 std::uint64_t version) noexcept {
  model_version_ = version;
  return std::exchange(predictor_, std::move(predictor));
}

void Replica::run_inline(std::span<const float> values, const SnapshotMeta& meta,
                         const PredictionSinks& sinks) noexcept {
  predict_and_deliver(values, meta, sinks);
}

void Replica::predict_and_deliver(std::span<const float> values, const SnapshotMeta& meta,
                                  const PredictionSinks& sinks) noexcept {
  const Timestamp started = sinks.clock.now();
  counters_.queue_wait.record(started - meta.published_at);
  try {
    predictor_->predict(values, meta.rows,
                        std::span<float>(output_.storage.data(), meta.rows * num_outputs_));
    const Timestamp finished = sinks.clock.now();
    counters_.predict.record(finished - started);
    output_.feature_seq = meta.feature_seq;
    output_.feature_time = meta.feature_time;
    output_.published_at = meta.published_at;
    output_.started_at = started;
    output_.completed_at = finished;
    output_.model_version = model_version_;
    output_.replica_id = id_;
    output_.rows = static_cast<std::uint32_t>(meta.rows);
    output_.cols = static_cast<std::uint32_t>(num_outputs_);
    counters_.predictions.add();
    sinks.delivery.deliver(id_, counters_, output_);
  } catch (const std::exception& e) {
    counters_.errors.add();
    sinks.errors.report({e.what(), meta.feature_seq, id_, sinks.clock.now()});
  } catch (...) {
    counters_.errors.add();
    sinks.errors.report({"predictor threw a non-standard exception", meta.feature_seq, id_,
                         sinks.clock.now()});
  }
}

// ---- several replicas -----------------------------------------------------------

void Replica::start_thread(WaitStrategy strategy, std::chrono::nanoseconds spin,
                           const PredictionSinks& sinks, int cpu) {
  thread_ = std::thread([this, strategy, spin, sinks] {
    name_this_thread("inferloop-r" + std::to_string(id_));
    thread_main(strategy, spin, sinks);
  });
  if (cpu >= 0) pin_thread(thread_, cpu, "replica_cpus (replica " + std::to_string(id_) + ")");
}

void Replica::hand_over(std::span<const float> values, const SnapshotMeta& meta) noexcept {
  std::copy(values.begin(), values.end(), input_.begin());
  meta_ = meta;
  busy_.store(true, std::memory_order_seq_cst);
  job_seq_.fetch_add(1, std::memory_order_seq_cst);
  wake_.notify();
}

void Replica::prime() noexcept {
  if (primed_.load(std::memory_order_relaxed)) return;
  primed_.store(true, std::memory_order_seq_cst);
  wake_.notify();
}

bool Replica::claim(std::uint64_t job) noexcept {
  std::uint64_t previous = job - 1;
  return claimed_.compare_exchange_strong(previous, job, std::memory_order_seq_cst);
}

void Replica::run_claimed(const PredictionSinks& sinks) noexcept {
  predict_and_deliver(std::span<const float>(input_.data(), meta_.rows * num_features_), meta_,
                      sinks);
  busy_.store(false, std::memory_order_seq_cst);
  completions_.fetch_add(1, std::memory_order_seq_cst);
}

bool Replica::run_unclaimed_here(const PredictionSinks& sinks) noexcept {
  if (!claim(job_seq_.load(std::memory_order_seq_cst))) return false;
  run_claimed(sinks);
  return true;
}

void Replica::stop_thread() noexcept {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_seq_cst);
  wake_.notify();
  thread_.join();
}

void Replica::thread_main(WaitStrategy strategy, std::chrono::nanoseconds spin,
                          PredictionSinks sinks) noexcept {
  std::uint64_t done = 0;
  auto has_job = [&] { return job_seq_.load(std::memory_order_seq_cst) != done; };
  auto stopping = [&] { return stop_.load(std::memory_order_seq_cst); };
  while (true) {
    if (has_job()) {
      // Jobs are handed over one at a time (the next only once this
      // replica is idle), so `done + 1` is the one to claim; the poller ran
      // it if the claim fails.
      ++done;
      if (claim(done)) {
        run_claimed(sinks);
        sinks.poller_wake.notify();
      }
      continue;
    }
    // Queue empty: in-flight work is done, so a stop can be honoured.
    if (stopping()) return;
    // Primed: the poller expects to hand this replica the next snapshot,
    // so wait with the loop's strategy (spinning first). Otherwise sleep
    // until a hand-over, a stop, or being primed.
    if (primed_.exchange(false, std::memory_order_seq_cst)) {
      // Polite spinning (a sched_yield per poll): where this thread shares
      // a core with the poller or the engine, they run at once (and the
      // poller runs a job this thread is too late to claim); on a core of
      // its own it still sees the work within a system call.
      wait_until(wake_, [&] { return has_job() || stopping(); }, strategy, spin,
                 /*spins_per_yield=*/1);
    } else {
      wait_until(
          wake_,
          [&] { return has_job() || stopping() || primed_.load(std::memory_order_seq_cst); },
          WaitStrategy::kBlock, spin);
    }
  }
}

}  // namespace inferloop::detail
