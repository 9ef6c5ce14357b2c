// ResultSlot: where replicas publish predictions and any thread reads the
// newest one, without readers ever blocking or being blocked.
//
// Writers: the replica threads. publish_if_newer() takes a writer-only mutex
// (readers never touch it), drops a result whose feature_seq is not newer
// than the visible one, and otherwise writes the next entry of a ring and
// then makes it the newest. So a slow replica never hides a newer result.
//
// Readers: any number, any thread. read() copies the newest entry. Each entry
// is a seqlock: the copy is retried only if writers reused that very entry
// between the reader's load of newest_ and the end of its copy, which needs
// kEntries newer results to be published in that window; with a ring of 8
// entries and copies of a few hundred bytes, reads complete in one pass. read() never waits
// for a writer, never allocates, and never returns a torn result.
//
// Memory ordering: an entry's `sequence` is odd while it is being written.
// The writer stores sequence+1 (relaxed), then a release fence, then the
// payload with relaxed atomic stores, then sequence+2 with release; then
// `newest_` with release. A reader loads newest_ (acquire), sequence
// (acquire), copies the payload with relaxed atomic loads, issues an acquire
// fence and re-reads sequence (relaxed): equal and even means no writer
// touched the entry during the copy. Payload words are atomics, so
// ThreadSanitizer sees no data race (and none exists).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "inferloop/prediction.hpp"

namespace inferloop::detail {

class ResultSlot {
 public:
  static constexpr std::size_t kEntries = 8;

