// The results file of `inferloop run`, written as the run goes; see
// result_writer.hpp.
#include "result_writer.hpp"

#include <utility>

namespace inferloop::cli {

ResultWriter::ResultWriter(OutputFile& file, std::uint64_t max_results)
    : file_(file), max_results_(max_results) {}

ResultWriter::~ResultWriter() {
  try {
    finish();
  } catch (...) {
    // Unwinding from another error: that one is reported; what could be
    // written has been.
  }
}

void ResultWriter::start(std::size_t num_outputs) {
  write_results_header(file_.stream(), num_outputs);
  file_.flush();
  writer_ = std::thread([this] { write_loop(); });
}

void ResultWriter::record(const Prediction& prediction) noexcept {
  const std::lock_guard lock(mutex_);
  if (accepted_ >= max_results_) {
    ++over_max_;
    return;
  }
  if (pending_.results.size() >= kMaxPendingResults) {
    ++behind_;
    return;
  }
  const std::size_t values_before = pending_.values.size();
  try {
    const auto values = prediction.values();
    pending_.values.insert(pending_.values.end(), values.begin(), values.end());
    pending_.results.push_back(ResultFields::of(prediction));
    ++accepted_;
  } catch (...) {  // out of memory: the result is lost, and counted
    pending_.values.resize(values_before);
    ++behind_;
  }
}

void ResultWriter::write_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, kWriteInterval, [this] { return stopping_; });
    const bool last = stopping_;
    std::swap(pending_, writing_);
    lock.unlock();
    try {
      if (!write_error_) write(writing_);
    } catch (...) {
      // Reported by finish(); the thread lives on, so that stop() and
      // finish() work as always.
      write_error_ = std::current_exception();
    }
    writing_.clear();  // keeps the capacity: no allocation once warmed up
    lock.lock();
    if (last) return;
  }
}

void ResultWriter::write(const Batch& batch) {
  if (batch.results.empty()) return;
  std::size_t value_offset = 0;
  for (const ResultFields& result : batch.results) {
    write_result_rows(file_.stream(), result, batch.values.data() + value_offset);
    value_offset += std::size_t{result.rows} * result.cols;
    ++written_;
  }
  file_.flush();
}

void ResultWriter::finish() {
  if (finished_) return;
  finished_ = true;
  if (writer_.joinable()) {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
  }
  if (write_error_) std::rethrow_exception(write_error_);
}

std::uint64_t ResultWriter::dropped_over_max() {
  const std::lock_guard lock(mutex_);
  return over_max_;
}

std::uint64_t ResultWriter::dropped_behind() {
  const std::lock_guard lock(mutex_);
  return behind_;
}

}  // namespace inferloop::cli
