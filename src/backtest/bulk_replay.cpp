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
//      on_publish() would;
//   2. predict round k: its dispatches, in order, are cut into chunks of
//      about replay_batch_rows rows; any compute thread takes the next chunk
//      and predicts it in one call, straight from the caller's rows when its
//      snapshots are consecutive (no conflation), else gathered first. A call
//      that throws is redone snapshot by snapshot, so that the error lands on
//      the snapshot it belongs to (as predict_batch() does);
//   3. deliver round k: the visibilities, in simulation order, through the
//      same deliver_result() as deliver(). A dispatch whose result is not yet
//      visible when its round is delivered (at most one per simulated
//      replica) keeps its outputs for the round that shows it.
// The driving thread simulates round k + 1 while the workers predict round
// k, then helps predict what is left of it, then offers round k + 1's chunks
// and delivers round k (result callbacks included) while the workers predict
// them: with more than one thread the simulation and the delivery overlap the
// predictions.
// The results, counters and errors are, in order, those of on_publish() for
// the same snapshots: only when and how much is computed at once differs
// (tests/backtest compares the two paths field by field).
//
// Threads: the driving thread simulates and delivers, under mutex_; chunks
// run on the workers and on the driving thread, each with the predictor of
// the thread that runs it, and write only their own rows of their round's
// outputs and their own dispatches' error fields.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backtest/backtest_driver.hpp"

namespace inferloop::detail {

namespace {

struct RowRange {
  std::size_t first_row = 0;  // in the replay's rows
  std::size_t rows = 0;
};

struct Dispatched {
  SimJob sim;
  RowRange range;
  std::size_t output = 0;  // its first value in its round's outputs
  bool failed = false;     // its predict() threw: the message is in Round::errors
  bool delivered = false;
};

// Dispatched in an earlier round than the one that shows it.
struct Carried {
  Dispatched dispatched;
  std::vector<float> outputs;
  std::string error;
};

// A result that became visible: its round's dispatched[index], or (index
// kEarlierRound) a carried one.
constexpr std::size_t kEarlierRound = std::numeric_limits<std::size_t>::max();
struct Visible {
  std::uint64_t feature_seq = 0;
  std::size_t index = kEarlierRound;
};

struct Round {
  std::vector<Dispatched> dispatched;  // in dispatch order
  std::size_t dispatched_rows = 0;
  std::vector<Visible> visible;          // in simulation order
  std::vector<float> outputs;            // dispatched_rows x num_outputs
  std::vector<std::size_t> chunk_begin;  // chunk c is dispatched[chunk_begin[c] .. chunk_begin[c + 1])
  // Why dispatched[index] failed, for each that did; rare, so under a mutex.
  std::mutex errors_mutex;
  std::vector<std::pair<std::size_t, std::string>> errors;

