// ReplicaSimulator: the live loop's dispatch rules replayed in simulated time.
//
// It models only *when* things happen: which snapshot starts on which
// replica at what time, which snapshots are conflated, and when each result
// becomes visible. It never sees feature values or predictions, so the
// schedule cannot depend on them and the computation can run anywhere.
//
// The rules are the live poller's (src/loop/dispatcher.cpp), and the choice
// of replica is the same code (util/round_robin.hpp):
//   - a replica is busy from the start of a prediction until its result is
//     visible (start + the latency model's next draw);
//   - a snapshot that arrives at t first lets every completion at or before
//     t happen, in time order; a replica that frees at f takes the pending
//     snapshot at f;
//   - then it goes to the next idle replica in round-robin order, or, when
//     all are busy, becomes the single pending snapshot, conflating the one
//     it replaces;
//   - results complete in (visible_at, feature_seq) order; at one instant,
//     every completion happens before the pending snapshot is dispatched.
//
// Time never wraps: arrive() refuses, before changing anything, a snapshot
// whose result could become visible past the largest Timestamp. A snapshot
// that arrives at t starts by t + L at the latest (L = the latency model's
// longest latency: the running predictions it waits for all started by t)
// and is visible by t + 2L, so checking t + 2L at arrival covers every sum
// the simulation will form; dispatch() adds with checked_add all the same
// and saturates at Timestamp's maximum rather than wrap.
//
// Threads: not thread-safe; the backtest engine calls it under its mutex.
// A plain value: copying it forks the simulation (idle_at() relies on this).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <algorithm>
#include <utility>
#include <optional>
#include <vector>

#include "inferloop/backtest.hpp"
#include "inferloop/clock.hpp"
#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/round_robin.hpp"
#include "util/text.hpp"

namespace inferloop::detail {

struct SimJob {
  std::uint64_t feature_seq = 0;
  Timestamp published_at{0};
  Timestamp started_at{0};
  Timestamp visible_at{0};
  std::uint32_t replica_id = 0;
};

// What the simulator reports, in simulation order. The simulator's methods
// take any listener type with these members: a final class's calls are
// direct (the bulk replay's recorder, called once per snapshot); a
// SimListener& calls through the vtable.
class SimListener {
 public:
  virtual ~SimListener() = default;
  // `job` started on its replica (`arriving` false: it was the pending snapshot).
  virtual void on_dispatch(const SimJob& job, bool arriving) = 0;
  // `job`'s result becomes visible now (job.visible_at).
  virtual void on_visible(const SimJob& job) = 0;
  // The pending snapshot `feature_seq` will never be dispatched: replaced by
  // a newer one (conflated) or dropped by stop() (discarded).
  virtual void on_conflated(std::uint64_t feature_seq) = 0;
  virtual void on_discarded(std::uint64_t feature_seq) = 0;
};

class ReplicaSimulator {
 public:
  ReplicaSimulator(std::size_t replicas, LatencySampler sampler)
      : replicas_(replicas),
        running_(replicas),
        busy_flags_(replicas, 0),
        round_robin_(replicas),
        sampler_(std::move(sampler)) {}

  // Runs every completion (and the dispatches they allow) up to and including t.
  template <typename Listener>
  void advance(Timestamp t, Listener& listener) {
    // Nothing runs, so nothing is pending either: only the clock moves.
    if (busy_ != 0) complete_until(t, listener);
    now_ = std::max(now_, t);
  }

  // A snapshot published at `published_at` (>= every earlier call's time;
  // an earlier one is treated as arriving at the simulation's current time).
  // Throws inferloop::Error, having changed nothing, when its result could
  // become visible past the largest Timestamp (see the file comment).
  template <typename Listener>
  void arrive(std::uint64_t feature_seq, Timestamp published_at, Listener& listener) {
    const Timestamp at = std::max(published_at, now_);
    const Timestamp horizon = 2 * sampler_.max_latency();
    if (!checked_add(at, horizon)) throw_past_the_end(at, horizon);
    advance(at, listener);
    const Arrival job{feature_seq, published_at};
    if (idle_replica_available()) {
      // Nothing else completes at `at` (advance() just completed all that
      // does); a result visible at once (a zero latency) dispatch() shows.
      dispatch(job, at, /*arriving=*/true, listener);
      return;
    }
    if (has_pending_) listener.on_conflated(pending_.feature_seq);
    pending_ = job;
    has_pending_ = true;
  }

