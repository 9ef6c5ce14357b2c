// The records of one round of BacktestDriver::replay_all (bulk_replay.cpp):
// what the simulation dispatched (Dispatched, its rows as a RowRange), what
// became visible (Visible), a dispatch still running at the round's end
// (Carried into a later round), the round's outputs and how they are cut
// into predict() calls (Round::cut_chunks), and the latency samples the
// replay records once per run of equal values (RepeatedSamples).
//
// Threads: a Round is written by the driving thread while it simulates and
// delivers; while its chunks run, the compute threads write only their own
// rows of `outputs` and their own dispatches' `failed` and error entries
// (see Round::fail).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "backtest/simulator.hpp"
#include "inferloop/detail/latency_histogram.hpp"
#include "loop/loop_counters.hpp"

namespace inferloop::detail {

struct RowRange {
  std::size_t first_row = 0;  // in the replay's rows
  std::size_t rows = 0;
};

struct Dispatched {
  // Built in place by the recorder (emplace_back: no temporary to copy).
  Dispatched(const SimJob& job, RowRange rows, std::size_t first_output) noexcept
      : sim(job), range(rows), output(first_output) {}
  SimJob sim;
  RowRange range;
  std::size_t output = 0;  // its first value in its round's outputs
  bool failed = false;     // its predict() threw: the message is in Round::errors
};

// Dispatched in an earlier round than the one that shows it.
struct Carried {
  Dispatched dispatched;
  std::vector<float> outputs;
  std::string error;
  bool delivered = false;
};

// One histogram's samples, recorded once per run of equal values: a
// replay's latencies repeat (a constant latency model gives every snapshot
// the same ones), and recording each costs as much as the rest of its
// simulation. flush() before anyone reads the histogram.
class RepeatedSamples {
 public:
  explicit RepeatedSamples(LatencyHistogram& histogram) noexcept : histogram_(&histogram) {}
  void add(std::chrono::nanoseconds latency) noexcept {
    if (count_ != 0 && latency == latency_) {
      ++count_;
      return;
    }
    flush();
    latency_ = latency;
    count_ = 1;
  }
  void flush() noexcept {
    if (count_ != 0) histogram_->record(latency_, count_);
    count_ = 0;
  }

 private:
  LatencyHistogram* histogram_;
  std::chrono::nanoseconds latency_{0};
  std::uint64_t count_ = 0;
};

// A simulated replica's latency histograms, as the replay records them.
struct ReplicaSamples {
  explicit ReplicaSamples(ReplicaCounters& counters) noexcept
      : queue_wait(counters.queue_wait),
        predict(counters.predict),
        publish_to_visible(counters.publish_to_visible) {}
  void flush() noexcept {
    queue_wait.flush();
    predict.flush();
    publish_to_visible.flush();
  }
  RepeatedSamples queue_wait;
  RepeatedSamples predict;
  RepeatedSamples publish_to_visible;
};

// A result that became visible: its round's dispatched[index], or (index
// kEarlierRound) a carried one.
constexpr std::size_t kEarlierRound = std::numeric_limits<std::size_t>::max();
// With what counting a result needs (replica, latency), so that a round's
// delivery reads its dispatches only for the results it copies out.
struct Visible {
  std::uint64_t feature_seq = 0;
  std::size_t index = kEarlierRound;
  std::chrono::nanoseconds publish_to_visible{0};
  std::uint32_t replica_id = 0;
};

struct Round {
  std::vector<Dispatched> dispatched;  // in dispatch order
  std::size_t dispatched_rows = 0;
  // An instant simulation's round (ReplicaSimulator::instant()): each
  // dispatch is visible the moment it starts, so the visibilities are the
  // dispatches, in order, and `visible` stays empty (visibility() reads
  // them from `dispatched`).
  bool instant = false;
  std::vector<Visible> visible;          // in simulation order
  std::vector<std::size_t> still_running;  // dispatched, not visible by the round's end
  std::vector<float> outputs;            // dispatched_rows x num_outputs
  std::vector<std::size_t> chunk_begin;  // chunk c is dispatched[chunk_begin[c] .. chunk_begin[c + 1])
  // Why dispatched[index] failed, for each that did; rare, so under a mutex.
  std::mutex errors_mutex;
  std::vector<std::pair<std::size_t, std::string>> errors;
  // Whether any dispatch failed, even one whose message was lost. Written
  // by the compute threads (relaxed), read by the driving thread after
  // finish_chunks(), whose mutex orders the two.
  std::atomic<bool> any_failed{false};

  [[nodiscard]] std::size_t visibilities() const noexcept {
    return instant ? dispatched.size() : visible.size();
  }
  [[nodiscard]] Visible visibility(std::size_t k) const noexcept {
    if (!instant) return visible[k];
    const SimJob& job = dispatched[k].sim;
    return {job.feature_seq, k, job.visible_at - job.published_at, job.replica_id};
  }
  void clear() {
    dispatched.clear();
    dispatched_rows = 0;
    visible.clear();
    still_running.clear();
    errors.clear();
    any_failed.store(false, std::memory_order_relaxed);
  }
  void fail(std::size_t index, const char* message) noexcept {
    dispatched[index].failed = true;
    any_failed.store(true, std::memory_order_relaxed);
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
  // Chunks of whole snapshots, of about `rows_per_chunk` rows. With
  // `balanced_threads` > 1 only while the round has rows enough for each of
  // them to take one; then each about the rows left per thread, down to
  // rows_per_chunk / kSmallestChunkPart (guided self-scheduling): the
  // threads run out of work together, so that the round's last chunk keeps
  // one thread busy for a fraction of a call instead of a whole one while
  // the others wait.
  void cut_chunks(std::size_t rows_per_chunk, std::size_t balanced_threads) {
    constexpr std::size_t kSmallestChunkPart = 8;
    const std::size_t smallest = std::max<std::size_t>(1, rows_per_chunk / kSmallestChunkPart);
    auto rows_for = [&](std::size_t left) {
      if (balanced_threads <= 1) return rows_per_chunk;
      return std::clamp(left / balanced_threads, smallest, rows_per_chunk);
    };
    chunk_begin.assign(1, 0);
    std::size_t left = dispatched_rows;
    std::size_t target = rows_for(left);
    std::size_t rows = 0;
    for (std::size_t i = 0; i < dispatched.size(); ++i) {
      rows += dispatched[i].range.rows;
      if (rows >= target || i + 1 == dispatched.size()) {
        chunk_begin.push_back(i + 1);
        left -= std::min(left, rows);
        target = rows_for(left);
        rows = 0;
      }
    }
  }
  [[nodiscard]] std::size_t chunks() const noexcept { return chunk_begin.size() - 1; }
};

}  // namespace inferloop::detail