  void clear() {
    dispatched.clear();
    dispatched_rows = 0;
    visible.clear();
    errors.clear();
  }
  void fail(std::size_t index, const char* message) noexcept {
    dispatched[index].failed = true;
    try {
      std::lock_guard lock(errors_mutex);
      errors.emplace_back(index, message);
    } catch (...) {
      // No memory for the message: error_of() says so instead.
    }
  }
  [[nodiscard]] std::string error_of(std::size_t index) const {
    for (const auto& [failed, message] : errors) {
      if (failed == index) return message;
    }
    return "predictor failed (its message was lost: out of memory)";
  }
  // Chunks of about `rows_per_chunk` rows, whole snapshots each.
  void cut_chunks(std::size_t rows_per_chunk) {
    chunk_begin.assign(1, 0);
    std::size_t rows = 0;
    for (std::size_t i = 0; i < dispatched.size(); ++i) {
      rows += dispatched[i].range.rows;
      if (rows >= rows_per_chunk || i + 1 == dispatched.size()) {
        chunk_begin.push_back(i + 1);
        rows = 0;
      }
    }
  }
  [[nodiscard]] std::size_t chunks() const noexcept { return chunk_begin.size() - 1; }
};

}  // namespace

BacktestDriver::ReplayEnd BacktestDriver::replay_all(const ReplayRows& input) {
  std::lock_guard lock(mutex_);
  ReplayEnd end;
  if (stopped_ || delivering_) return end;

  struct Recorder final : SimListener {
    Recorder(BacktestDriver& d, std::size_t replicas) : driver(d), running(replicas, kEarlierRound) {}
    void start(Round& next) {
      round = &next;
      round->clear();
      std::fill(running.begin(), running.end(), kEarlierRound);
    }
    void on_dispatch(const SimJob& job, bool is_arriving) override {
      const RowRange range = is_arriving ? arriving : pending;
      arrived_dispatched |= is_arriving;
      running[job.replica_id] = round->dispatched.size();
      round->dispatched.push_back({job, range, round->dispatched_rows * driver.num_outputs_});
      round->dispatched_rows += range.rows;
      driver.count_dispatch(job);
    }
    void on_visible(const SimJob& job) override {
      round->visible.push_back({job.feature_seq, running[job.replica_id]});
    }
    void on_conflated(std::uint64_t) override { driver.counters_.dispatch().conflated.add(); }
    void on_discarded(std::uint64_t) override {
      driver.counters_.dispatch().discarded_at_stop.add();
    }

    BacktestDriver& driver;
    Round* round = nullptr;  // the round being simulated
    RowRange arriving;       // the snapshot arrive() is routing
    RowRange pending;        // the simulator's pending snapshot
    bool arrived_dispatched = false;
    // Per simulated replica: its running job's index in round->dispatched,
    // or kEarlierRound when it started in an earlier round.
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
  Recorder recorder(*this, replica_jobs_.size());
  std::size_t next_row = 0;
  std::uint64_t feature_seq = input.first_seq;
  Timestamp last_at{total_rows == 0 ? 0 : input.timestamps_ns.front()};

  // Simulates the next round into `round`; true when it was the last.
  auto simulate = [&](Round& round) {
    recorder.start(round);
    while (next_row < total_rows && round.dispatched_rows < round_rows) {
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
    if (next_row < total_rows) return false;
    end.idle_at = std::max(last_at, simulator_.idle_at());
    simulator_.advance(end.idle_at, recorder);
    simulator_.stop(recorder);
    return true;
  };

  std::vector<Carried> carried;
  Prediction result(num_outputs_ * input.max_rows);
  auto deliver_round = [&](Round& round) {
    delivering_ = true;
    for (const Visible& visible : round.visible) {
      if (visible.index != kEarlierRound) {
        Dispatched& d = round.dispatched[visible.index];
        d.delivered = true;
        std::copy_n(round.outputs.begin() + static_cast<std::ptrdiff_t>(d.output),
                    d.range.rows * num_outputs_, result.storage.begin());
        deliver_result(d.sim, d.range.rows, d.sim.published_at, d.failed,
                       d.failed ? round.error_of(visible.index) : std::string(), result);
        continue;
      }
      for (std::size_t c = 0; c < carried.size(); ++c) {
        Dispatched& d = carried[c].dispatched;
        if (d.sim.feature_seq != visible.feature_seq) continue;
        std::copy(carried[c].outputs.begin(), carried[c].outputs.end(), result.storage.begin());
        deliver_result(d.sim, d.range.rows, d.sim.published_at, d.failed, carried[c].error, result);
        carried[c] = std::move(carried.back());
        carried.pop_back();
        break;
      }
    }
    delivering_ = false;
    for (std::size_t i = 0; i < round.dispatched.size(); ++i) {
      const Dispatched& d = round.dispatched[i];
      if (d.delivered) continue;
      const auto first = round.outputs.begin() + static_cast<std::ptrdiff_t>(d.output);
      carried.push_back(
          {d, std::vector<float>(first, first + static_cast<std::ptrdiff_t>(d.range.rows * num_outputs_)),
           d.failed ? round.error_of(i) : std::string()});
    }
  };

  Round rounds[2];
  Compute compute[2];
  auto offer = [&](std::size_t which) {
    Round& round = rounds[which];
    round.outputs.resize(round.dispatched_rows * num_outputs_);
    round.cut_chunks(replay_batch_rows_);
    compute[which] = {this, &input, &round};
    start_chunks(&Compute::predict_chunk, &compute[which], round.chunks());
  };

  try {
    std::size_t current = 0;
    bool last_round = simulate(rounds[current]);
    offer(current);
    while (true) {
      // While round `current` is predicted: simulate the next one.
      const bool next_is_last = last_round || simulate(rounds[1 - current]);
      finish_chunks();
      if (last_round) {
        deliver_round(rounds[current]);
        break;
      }
      // Round `current` is predicted: offer the next, deliver this one.
      offer(1 - current);
      deliver_round(rounds[current]);
      current = 1 - current;
      last_round = next_is_last;
    }
  } catch (...) {
    // Out of memory on this thread: no chunk may outlive the rounds it
    // points into, and the driver takes nothing more.
    finish_chunks();
    delivering_ = false;
    stopped_ = true;
    throw;
  }
  stopped_ = true;
  return end;
}

}  // namespace inferloop::detail
