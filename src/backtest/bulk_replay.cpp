// BacktestDriver::replay_all: a whole replay in rounds (backtest_driver.hpp).
//
// Publishing snapshot by snapshot (on_publish) pays for each one a copy into
// a job, a queue hand-off and a share of a predict() call of at most
// max_batch_snapshots snapshots; for a fast predictor that is most of the
// cost, and a GPU needs far larger batches to pay for its launches. replay()
// knows every event up front, and the simulation never looks at features or
// predictions, so the simulation can run a whole round ahead of the
// computation. Each round:
//   1. simulate: snapshots arrive, in order, until the round's dispatched
//      rows reach threads x replay_batch_rows or the rows run out (the last
//      round then runs the clock to idle and stops, as stop(idle_at) does).
//      The Recorder notes each dispatch (its rows in the input) and each
//      visibility, in simulation order, and counts as on_publish() would;
//   2. predict: the round's dispatches, in feature_seq order, are cut into one
//      contiguous share of about equal rows per compute thread; each share
//      is one predict() call, straight from the caller's rows when its
//      snapshots are consecutive (no conflation), else gathered first. A
//      call that throws is redone snapshot by snapshot, so that the error
//      lands on the snapshot it belongs to (as predict_batch() does);
//   3. deliver: the visibilities, in simulation order, through the same
//      deliver_result() as deliver(). A dispatch whose result is not yet
//      visible when its round ends (at most one per simulated replica) keeps
//      its outputs for the round that shows it.
// So the results, counters and errors are, in order, those of on_publish()
// for the same snapshots: only when and how much is computed at once differs
// (tests/backtest compares the two paths field by field).
//
// Threads: the calling thread simulates and delivers under mutex_, and
// predicts the first share; the worker threads predict the others
// (run_round), each with its own predictor, and touch nothing else.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "backtest/backtest_driver.hpp"

