// ResultSlot: where replicas publish predictions and any thread reads the
// newest one; nobody ever blocks or is blocked, writers included.
//
// Writers: up to `writers` threads, each with its own writer index (a
// replica id). Writer w owns two entries and writes a result into the one
// that is not the visible one, then makes it visible with one compare-and-
// swap on `newest_`, which packs (feature_seq, entry). The swap succeeds only
// while the visible feature_seq is older, so a slow replica never hides a
// newer result (publish_if_newer() returns false: a stale result). No mutex:
// two writers never touch the same entry, and the swap orders them.
//
// Readers: any number, any thread. read() loads newest_, copies that entry
// under its seqlock and checks that the entry still holds the feature_seq
// newest_ named; a writer reusing the entry meanwhile (which needs two newer
// results from that writer during one copy) makes the reader start over.
// read() never waits for a writer, never allocates, never returns a torn
// result, and a reader's successive reads never go back in feature_seq.
//
// Memory ordering: an entry's `sequence` is odd while it is being written.
// The writer stores sequence+1 (relaxed), then a release fence, then the
// payload with relaxed atomic stores, then sequence+2 with release; then the
// CAS on newest_ (acq_rel). A reader loads newest_ (acquire), sequence
// (acquire), copies the payload with relaxed atomic loads, issues an acquire
// fence and re-reads sequence (relaxed): equal and even means no writer
// touched the entry during the copy. Payload words are atomics, so
// ThreadSanitizer sees no data race (and none exists).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include "inferloop/prediction.hpp"

namespace inferloop::detail {

class ResultSlot {
 public:
  static constexpr std::size_t kEntriesPerWriter = 2;
  // newest_ packs the entry index into its low bits.
  static constexpr unsigned kEntryBits = 8;
  static constexpr std::size_t kMaxWriters = (std::size_t{1} << kEntryBits) / kEntriesPerWriter;

  // REQUIRES (throws std::invalid_argument otherwise): 1 <= writers <= kMaxWriters.
  ResultSlot(std::size_t capacity, std::size_t writers)
      : capacity_(capacity), writers_(writers) {
    if (writers == 0 || writers > kMaxWriters) {
      throw std::invalid_argument("ResultSlot: writers must be 1.." + std::to_string(kMaxWriters));
    }
    entries_ = std::make_unique<Entry[]>(writers * kEntriesPerWriter);
    for (std::size_t i = 0; i < writers * kEntriesPerWriter; ++i) {
      entries_[i].values = std::make_unique<std::atomic<float>[]>(capacity);
    }
  }
  ResultSlot(const ResultSlot&) = delete;
  ResultSlot& operator=(const ResultSlot&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t writers() const noexcept { return writers_; }

  // Writer side, from writer `writer`'s thread only. Returns false (and
  // publishes nothing) when a result for the same or a newer feature_seq is
  // already visible.
  // REQUIRES: writer < writers(), result.rows * result.cols <= capacity(),
  //           0 < result.feature_seq < 2^56.
  bool publish_if_newer(std::size_t writer, const Prediction& result) noexcept {
    std::uint64_t visible = newest_.load(std::memory_order_acquire);
    if (seq_of(visible) >= result.feature_seq) return false;
    // Of this writer's two entries, the one readers are not being sent to.
    std::size_t index = writer * kEntriesPerWriter;
    if (entry_of(visible) == index) ++index;
    write_entry(entries_[index], result);
    const std::uint64_t mine = (result.feature_seq << kEntryBits) | index;
    while (!newest_.compare_exchange_weak(visible, mine, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
      if (seq_of(visible) >= result.feature_seq) return false;
    }
    return true;
  }

  // Reader side. Copies the newest result into `out`; false when there is none.
  // REQUIRES: out.storage.size() >= capacity().
  bool read(Prediction& out) const noexcept {
    for (;;) {
      const std::uint64_t visible = newest_.load(std::memory_order_acquire);
      if (visible == 0) return false;
      const Entry& entry = entries_[entry_of(visible)];
      const std::uint64_t before = entry.sequence.load(std::memory_order_acquire);
      if ((before & 1U) != 0) continue;  // being rewritten: newest_ has moved on
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
      // The entry now holds another result than the one newest_ named.
      if (feature_seq != seq_of(visible)) continue;
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
    return seq_of(newest_.load(std::memory_order_acquire));
  }

 private:
  struct alignas(64) Entry {
    // Odd while the owning writer is inside; see the file comment.
    std::atomic<std::uint64_t> sequence{0};
    std::atomic<std::uint64_t> feature_seq{0};
    std::atomic<std::int64_t> feature_time{0};
    std::atomic<std::int64_t> published_at{0};
    std::atomic<std::int64_t> started_at{0};
    std::atomic<std::int64_t> completed_at{0};
    std::atomic<std::uint64_t> model_version{0};
    std::atomic<std::uint64_t> shape{0};
    std::unique_ptr<std::atomic<float>[]> values;  // capacity_ floats, allocated once
  };

  static std::uint64_t seq_of(std::uint64_t packed) noexcept { return packed >> kEntryBits; }
  static std::size_t entry_of(std::uint64_t packed) noexcept {
    return static_cast<std::size_t>(packed & ((1U << kEntryBits) - 1));
  }

  // replica id (16 bits) | rows (24 bits) | cols (24 bits): one atomic word,
  // so a reader sees a consistent shape with the rest of the entry.
  static std::uint64_t pack_shape(std::uint32_t replica, std::uint32_t rows, std::uint32_t cols) noexcept {
    return (static_cast<std::uint64_t>(replica & 0xFFFFU) << 48) |
           (static_cast<std::uint64_t>(rows & 0xFFFFFFU) << 24) | (cols & 0xFFFFFFU);
  }
  static std::uint32_t unpack_replica(std::uint64_t shape) noexcept { return static_cast<std::uint32_t>(shape >> 48); }
  static std::uint32_t unpack_rows(std::uint64_t shape) noexcept { return static_cast<std::uint32_t>((shape >> 24) & 0xFFFFFFU); }
  static std::uint32_t unpack_cols(std::uint64_t shape) noexcept { return static_cast<std::uint32_t>(shape & 0xFFFFFFU); }

  void write_entry(Entry& entry, const Prediction& result) noexcept {
    const std::uint64_t seq = entry.sequence.load(std::memory_order_relaxed);
    entry.sequence.store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
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
  }

  const std::size_t capacity_;
  const std::size_t writers_;
  std::unique_ptr<Entry[]> entries_;  // writer w owns [w * 2, w * 2 + 2)
  // (feature_seq << kEntryBits) | entry of the visible result; 0 = none yet.
  // Written by writers (CAS, acq_rel), read by readers (acquire).
  alignas(64) std::atomic<std::uint64_t> newest_{0};
};

}  // namespace inferloop::detail
