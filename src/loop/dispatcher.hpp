// Dispatcher: the poller thread. It waits with the loop's wait strategy for a
// new snapshot (or for a replica to become idle while one is pending), takes
// the newest snapshot, and dispatches it round-robin to an idle replica; when
// every replica is busy it keeps only the newest pending snapshot and counts
// every snapshot that will now never be predicted (conflation). It also adopts
// a staged live-reload generation and switches each replica to it at that
// replica's next dispatch.
//
// One replica: the poller runs the prediction itself (Replica::run_inline).
// With one replica a snapshot can only be dispatched when that replica is
// idle, so a separate replica thread would only add a hop and a third thread
// (engine, poller, replica) competing for the cores; inline, the hand-over
// is one cache-line transfer from the engine to the poller. Several replicas:
// each has its own thread, the poller hands snapshots over without a lock or
// an allocation (Replica::hand_over) and primes the replica next in line so
// that exactly one of them spins. When it hands a job to the primed replica
// (any strategy but `block`), the poller then waits up to kClaimWindow for
// the replica's thread to claim it, and runs it itself if it has not
// (Replica::run_unclaimed_here): a spinning thread that has not seen its job
// within that has no core (more runnable threads than cores), and would
// start the job a scheduler's time slice later (docs/design.md argues all
// three choices).
//
// Lifecycle: start() launches the poller (and the replica threads); stop()
// (owner thread) stops taking snapshots, lets the poller finish what it runs,
// joins it, then stops the replicas, which finish and deliver their
// in-flight predictions. request_stop() (any thread) only asks.
//
// Threads: every private member is the poller thread's, except as noted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "inferloop/config.hpp"
#include "inferloop/feature_slot.hpp"
#include "inferloop/inference_loop.hpp"
#include "loop/loop_counters.hpp"
#include "loop/model_reloader.hpp"
#include "loop/replica.hpp"
#include "util/round_robin.hpp"

namespace inferloop::detail {

// How long the poller waits for a replica's thread to claim a job before it
// runs the job itself. A primed replica polls with a sched_yield per poll,
// which returns in well under a microsecond where the thread has a core;
// one that has none would wait for a time slice (milliseconds).
inline constexpr std::chrono::nanoseconds kClaimWindow = std::chrono::microseconds(1);

class Dispatcher {
 public:
  // `slot` is where the engine publishes; `source` (optional) replaces it
  // (pull mode). Every reference must outlive the dispatcher.
  Dispatcher(const void* loop, const InferenceConfig& config, FeatureSlot& slot,
             FeatureSource source, std::vector<std::unique_ptr<Replica>>& replicas,
             ModelReloader& reloader, DispatchCounters& counters, const PredictionSinks& sinks);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Any thread: stop dispatching (the poller exits at its next wake or tick).
  void request_stop() noexcept;
  // Owner thread: request_stop(), join the poller, then drain and join the
  // replicas. Idempotent.
  void stop() noexcept;

 private:
  void poller_main();
  void run_event_poller();
  void run_interval_poller();
  void run_continuous_source_poller();

  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_seq_cst); }
  [[nodiscard]] std::uint64_t completions() const noexcept;
  void take_from_slot() noexcept;
  bool pull_from_source() noexcept;
  // Dispatches the pending snapshot to the next idle replica; false if none is idle.
  bool dispatch_pending() noexcept;
  // After a hand-over: waits up to kClaimWindow for `replica`'s thread to
  // claim the job, else runs it here.
  void run_if_unclaimed(Replica& replica) noexcept;
  void switch_to_serving_model(Replica& replica) noexcept;

  const void* const loop_;
  const InferenceConfig& config_;
  FeatureSlot& slot_;
  const FeatureSource source_;
  std::vector<std::unique_ptr<Replica>>& replicas_;
  ModelReloader& reloader_;
  DispatchCounters& counters_;
  const PredictionSinks sinks_;
  const bool inline_replica_;

  std::thread poller_;                            // owner thread: start() and stop()
  std::unique_ptr<boost::asio::io_context> io_;   // interval mode's timer runs here
  // Written by request_stop() (any thread, seq_cst: part of the poller's
  // wait condition, followed by a notify); read by the poller.
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;  // owner thread

  // Poller-thread state.
  RoundRobin round_robin_;
  FeatureSnapshot pending_;
  bool has_pending_ = false;
  std::uint64_t last_taken_seq_ = 0;
  std::vector<float> source_scratch_;  // the feature source writes here
  std::vector<float> source_pending_;  // the last complete snapshot it produced
  ModelGeneration* generation_ = nullptr;  // the reload new dispatches use (null: start()'s model)
  std::uint64_t serving_version_ = 1;
  static constexpr std::size_t kNoReplica = SIZE_MAX;
  std::size_t primed_replica_ = kNoReplica;  // the replica last primed, until its next dispatch
};

}  // namespace inferloop::detail