  explicit ResultSlot(std::size_t capacity) : capacity_(capacity) {
    for (auto& entry : entries_) {
      entry.values = std::make_unique<std::atomic<float>[]>(capacity);
    }
  }
  ResultSlot(const ResultSlot&) = delete;
  ResultSlot& operator=(const ResultSlot&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  // Writer side. Returns false (and publishes nothing) when a result for the
  // same or a newer feature_seq is already visible.
  // REQUIRES: result.rows * result.cols <= capacity(), result.feature_seq > 0.
  bool publish_if_newer(const Prediction& result) noexcept {
    std::lock_guard lock(writer_mutex_);
    if (result.feature_seq <= newest_feature_seq_.load(std::memory_order_relaxed)) return false;
    const std::uint64_t index = newest_index_ + 1;
    Entry& entry = entries_[index % kEntries];
    const std::uint64_t seq = entry.sequence.load(std::memory_order_relaxed);
    entry.sequence.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    entry.index.store(index, std::memory_order_relaxed);
    entry.feature_seq.store(result.feature_seq, std::memory_order_relaxed);
    entry.feature_time.store(result.feature_time.count(), std::memory_order_relaxed);
    entry.published_at.store(result.published_at.count(), std::memory_order_relaxed);
    entry.started_at.store(result.started_at.count(), std::memory_order_relaxed);
    entry.completed_at.store(result.completed_at.count(), std::memory_order_relaxed);
    entry.model_version.store(result.model_version, std::memory_order_relaxed);
    entry.shape.store(pack_shape(result.replica_id, result.rows, result.cols),
                      std::memory_order_relaxed);
    const std::size_t count = static_cast<std::size_t>(result.rows) * result.cols;
    for (std::size_t i = 0; i < count; ++i) {
      entry.values[i].store(result.storage[i], std::memory_order_relaxed);
    }
    entry.sequence.store(seq + 2, std::memory_order_release);
    newest_index_ = index;
    newest_.store(index, std::memory_order_release);
    newest_feature_seq_.store(result.feature_seq, std::memory_order_release);
    return true;
  }

  // Reader side. Copies the newest result into `out`; false when there is none.
  // REQUIRES: out.storage.size() >= capacity().
  bool read(Prediction& out) const noexcept {
    for (;;) {
      const std::uint64_t index = newest_.load(std::memory_order_acquire);
      if (index == 0) return false;
      const Entry& entry = entries_[index % kEntries];
      const std::uint64_t before = entry.sequence.load(std::memory_order_acquire);
      if ((before & 1U) != 0) continue;  // being rewritten: a newer index is coming
      const std::uint64_t entry_index = entry.index.load(std::memory_order_relaxed);
      const std::uint64_t feature_seq = entry.feature_seq.load(std::memory_order_relaxed);
      const std::int64_t feature_time = entry.feature_time.load(std::memory_order_relaxed);
      const std::int64_t published_at = entry.published_at.load(std::memory_order_relaxed);
      const std::int64_t started_at = entry.started_at.load(std::memory_order_relaxed);
      const std::int64_t completed_at = entry.completed_at.load(std::memory_order_relaxed);
      const std::uint64_t model_version = entry.model_version.load(std::memory_order_relaxed);
      const std::uint64_t shape = entry.shape.load(std::memory_order_relaxed);
      const std::uint32_t rows = unpack_rows(shape);
      const std::uint32_t cols = unpack_cols(shape);
      std::size_t count = static_cast<std::size_t>(rows) * cols;
      if (count > capacity_) count = 0;  // only possible for a torn read, rejected below
      for (std::size_t i = 0; i < count; ++i) {
        out.storage[i] = entry.values[i].load(std::memory_order_relaxed);
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (entry.sequence.load(std::memory_order_relaxed) != before) continue;
      // The entry was reused for a newer result after newest_ was loaded.
      // Returning it would be correct now, but a later read could load a
      // newest_ that still lags it and go backwards; read newest_ again.
      if (entry_index != index) continue;
      out.feature_seq = feature_seq;
      out.feature_time = Timestamp{feature_time};
      out.published_at = Timestamp{published_at};
      out.started_at = Timestamp{started_at};
      out.completed_at = Timestamp{completed_at};
      out.model_version = model_version;
      out.replica_id = unpack_replica(shape);
      out.rows = rows;
      out.cols = cols;
      return true;
    }
  }

  [[nodiscard]] std::uint64_t newest_feature_seq() const noexcept {
    return newest_feature_seq_.load(std::memory_order_acquire);
  }

 private:
  // replica id (16 bits) | rows (24 bits) | cols (24 bits): one atomic word,
  // so a reader sees a consistent shape with the rest of the entry.
  static std::uint64_t pack_shape(std::uint32_t replica, std::uint32_t rows, std::uint32_t cols) noexcept {
    return (static_cast<std::uint64_t>(replica & 0xFFFFU) << 48) |
           (static_cast<std::uint64_t>(rows & 0xFFFFFFU) << 24) | (cols & 0xFFFFFFU);
  }
  static std::uint32_t unpack_replica(std::uint64_t shape) noexcept { return static_cast<std::uint32_t>(shape >> 48); }
  static std::uint32_t unpack_rows(std::uint64_t shape) noexcept { return static_cast<std::uint32_t>((shape >> 24) & 0xFFFFFFU); }
  static std::uint32_t unpack_cols(std::uint64_t shape) noexcept { return static_cast<std::uint32_t>(shape & 0xFFFFFFU); }

  struct alignas(64) Entry {
    // Odd while a writer is inside; see the file comment.
    std::atomic<std::uint64_t> sequence{0};
    std::atomic<std::uint64_t> index{0};  // which newest_ value this entry holds
    std::atomic<std::uint64_t> feature_seq{0};
    std::atomic<std::int64_t> feature_time{0};
    std::atomic<std::int64_t> published_at{0};
    std::atomic<std::int64_t> started_at{0};
    std::atomic<std::int64_t> completed_at{0};
    std::atomic<std::uint64_t> model_version{0};
    std::atomic<std::uint64_t> shape{0};
    std::unique_ptr<std::atomic<float>[]> values;  // capacity_ floats, allocated once
  };

  const std::size_t capacity_;
  std::array<Entry, kEntries> entries_;
  // Serialises writers (replica threads) only.
  std::mutex writer_mutex_;
  // Guarded by writer_mutex_: index of the newest entry (0 = none yet).
  std::uint64_t newest_index_ = 0;
  // Written by writers (release) after an entry is complete; read by readers (acquire).
  alignas(64) std::atomic<std::uint64_t> newest_{0};
  // feature_seq of the newest entry; written by writers, read by anyone.
  std::atomic<std::uint64_t> newest_feature_seq_{0};
};

}  // namespace inferloop::detail