namespace inferloop::detail {

BacktestDriver::ReplayEnd BacktestDriver::replay_all(const ReplayRows& input) noexcept {
  std::lock_guard lock(mutex_);
  ReplayEnd end;
  if (stopped_ || delivering_) return end;

  struct RowRange {
    std::size_t first_row = 0;  // in input.features, in rows
    std::size_t rows = 0;
  };
  struct Dispatched {
    SimJob sim;
    RowRange range;
    std::size_t output = 0;  // its first value in the round's outputs
    bool failed = false;
    bool delivered = false;
    std::string error;
  };
  // Dispatched in an earlier round, visible in a later one.
  struct Carried {
    Dispatched dispatched;
    std::vector<float> outputs;
  };

  // A result that became visible: this round's dispatched[index], or
  // (index kEarlierRound) a carried one.
  static constexpr std::size_t kEarlierRound = std::numeric_limits<std::size_t>::max();
  struct Visible {
    std::uint64_t feature_seq = 0;
    std::size_t index = kEarlierRound;
  };

  struct Recorder final : SimListener {
    Recorder(BacktestDriver& d, std::size_t replicas) : driver(d), running(replicas, kEarlierRound) {}
    void start_round() {
      dispatched.clear();
      dispatched_rows = 0;
      visible.clear();
      std::fill(running.begin(), running.end(), kEarlierRound);
    }
    void on_dispatch(const SimJob& job, bool is_arriving) override {
      const RowRange range = is_arriving ? arriving : pending;
      arrived_dispatched |= is_arriving;
      running[job.replica_id] = dispatched.size();
      dispatched.push_back({job, range, dispatched_rows * driver.num_outputs_, false, false, {}});
      dispatched_rows += range.rows;
      driver.count_dispatch(job);
    }
    void on_visible(const SimJob& job) override {
      visible.push_back({job.feature_seq, running[job.replica_id]});
    }
    void on_conflated(std::uint64_t) override { driver.counters_.dispatch().conflated.add(); }
    void on_discarded(std::uint64_t) override {
      driver.counters_.dispatch().discarded_at_stop.add();
    }

    BacktestDriver& driver;
    RowRange arriving;  // the snapshot arrive() is routing
    RowRange pending;   // the simulator's pending snapshot
    bool arrived_dispatched = false;
    // This round's, in dispatch order.
    std::vector<Dispatched> dispatched;
    std::size_t dispatched_rows = 0;
    std::vector<Visible> visible;  // in simulation order
    // Per simulated replica: its running job's index in `dispatched`, or
    // kEarlierRound when it started before this round.
    std::vector<std::size_t> running;
  };

  // One round's computation, shared by the compute threads (run_round).
  struct Round {
    BacktestDriver* driver = nullptr;
    const ReplayRows* input = nullptr;
    std::span<Dispatched> dispatched;
    std::vector<std::size_t> share_begin;  // thread t predicts [share_begin[t], share_begin[t + 1])
    float* outputs = nullptr;

    static void predict_share(void* context, Worker& worker) {
      auto& round = *static_cast<Round*>(context);
      const BacktestDriver& driver = *round.driver;
      const std::size_t features = driver.num_features_;
      const std::size_t outputs = driver.num_outputs_;
      const std::span<Dispatched> share = round.dispatched.subspan(
          round.share_begin[worker.index],
          round.share_begin[worker.index + 1] - round.share_begin[worker.index]);
      if (share.empty()) return;
      auto predict_alone = [&](Dispatched& d) {
        try {
          worker.predictor->predict(
              round.input->features.subspan(d.range.first_row * features, d.range.rows * features),
              d.range.rows, std::span<float>(round.outputs + d.output, d.range.rows * outputs));
        } catch (const std::exception& e) {
          d.failed = true;
          d.error = e.what();
        } catch (...) {
          d.failed = true;
          d.error = "predictor threw a non-standard exception";
        }
      };
      if (driver.max_batch_ == 1 || share.size() == 1) {
        for (Dispatched& d : share) predict_alone(d);
        return;
      }
      const std::size_t first_row = share.front().range.first_row;
      const std::size_t rows =
          (share.back().output - share.front().output) / outputs + share.back().range.rows;
      std::span<const float> rows_in;
      if (share.back().range.first_row + share.back().range.rows - first_row == rows) {
        rows_in = round.input->features.subspan(first_row * features, rows * features);
      } else {
        worker.input.clear();
        for (const Dispatched& d : share) {
          const auto from = round.input->features.subspan(d.range.first_row * features,
                                                          d.range.rows * features);
          worker.input.insert(worker.input.end(), from.begin(), from.end());
        }
        rows_in = worker.input;
      }
      try {
        worker.predictor->predict(rows_in, rows,
                                  std::span<float>(round.outputs + share.front().output,
                                                   rows * outputs));
      } catch (...) {
        for (Dispatched& d : share) predict_alone(d);
      }
    }
  };

  const std::size_t total_rows = input.timestamps_ns.size();
  const std::size_t threads = workers_.size() + 1;
  const std::size_t round_rows = replay_batch_rows_ > std::numeric_limits<std::size_t>::max() / threads
                                     ? std::numeric_limits<std::size_t>::max()
                                     : replay_batch_rows_ * threads;
  Recorder recorder(*this, replica_jobs_.size());
  std::vector<float> outputs;
  std::vector<Carried> carried;
  Prediction result(num_outputs_ * input.max_rows);
  std::size_t next_row = 0;
  std::uint64_t feature_seq = input.first_seq;
  Timestamp last_at{input.timestamps_ns.empty() ? 0 : input.timestamps_ns.front()};
  bool last_round = false;
  while (!last_round) {
    // 1. simulate
    recorder.start_round();
    while (next_row < total_rows && recorder.dispatched_rows < round_rows) {
      const std::int64_t at_ns = input.timestamps_ns[next_row];
      std::size_t count = 1;
      while (next_row + count < total_rows && count < input.max_rows &&
             input.timestamps_ns[next_row + count] == at_ns) {
        ++count;
      }
      const Timestamp at{at_ns};
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
    last_round = next_row == total_rows;
    if (last_round) {
      end.idle_at = std::max(last_at, simulator_.idle_at());
      simulator_.advance(end.idle_at, recorder);
      simulator_.stop(recorder);
    }

    // 2. predict
    outputs.resize(recorder.dispatched_rows * num_outputs_);
    Round round;
    round.driver = this;
    round.input = &input;
    round.dispatched = recorder.dispatched;
    round.outputs = outputs.data();
    round.share_begin.assign(threads + 1, recorder.dispatched.size());
    round.share_begin[0] = 0;
    std::size_t share = 1;
    std::size_t rows_so_far = 0;
    for (std::size_t i = 0; i < recorder.dispatched.size() && share < threads; ++i) {
      rows_so_far += recorder.dispatched[i].range.rows;
      while (share < threads && rows_so_far * threads >= share * recorder.dispatched_rows) {
        round.share_begin[share++] = i + 1;
      }
    }
    if (!recorder.dispatched.empty()) run_round(&Round::predict_share, &round);

    // 3. deliver
    delivering_ = true;
    for (const Visible& visible : recorder.visible) {
      if (visible.index != kEarlierRound) {
        Dispatched& d = recorder.dispatched[visible.index];
        d.delivered = true;
        std::copy_n(outputs.begin() + static_cast<std::ptrdiff_t>(d.output),
                    d.range.rows * num_outputs_, result.storage.begin());
        deliver_result(d.sim, d.range.rows, d.sim.published_at, d.failed, d.error, result);
        continue;
      }
      for (std::size_t c = 0; c < carried.size(); ++c) {
        Dispatched& d = carried[c].dispatched;
        if (d.sim.feature_seq != visible.feature_seq) continue;
        std::copy(carried[c].outputs.begin(), carried[c].outputs.end(), result.storage.begin());
        deliver_result(d.sim, d.range.rows, d.sim.published_at, d.failed, d.error, result);
        carried[c] = std::move(carried.back());
        carried.pop_back();
        break;
      }
    }
    delivering_ = false;
    for (Dispatched& d : recorder.dispatched) {
      if (d.delivered) continue;
      const auto first = outputs.begin() + static_cast<std::ptrdiff_t>(d.output);
      std::vector<float> kept(first, first + static_cast<std::ptrdiff_t>(d.range.rows * num_outputs_));
      carried.push_back({std::move(d), std::move(kept)});
    }
  }
  stopped_ = true;
  return end;
}

}  // namespace inferloop::detail
