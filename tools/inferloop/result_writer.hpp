// The results file of `inferloop run --results`, written while the run goes
// on, so that a run that is interrupted (Ctrl-C, a second Ctrl-C, a failure)
// keeps every result written so far.
//
// Lifecycle: construct before the InferenceLoop (so that it outlives the
// replica threads that call record()), start() once the model's output
// count is known, finish() after loop.stop(). The destructor finishes too,
// without throwing, when an error unwinds the run.
//
// Threads: record() is called on replica threads (the loop's on_result) and
// only copies the result into a bounded in-memory batch under a mutex; it
// never touches the file. One writer thread, owned here, takes the batch
// every kWriteInterval, writes it and flushes it to the operating system.
// start(), finish() and the counters: the main thread.
//
// Results arrive in increasing feature_seq order (the loop serialises its
// deliveries, include/inferloop/inference_loop.hpp), and the file keeps that
// order. At most max_results are written; past that, and when the writer
// falls more than kMaxPendingResults behind, results are counted, not kept.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "feature_file.hpp"
#include "inferloop/prediction.hpp"
#include "output_file.hpp"

namespace inferloop::cli {

class ResultWriter {
 public:
  // How often the writer thread writes what arrived, and the most results
  // that may wait for it (about 100 MB at the widest results).
  static constexpr std::chrono::milliseconds kWriteInterval{100};
  static constexpr std::size_t kMaxPendingResults = std::size_t{1} << 20;

  ResultWriter(OutputFile& file, std::uint64_t max_results);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // Main thread, once: writes the header and starts the writer thread.
  void start(std::size_t num_outputs);

  // Replica threads. Never blocks on I/O; never throws.
  void record(const Prediction& prediction) noexcept;

  // Main thread, after the loop stopped: writes what is left, flushes and
  // joins the writer thread. Throws inferloop::Error when a write failed.
  void finish();

  // After finish(): results written; results past --max-results; results
  // lost because the writer fell behind.
  [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
  [[nodiscard]] std::uint64_t dropped_over_max();
  [[nodiscard]] std::uint64_t dropped_behind();

 private:
  struct Batch {
    std::vector<ResultFields> results;
    std::vector<float> values;  // each result's rows x cols, in order
    void clear() noexcept {
      results.clear();
      values.clear();
    }
  };

  void write_loop();
  void write(const Batch& batch);

  OutputFile& file_;
  const std::uint64_t max_results_;

  std::mutex mutex_;
  std::condition_variable wake_;    // finish() wakes the writer early
  Batch pending_;                   // guarded by mutex_; filled by record()
  std::uint64_t accepted_ = 0;      // guarded by mutex_
  std::uint64_t over_max_ = 0;      // guarded by mutex_
  std::uint64_t behind_ = 0;        // guarded by mutex_
  bool stopping_ = false;           // guarded by mutex_

  // Writer thread only; the main thread reads them after the join.
  Batch writing_;
  std::uint64_t written_ = 0;
  std::exception_ptr write_error_;  // the first failed write; later batches are not written
  std::thread writer_;          // started by start(), joined by finish()
  bool finished_ = false;       // main thread only
};

}  // namespace inferloop::cli
