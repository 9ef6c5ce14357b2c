// BacktestDriver::replay_all: a whole replay in rounds (backtest_driver.hpp).
//
// Publishing snapshot by snapshot (on_publish) pays for each one a copy into
// a job, a queue hand-off and a share of a predict() call of at most
// max_batch_snapshots snapshots; for a fast predictor that is most of the
// cost, and a GPU needs far larger batches to pay for its launches. replay()
// knows every event up front, and the simulation never looks at features or
// predictions, so it can run a round ahead of the computation:
//   1. simulate round k: snapshots arrive, in order, until the round's
//      dispatched rows reach threads x 4 x replay_batch_rows (threads x
//      replay_batch_rows for calls of 262,144 rows or more) or the rows run out
//      (the last round then runs the clock to idle and stops, as
//      stop(idle_at) does). The Recorder notes each dispatch (its rows in the
//      input) and each visibility, in simulation order, and counts as
//      on_publish() would. With a zero latency (ReplicaSimulator::instant())
//      every snapshot is dispatched and visible the moment it arrives: the
//      round then notes its dispatches alone, through arrive_instant(), and
//      they are its visibilities (Round::instant; half the cost per row of
//      the general simulation, docs/benchmarks.md);
//   2. predict round k: its dispatches, in order, are cut into chunks of
//      about replay_batch_rows rows, the round's last ones smaller with
//      several threads (Round::cut_chunks); any compute thread takes the next chunk
//      and predicts it in one call, straight from the caller's rows when its
//      snapshots are consecutive (no conflation), else gathered first. A call
//      that throws is redone snapshot by snapshot, so that the error lands on
//      the snapshot it belongs to (as predict_batch() does);
//   3. deliver round k: the visibilities, in simulation order, through the
//      same deliver_result() as deliver(). A dispatch whose result is not yet
//      visible when its round is delivered (at most one per simulated
//      replica) keeps its outputs for the round that shows it. Without
//      on_result and history nothing observes a result but the ResultSlot,
//      which nobody can read during the round: only the round's newest
//      successful result goes through deliver_result(), the others are
//      counted as it would count them (Delivery::count_unobserved), with
//      their latencies recorded once per run of equal values
//      (RepeatedSamples).
// Two rounds are on offer to the compute threads at a time, so that a
// worker goes from one round's chunks to the next's without waiting for the
// driving thread. That thread helps predict round k (and, while a worker
// finishes its last chunk, round k + 1), then delivers round k (result
// callbacks included) and simulates round k + 2 into its records while the
// workers predict round k + 1: with more than one thread the simulation and
// the delivery overlap the predictions.
// The results, counters and errors are, in order, those of on_publish() for
// the same snapshots: only when and how much is computed at once differs
// (tests/backtest compares the two paths field by field).
//
// Threads: the driving thread simulates and delivers, under mutex_; chunks
// run on the workers and on the driving thread, each with the predictor of
// the thread that runs it, and write only their own rows of their round's
// outputs and their own dispatches' error fields.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backtest/backtest_driver.hpp"
#include "backtest/replay_round.hpp"