  // Whether every prediction is visible the instant it starts (a zero
  // latency model): then no replica is ever busy, nothing is ever pending,
  // and arrive_instant() is arrive().
  [[nodiscard]] bool instant() const noexcept { return sampler_.max_latency() == Timestamp{0}; }

  // arrive() for an instant() simulation, without the listener: the
  // snapshot starts at max(published_at, now()) on the next replica in
  // round-robin order (all are idle) and is visible at once. Returns its
  // job, which a listener of arrive() would see in on_dispatch(job, true)
  // and then on_visible(job); the caller records both.
  // REQUIRES: instant().
  SimJob arrive_instant(std::uint64_t feature_seq, Timestamp published_at) {
    const Timestamp at = std::max(published_at, now_);
    now_ = at;
    // No replica is ever busy: the cursor's replica is the idle one.
    const std::size_t replica = *round_robin_.next_idle([](std::size_t) { return true; });
    const SimJob job = start_job({feature_seq, published_at}, replica, at);
    running_[replica] = job;
    return job;
  }

  // The loop stops: the pending snapshot is dropped, every running
  // prediction completes (in order, at its own visible_at).
  template <typename Listener>
  void stop(Listener& listener) {
    if (has_pending_) listener.on_discarded(pending_.feature_seq);
    has_pending_ = false;
    Timestamp next{0};
    while (next_completion(next)) {
      complete_all_at(next, listener);
      now_ = std::max(now_, next);
    }
  }

  // When every snapshot published so far will be visible (or conflated) if
  // nothing more is published: at least the current simulation time.
  [[nodiscard]] Timestamp idle_at() const {
    ReplicaSimulator fork = *this;
    NullListener ignore;
    Timestamp next{0};
    while (fork.next_completion(next)) fork.advance(next, ignore);
    return fork.now_;
  }

  [[nodiscard]] Timestamp now() const noexcept { return now_; }
  [[nodiscard]] bool has_pending() const noexcept { return has_pending_; }

 private:
  struct NullListener final : SimListener {
    void on_dispatch(const SimJob&, bool) override {}
    void on_visible(const SimJob&) override {}
    void on_conflated(std::uint64_t) override {}
    void on_discarded(std::uint64_t) override {}
  };

  // A snapshot before it starts: what arrive() knows of it.
  struct Arrival {
    std::uint64_t feature_seq = 0;
    Timestamp published_at{0};
  };

  // Out of the per-snapshot path: the engine says which snapshot ("could
  // not take snapshot N: ...").
  [[noreturn, gnu::cold, gnu::noinline]] static void throw_past_the_end(Timestamp at, Timestamp horizon) {
    throw Error("arriving at " + std::to_string(at.count()) +
                "ns, its result could become visible up to " + duration_text(horizon) +
                " later (twice the latency model's longest latency), past the largest time a "
                "Timestamp holds (" +
                std::to_string(Timestamp::max().count()) +
                "ns, in the year 2262); publish times must stay at least that far below it");
  }

  // advance() while predictions run: every completion up to t, in order,
  // each freed replica taking the pending snapshot.
  template <typename Listener>
  void complete_until(Timestamp t, Listener& listener) {
    Timestamp next{0};
    while (next_completion(next) && next <= t) {
      complete_all_at(next, listener);
      now_ = std::max(now_, next);
      if (has_pending_) dispatch(pending_, next, /*arriving=*/false, listener);
    }
  }

