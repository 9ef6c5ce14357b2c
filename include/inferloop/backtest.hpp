// Backtest mode: the same InferenceLoop, in simulated time.
//
// Set LoopOptions::backtest and give the loop a simulated Clock (ManualClock).
// The loop then starts no poller and no replica threads and reads no wall
// clock. Every publish() enters a discrete-event simulation of the live
// loop's num_replicas replicas: a snapshot published at t starts on an idle
// replica (round-robin, as live) or waits as the single pending snapshot
// (conflating an older pending one, as live); a dispatch that starts at s
// becomes visible at s + L, where L comes from the LatencyModel below.
// latest() returns the newest result whose visibility time is <= now.
// The predictions themselves are computed for real on `threads` worker
// threads; only their visibility is simulated. docs/backtesting.md has the
// whole model of time.
//
// Determinism: the same snapshots, publish times, config, latency model and
// seed give a bit-identical result stream (values, timestamps, replica ids,
// conflation and staleness) whatever `threads` is and however the workers
// are scheduled.
//
// Thread safety: LatencyModel is an immutable value; LatencySampler is used
// by one thread at a time (the loop uses it under its simulation mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/clock.hpp"

namespace inferloop {

class LatencySampler;

// How long a simulated replica takes to produce a result, dispatch by
// dispatch. Parse one from text with parse(), or build one in C++.
class LatencyModel {
 public:
  enum class Kind { kZero, kConstant, kLogNormal, kReplay };

  // The longest latency any model gives: a constant or replayed latency
  // above it is refused, a lognormal draw above it is this (the saturation
  // rule). A day is far beyond any inference; the bound keeps simulated
  // time (publish time + latencies) far from the end of Timestamp's range.
  static constexpr Timestamp kMaxLatency = std::chrono::hours(24);

  // Every prediction is visible the instant its replica starts it.
  static LatencyModel zero();
  // REQUIRES (throws inferloop::Error otherwise): 0 <= latency <= kMaxLatency.
  static LatencyModel constant(Timestamp latency);
  // The latency itself (not its log) has this mean and standard deviation.
  // REQUIRES (throws inferloop::Error otherwise): 0 < mean <= kMaxLatency,
  // 0 <= stddev <= kMaxLatency. Draws are capped at kMaxLatency.
  static LatencyModel lognormal(Timestamp mean, Timestamp stddev);
  // The k-th dispatch (k = 0, 1, ...) takes latencies[k % size]: the
  // recording is cycled when the backtest dispatches more often than the
  // recorded run did. Throws inferloop::Error when `latencies` is empty or
  // holds a value outside [0, kMaxLatency]. `source` names the recording in
  // describe().
  static LatencyModel replay(std::vector<Timestamp> latencies, std::string source = "<memory>");
  // The latencies (completed_at_ns - started_at_ns) of a results file that
  // `inferloop run --results` (or `inferloop backtest --results`) wrote, one
  // per result (the rows of a multi-row result share one latency).
  static LatencyModel replay_file(const std::filesystem::path& results_csv);

  // "zero", "constant:50us", "lognormal:40us,15us", "replay:FILE". Units:
  // ns, us, ms, s. Throws inferloop::Error saying what is wrong, with examples.
  static LatencyModel parse(std::string_view spec);

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  // The longest latency a sampler of this model can return (at most
  // kMaxLatency).
  [[nodiscard]] Timestamp max_latency() const noexcept;
  // The spec back as text, e.g. "lognormal:40us,15us" or "replay:run.csv (1200 latencies)".
  [[nodiscard]] std::string describe() const;
  // A fresh sampler: its k-th draw is the k-th dispatch's latency.
  // REQUIRES: this model outlives the sampler (it refers to it).
  [[nodiscard]] LatencySampler sampler(std::uint64_t seed) const;

  LatencyModel() = default;  // zero()

 private:
  friend class LatencySampler;
  Kind kind_ = Kind::kZero;
  Timestamp constant_{0};
  // Parameters of the underlying normal: log(L) ~ N(mu_, sigma_^2).
  double mu_ = 0.0;
  double sigma_ = 0.0;
  Timestamp mean_{0};
  Timestamp stddev_{0};
  std::vector<Timestamp> replay_;
  std::string source_;
};

// Draws latencies in dispatch order. The lognormal draw is built from
// std::mt19937_64's raw output (whose sequence the C++ standard fixes) with
// a Box-Muller transform written here, not std::normal_distribution (whose
// algorithm differs between standard libraries), so a seed gives the same
// latencies with any standard library; the last ulp of exp/log/cos still
// comes from the platform's libm.
class LatencySampler {
 public:
  LatencySampler(const LatencyModel& model, std::uint64_t seed);
  // The next dispatch's latency, in [0, max_latency()]. A zero or constant
  // model's is inline: the simulation draws once per snapshot.
  Timestamp next() {
    if (fixed_) {
      ++index_;
      return fixed_latency_;
    }
    return draw();
  }
  [[nodiscard]] Timestamp max_latency() const noexcept { return max_latency_; }

 private:
  Timestamp draw();

  // A copy, not a reference: `LatencyModel::parse(spec).sampler(seed)` must
  // not leave the sampler pointing at a destroyed temporary.
  LatencyModel model_;
  // model_.max_latency(), once: a replayed recording's is a scan of it, and
  // the simulation asks at every arrival.
  Timestamp max_latency_;
  // A zero or constant model: every draw is fixed_latency_.
  bool fixed_;
  Timestamp fixed_latency_;
  std::mt19937_64 engine_;
  std::uint64_t index_ = 0;  // dispatches drawn so far
};

struct BacktestOptions {
  LatencyModel latency;
  // Seeds the latency model (lognormal); the same seed replays the same latencies.
  std::uint64_t seed = 1;
  // Threads that compute predictions, each with its own predictor instance
  // (made by the same registry factory). Unrelated to num_replicas, which
  // is the simulated deployment's replica count. 1..256.
  std::size_t threads = 1;
  // A worker may predict the rows of up to this many queued snapshots in one
  // predict() call (predictions of a row never depend on the other rows in
  // the call, so batching changes throughput, not results). 1 disables it.
  std::size_t max_batch_snapshots = 64;
  // replay() (include/inferloop/replay.hpp), which has every event up front,
  // predicts a whole replay in predict() calls of about this many rows
  // (whole snapshots), taken by whichever compute thread is free, round by
  // round (4 calls per thread; 1 from 262,144 rows up; with several threads
  // a round's last calls smaller, down to an eighth, so that the threads
  // finish it together; the next round's calls are on offer beside them),
  // while it simulates the round after and delivers the last. 0: 8,192, or 1,048,576 when the
  // config's device is a GPU (`cuda`, `cuda:N`), where a call pays for its
  // launches only when it is large. Memory: two rounds' outputs and about 80
  // bytes per dispatched snapshot of a round, plus, when snapshots are
  // conflated, a gathered copy of each call's rows. With
  // max_batch_snapshots == 1, replay() predicts each snapshot alone.
  std::size_t replay_batch_rows = 0;
};

}  // namespace inferloop