namespace inferloop::detail {

BacktestDriver::ReplayEnd BacktestDriver::replay_all(const ReplayRows& input) {
  std::lock_guard lock(mutex_);
  ReplayEnd end;
  if (stopped_ || delivering_) return end;

  // Each simulated replica's histograms, flushed before replay_all returns.
  std::vector<ReplicaSamples> samples;
  samples.reserve(replica_jobs_.size());
  for (std::size_t r = 0; r < replica_jobs_.size(); ++r) samples.emplace_back(counters_.replica(r));
  auto flush_samples = [&] {
    for (ReplicaSamples& replica : samples) replica.flush();
  };

  struct Recorder final : SimListener {
    Recorder(BacktestDriver& d, std::vector<ReplicaSamples>& s)
        : driver(d), samples(s), running(s.size(), kEarlierRound) {}
    void start(Round& next, bool instant) {
      round = &next;
      round->clear();
      round->instant = instant;
      std::fill(running.begin(), running.end(), kEarlierRound);
    }
    void on_dispatch(const SimJob& job, bool is_arriving) override {
      const RowRange range = is_arriving ? arriving : pending;
      arrived_dispatched |= is_arriving;
      running[job.replica_id] = round->dispatched.size();
      record_dispatch(job, range);
    }
    void record_dispatch(const SimJob& job, RowRange range) {
      driver.counters_.dispatch().dispatched.add();
      note_dispatch(job, range);
    }
    // record_dispatch() but for the `dispatched` counter, which the caller
    // adds once per run of dispatches (an instant round's: each job of
    // ReplicaSimulator::arrive_instant(), dispatched and visible at once, its
    // visibility the dispatch itself: Round::instant).
    void note_dispatch(const SimJob& job, RowRange range) {
      round->dispatched.emplace_back(job, range, round->dispatched_rows * driver.num_outputs_);
      round->dispatched_rows += range.rows;
      // As count_dispatch(), with the histograms' samples grouped.
      ReplicaSamples& replica = samples[job.replica_id];
      replica.queue_wait.add(job.started_at - job.published_at);
      replica.predict.add(job.visible_at - job.started_at);
    }
    void on_visible(const SimJob& job) override {
      round->visible.push_back(
          {job.feature_seq, running[job.replica_id], job.visible_at - job.published_at, job.replica_id});
      running[job.replica_id] = kEarlierRound;
    }
    // The round is simulated: what still runs is delivered by a later one.
    void finish() {
      for (const std::size_t index : running) {
        if (index != kEarlierRound) round->still_running.push_back(index);
      }
    }
    void on_conflated(std::uint64_t) override { driver.counters_.dispatch().conflated.add(); }
    void on_discarded(std::uint64_t) override {
      driver.counters_.dispatch().discarded_at_stop.add();
    }

    BacktestDriver& driver;
    std::vector<ReplicaSamples>& samples;
    Round* round = nullptr;  // the round being simulated
    RowRange arriving;       // the snapshot arrive() is routing
    RowRange pending;        // the simulator's pending snapshot
    bool arrived_dispatched = false;
    // Per simulated replica: its running job's index in round->dispatched,
    // or kEarlierRound when it started in an earlier round or runs none.
    std::vector<std::size_t> running;
  };

  // What the compute threads read while a round's chunks run.
  struct Compute {
    BacktestDriver* driver = nullptr;
    const ReplayRows* input = nullptr;
    Round* round = nullptr;

    static void predict_chunk(void* context, Worker& worker, std::size_t chunk) noexcept {
      auto& compute = *static_cast<Compute*>(context);
      const BacktestDriver& driver = *compute.driver;
      const std::span<const float> rows_of_replay = compute.input->features;
      const std::size_t features = driver.num_features_;
      const std::size_t outputs = driver.num_outputs_;
      Round& round = *compute.round;
      const std::span<Dispatched> share(round.dispatched.data() + round.chunk_begin[chunk],
                                        round.chunk_begin[chunk + 1] - round.chunk_begin[chunk]);
      float* const out = round.outputs.data();
      auto predict_alone = [&](Dispatched& d) {
        try {
          worker.predictor->predict(
              rows_of_replay.subspan(d.range.first_row * features, d.range.rows * features),
              d.range.rows, std::span<float>(out + d.output, d.range.rows * outputs));
        } catch (const std::exception& e) {
          round.fail(static_cast<std::size_t>(&d - round.dispatched.data()), e.what());
        } catch (...) {
          round.fail(static_cast<std::size_t>(&d - round.dispatched.data()),
                     "predictor threw a non-standard exception");
        }
      };
      if (driver.max_batch_ == 1 || share.size() == 1) {
        for (Dispatched& d : share) predict_alone(d);
        return;
      }
      const std::size_t first_row = share.front().range.first_row;
      const std::size_t rows =
          (share.back().output - share.front().output) / outputs + share.back().range.rows;
      try {
        std::span<const float> rows_in;
        if (share.back().range.first_row + share.back().range.rows - first_row == rows) {
          rows_in = rows_of_replay.subspan(first_row * features, rows * features);
        } else {
          worker.input.clear();
          for (const Dispatched& d : share) {
            const auto from =
                rows_of_replay.subspan(d.range.first_row * features, d.range.rows * features);
            worker.input.insert(worker.input.end(), from.begin(), from.end());
          }
          rows_in = worker.input;
        }
        worker.predictor->predict(rows_in, rows,
                                  std::span<float>(out + share.front().output, rows * outputs));
      } catch (...) {
        // The predictor threw (or gathering ran out of memory): snapshot by
        // snapshot, straight from the caller's rows.
        for (Dispatched& d : share) predict_alone(d);
      }
    }
  };

  const std::size_t total_rows = input.timestamps_ns.size();
  const std::size_t threads = workers_.size() + 1;
  // Rounds of kCallsPerThread calls per thread, so that a thread that is
  // free while the driving thread simulates or delivers takes more of them;
  // calls of kLargeCall rows or more (a GPU's) one per thread, which bounds
  // the round's bookkeeping (about 80 bytes per dispatched snapshot).
  constexpr std::size_t kCallsPerThread = 4;
  constexpr std::size_t kLargeCall = std::size_t{1} << 18;
  const std::size_t per_thread = replay_batch_rows_ >= kLargeCall
                                     ? replay_batch_rows_
                                     : kCallsPerThread * replay_batch_rows_;
  const std::size_t round_rows = per_thread > std::numeric_limits<std::size_t>::max() / threads
                                     ? std::numeric_limits<std::size_t>::max()
                                     : per_thread * threads;
  Recorder recorder(*this, samples);
  std::size_t next_row = 0;
  std::uint64_t feature_seq = input.first_seq;
  Timestamp last_at{total_rows == 0 ? 0 : input.timestamps_ns.front()};

  // A zero latency: every snapshot is dispatched and visible the moment it
  // arrives, so the round records dispatches alone (Round::instant).
  const bool instant = simulator_.instant();
  // The rows of the snapshot that starts at `row`: those after it with its
  // timestamp, up to max_rows.
  const std::int64_t* const timestamps = input.timestamps_ns.data();
  auto snapshot_rows = [timestamps, total_rows, max_rows = input.max_rows](std::size_t row) {
    std::size_t count = 1;
    while (row + count < total_rows && count < max_rows &&
           timestamps[row + count] == timestamps[row]) {
      ++count;
    }
    return count;
  };
  // An instant simulation's round: the loop of simulate() below with
  // arrive_instant(), its state in locals (the compiler keeps them in
  // registers across the recorder's stores).
  auto simulate_instant = [&](Round& round) {
    std::size_t row = next_row;
    std::uint64_t seq = feature_seq;
    std::uint64_t snapshots = 0;
    while (row < total_rows && round.dispatched_rows < round_rows) {
      const std::size_t count = snapshot_rows(row);
      recorder.note_dispatch(simulator_.arrive_instant(seq, Timestamp{timestamps[row]}),
                             {row, count});
      ++seq;
      ++snapshots;
      row += count;
    }
    counters_.dispatch().dispatched.add(snapshots);
    if (snapshots != 0) last_at = Timestamp{timestamps[round.dispatched.back().range.first_row]};
    next_row = row;
    feature_seq = seq;
    end.snapshots += snapshots;
  };
  // Simulates the next round into `round`; true when it was the last.
  auto simulate = [&](Round& round) {
    recorder.start(round, instant);
    if (instant) simulate_instant(round);
    while (next_row < total_rows && round.dispatched_rows < round_rows) {
      const std::size_t count = snapshot_rows(next_row);
      const Timestamp at{timestamps[next_row]};
      recorder.arriving = {next_row, count};
      recorder.arrived_dispatched = false;
      try {
        simulator_.arrive(feature_seq, at, recorder);
        if (!recorder.arrived_dispatched) recorder.pending = recorder.arriving;
      } catch (const std::exception& e) {
        // As on_publish(): the simulator refused it before taking it.
        counters_.dispatch().source_errors.add();
        errors_.report({"backtest: could not take snapshot " + std::to_string(feature_seq) + ": " +
                            e.what(),
                        0, 0, at});
      }
      last_at = at;
      ++feature_seq;
      ++end.snapshots;
      next_row += count;
    }
    if (next_row < total_rows) {
      recorder.finish();
      return false;
    }
    end.idle_at = std::max(last_at, simulator_.idle_at());
    simulator_.advance(end.idle_at, recorder);
    simulator_.stop(recorder);
    recorder.finish();
    return true;
  };

  std::vector<Carried> carried;
  // An instant round's results counted per simulated replica (deliver_round).
  std::vector<std::uint64_t> counted(replica_jobs_.size());
  Prediction result(num_outputs_ * input.max_rows);
  std::string round_error;
  auto deliver_round = [&](Round& round) {
    // A visibility's dispatch from an earlier round (always there: each
    // still-running dispatch is carried until it shows).
    auto carried_of = [&](const Visible& visible) -> Carried* {
      for (Carried& c : carried) {
        if (c.dispatched.sim.feature_seq == visible.feature_seq) return &c;
      }
      return nullptr;
    };
    // Without on_result and history only the ResultSlot shows a result, and
    // no reader can look before the round is delivered (each waits on
    // mutex_): of the round's successful results only the newest goes
    // through deliver(), the others are counted (Delivery::count_unobserved).
    const bool every_result = delivery_.observes_each_result();
    bool any_failed = round.any_failed.load(std::memory_order_relaxed);
    for (const Carried& c : carried) any_failed |= c.dispatched.failed;
    auto failed = [&](const Visible& visible) {
      if (!any_failed) return false;
      if (visible.index != kEarlierRound) return round.dispatched[visible.index].failed;
      const Carried* from_earlier = carried_of(visible);
      return from_earlier == nullptr || from_earlier->dispatched.failed;
    };
    const std::size_t visibilities = round.visibilities();
    std::uint64_t newest_seq = 0;
    if (!every_result && round.instant) {
      // Dispatch order is feature_seq order: the newest is the last that did not fail.
      for (std::size_t k = visibilities; k-- > 0;) {
        const Visible visible = round.visibility(k);
        if (!failed(visible)) {
          newest_seq = visible.feature_seq;
          break;
        }
      }
    } else if (!every_result) {
      for (std::size_t k = 0; k < visibilities; ++k) {
        const Visible visible = round.visibility(k);
        if (visible.feature_seq > newest_seq && !failed(visible)) newest_seq = visible.feature_seq;
      }
    }
    delivering_ = true;
    std::size_t first_delivered = 0;
    if (round.instant && !every_result && !any_failed && visibilities > 1) {
      // Every result but the last (the newest: none failed) is counted
      // unobserved, in one run when none is stale (feature_seqs increase
      // along an instant round).
      const std::vector<Dispatched>& dispatched = round.dispatched;
      const std::size_t last = visibilities - 1;
      if (delivery_.count_unobserved_run(dispatched.front().sim.feature_seq,
                                         dispatched[last - 1].sim.feature_seq)) {
        std::fill(counted.begin(), counted.end(), 0);
        for (std::size_t k = 0; k < last; ++k) {
          const SimJob& job = dispatched[k].sim;
          ++counted[job.replica_id];
          samples[job.replica_id].publish_to_visible.add(job.visible_at - job.published_at);
        }
        for (std::size_t r = 0; r < counted.size(); ++r) {
          counters_.replica(r).predictions.add(counted[r]);
        }
        first_delivered = last;
      }
    }
    for (std::size_t k = first_delivered; k < visibilities; ++k) {
      const Visible visible = round.visibility(k);
      Carried* from_earlier = visible.index == kEarlierRound ? carried_of(visible) : nullptr;
      if (visible.index == kEarlierRound && from_earlier == nullptr) continue;
      if (from_earlier != nullptr) from_earlier->delivered = true;
      if (!every_result && visible.feature_seq != newest_seq && !failed(visible)) {
        ReplicaCounters& counters = counters_.replica(visible.replica_id);
        counters.predictions.add();
        if (delivery_.count_unobserved(counters, visible.feature_seq)) {
          samples[visible.replica_id].publish_to_visible.add(visible.publish_to_visible);
        }
        continue;
      }
      const Dispatched& d =
          from_earlier != nullptr ? from_earlier->dispatched : round.dispatched[visible.index];
      if (from_earlier != nullptr) {
        std::copy(from_earlier->outputs.begin(), from_earlier->outputs.end(), result.storage.begin());
        deliver_result(d.sim, d.range.rows, d.sim.published_at, d.failed, from_earlier->error, result);
        continue;
      }
      if (d.failed) round_error = round.error_of(visible.index);
      std::copy_n(round.outputs.begin() + static_cast<std::ptrdiff_t>(d.output),
                  d.range.rows * num_outputs_, result.storage.begin());
      deliver_result(d.sim, d.range.rows, d.sim.published_at, d.failed, round_error, result);
    }
    delivering_ = false;
    std::erase_if(carried, [](const Carried& c) { return c.delivered; });
    for (const std::size_t i : round.still_running) {
      const Dispatched& d = round.dispatched[i];
      const auto first = round.outputs.begin() + static_cast<std::ptrdiff_t>(d.output);
      carried.push_back(
          {d, std::vector<float>(first, first + static_cast<std::ptrdiff_t>(d.range.rows * num_outputs_)),
           d.failed ? round.error_of(i) : std::string()});
    }
  };

  Round rounds[2];
  // A round dispatches at most round_rows snapshots. Reserved once, so that
  // no round grows its records by reallocation: with records of several MiB
  // that copied them and touched twice the memory (a replay_batch_rows of
  // 32,768 with two threads took 0.61 of batch throughput, 0.89 reserved).
  // What a round does not use is never touched.
  const std::size_t most_dispatched = std::min(round_rows, total_rows);
  for (Round& round : rounds) {
    round.dispatched.reserve(most_dispatched);
    if (!instant) round.visible.reserve(most_dispatched + replica_jobs_.size());
  }
  Compute compute[2];
  auto offer = [&](std::size_t which) {
    Round& round = rounds[which];
    round.outputs.resize(round.dispatched_rows * num_outputs_);
    // A large call (a GPU's) is one per thread and stays whole.
    round.cut_chunks(replay_batch_rows_, replay_batch_rows_ >= kLargeCall ? 1 : threads);
    compute[which] = {this, &input, &round};
    start_chunks(&Compute::predict_chunk, &compute[which], round.chunks());
  };

  try {
    // Two rounds on offer at a time (start_chunks): the compute threads go
    // from round k's chunks to round k + 1's without waiting for the driving
    // thread, which helps with both, then delivers round k and simulates
    // round k + 2 into its records while they predict round k + 1.
    bool all_simulated = simulate(rounds[0]);
    offer(0);
    if (!all_simulated) {
      all_simulated = simulate(rounds[1]);
      offer(1);
    }
    // finish_chunks() finishes the older round on offer: round `current`.
    for (std::size_t current = 0; finish_chunks(); current = 1 - current) {
      deliver_round(rounds[current]);
      if (!all_simulated) {
        all_simulated = simulate(rounds[current]);
        offer(current);
      }
    }
  } catch (...) {
    // Out of memory on this thread: no chunk may outlive the rounds it
    // points into, and the driver takes nothing more.
    while (finish_chunks()) {
    }
    flush_samples();
    delivering_ = false;
    stopped_ = true;
    throw;
  }
  flush_samples();
  stopped_ = true;
  return end;
}

}  // namespace inferloop::detail
