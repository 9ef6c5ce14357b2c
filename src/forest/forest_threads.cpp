// ForestThreadPool and ForestModel's parallel predict: one large batch cut
// into chunks of whole 256-row passes, which the calling thread and the
// pool's workers take in turn until none is left, each evaluating its chunk
// with the single-threaded predict. Every row is evaluated exactly as
// predict() would, so the bits do not depend on the number of threads or on
// who took which chunk. Chunks, not one equal part per thread: a thread that
// starts late (a worker's wake-up) or runs slower (a shared core) takes
// fewer, instead of leaving the others waiting for its part.
//
// Threads: the pool's workers are Boost.Asio's thread_pool. The chunks are
// handed out by one atomic counter (next_chunk: fetch_add by every taker,
// relaxed: a chunk's rows are all its taker needs, and the latch orders its
// writes before predict returns). The caller takes chunks like the workers,
// then waits (a std::latch) until every worker has finished its last one,
// so `out` is complete when predict returns.
#include <algorithm>
#include <atomic>
#include <latch>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "inferloop/forest.hpp"

namespace inferloop {
namespace {

// A thread per this many rows at most: fewer rows are not worth a hand-over
// (a few microseconds).
constexpr std::size_t kMinRowsPerThread = 1024;
// Chunks are multiples of this, so that every chunk but the last walks whole
// 256-row passes of tiles.
constexpr std::size_t kChunkAlignment = 256;
// Chunks per thread: enough that the last chunks even out the threads'
// speeds, few enough that each is many passes long.
constexpr std::size_t kChunksPerThread = 8;

}  // namespace

struct ForestThreadPool::Workers {
  explicit Workers(std::size_t threads) : pool(threads) {}
  boost::asio::thread_pool pool;
};

ForestThreadPool::ForestThreadPool(std::size_t threads)
    : threads_(std::max<std::size_t>(1, threads)),
      workers_(threads_ > 1 ? std::make_unique<Workers>(threads_ - 1) : nullptr) {}

ForestThreadPool::~ForestThreadPool() {
  if (workers_) workers_->pool.join();
}

void ForestModel::predict(std::span<const float> features, std::size_t rows, std::span<float> out,
                          OutputKind kind, ForestThreadPool& pool) const {
  const std::size_t parts = std::min(pool.threads(), rows / kMinRowsPerThread);
  if (parts <= 1 || !pool.workers_) {
    predict(features, rows, out, kind);
    return;
  }
  const std::size_t width = num_features();
  const std::size_t outputs = num_outputs(kind);
  // About kChunksPerThread chunks per thread, whole passes each.
  const std::size_t wanted = rows / (parts * kChunksPerThread);
  const std::size_t chunk_rows =
      std::max<std::size_t>(1, (wanted + kChunkAlignment - 1) / kChunkAlignment) * kChunkAlignment;
  const std::size_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  std::atomic<std::size_t> next_chunk{0};
  const auto take_chunks = [&] {
    for (std::size_t chunk = next_chunk.fetch_add(1, std::memory_order_relaxed); chunk < chunks;
         chunk = next_chunk.fetch_add(1, std::memory_order_relaxed)) {
      const std::size_t first = chunk * chunk_rows;
      const std::size_t count = std::min(chunk_rows, rows - first);
      predict(features.subspan(first * width, count * width), count,
              out.subspan(first * outputs, count * outputs), kind);
    }
  };
  std::latch done(static_cast<std::ptrdiff_t>(parts - 1));
  for (std::size_t helper = 1; helper < parts; ++helper) {
    try {
      boost::asio::post(pool.workers_->pool, [&take_chunks, &done] {
        take_chunks();
        done.count_down();
      });
    } catch (...) {
      done.count_down();  // could not hand it over: the others take its chunks
    }
  }
  take_chunks();
  done.wait();
}

}  // namespace inferloop