  // The earliest time a running prediction becomes visible, into `at`;
  // false when none runs. (Neither this nor the jobs are optionals: this
  // runs several times per snapshot, and GCC copies an optional through the
  // stack with a store-forwarding stall per copy.)
  [[nodiscard]] bool next_completion(Timestamp& at) const {
    if (busy_ == 0) return false;
    bool found = false;
    for (std::size_t r = 0; r < replicas_; ++r) {
      if (busy_flags_[r] != 0 && (!found || running_[r].visible_at < at)) {
        at = running_[r].visible_at;
        found = true;
      }
    }
    return found;
  }

  [[nodiscard]] bool idle_replica_available() const { return busy_ < replicas_; }

  // Every result visible at `t`, oldest snapshot first (so that results
  // finishing together are all shown, as live deliveries in seq order are).
  template <typename Listener>
  void complete_all_at(Timestamp t, Listener& listener) {
    const std::size_t replicas = replicas_;
    while (busy_ > 0) {
      std::size_t chosen = replicas;
      for (std::size_t r = 0; r < replicas; ++r) {
        if (busy_flags_[r] != 0 && running_[r].visible_at == t &&
            (chosen == replicas || running_[r].feature_seq < running_[chosen].feature_seq)) {
          chosen = r;
        }
      }
      if (chosen == replicas) return;
      busy_flags_[chosen] = 0;
      --busy_;
      // The job stays in running_[chosen] until that replica's next dispatch.
      listener.on_visible(running_[chosen]);
    }
  }

  // REQUIRES: an idle replica exists (or `job` stays pending: see callers).
  template <typename Listener>
  void dispatch(Arrival arrival, Timestamp start, bool arriving, Listener& listener) {
    const std::optional<std::size_t> index =
        round_robin_.next_idle([&](std::size_t r) { return busy_flags_[r] == 0; });
    if (!index) return;
    // Built in registers, handed to the listener, then stored: a listener
    // that copies the job out of running_ right after these field stores
    // would read them back with wider loads that stall (store forwarding;
    // 5-10% of a replay's simulation, measured). A listener that throws
    // (out of memory) finds the job stored all the same: the simulation
    // stays consistent, with the job running as dispatched.
    const SimJob job = start_job(arrival, *index, start);
    if (!arriving) has_pending_ = false;
    try {
      listener.on_dispatch(job, arriving);
    } catch (...) {
      running_[*index] = job;
      start_running(*index);  // the next advance() shows it
      throw;
    }
    running_[*index] = job;  // until that replica's next dispatch
    if (job.visible_at == start) {
      // Visible at once (a zero latency): the replica never becomes busy.
      // Both callers have shown every result visible at `start` already
      // (arrive() advanced to it, complete_until() completed it), so this
      // one is next in order, as complete_all_at() would show it: shown
      // here, without the busy flag, the count and two scans of replicas.
      listener.on_visible(job);
      return;
    }
    start_running(*index);
  }

  // `arrival` starting on `replica` at `start`: its job, visible after the
  // latency model's next draw.
  SimJob start_job(Arrival arrival, std::size_t replica, Timestamp start) {
    SimJob job;
    job.feature_seq = arrival.feature_seq;
    job.published_at = arrival.published_at;
    job.replica_id = static_cast<std::uint32_t>(replica);
    job.started_at = start;
    // arrive() checked that this fits; saturate rather than wrap if not.
    job.visible_at = checked_add(start, sampler_.next()).value_or(Timestamp::max());
    return job;
  }

  // `replica` runs the job in running_[replica] until its visible_at.
  void start_running(std::size_t replica) noexcept {
    busy_flags_[replica] = 1;
    ++busy_;
  }

  // The prediction each replica runs (or last ran), and whether it runs.
  // replicas_ is their count (a vector's size() is a division per loop
  // test, redone after every store the compiler cannot tell apart from it).
  std::size_t replicas_;
  std::vector<SimJob> running_;
  std::vector<std::uint8_t> busy_flags_;
  std::size_t busy_ = 0;  // busy_flags_ set
  RoundRobin round_robin_;  // the live poller's rule
  Arrival pending_;
  bool has_pending_ = false;
  // Starts before any clock's origin, so the first arrival sets it.
  Timestamp now_{std::numeric_limits<Timestamp::rep>::min()};
  LatencySampler sampler_;
};

}  // namespace inferloop::detail
