// ForestThreadPool and ForestModel's parallel predict: one large batch split
// into row ranges, each evaluated by the single-threaded predict on its own
// thread. Every row is evaluated exactly as predict() would, so the bits do
// not depend on the number of threads.
//
// Threads: the pool's workers are Boost.Asio's thread_pool; the caller of
// predict runs the first part itself and then waits (a std::latch) until
// every part has been written, so `out` is complete when predict returns.
#include <algorithm>
#include <latch>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "inferloop/forest.hpp"

namespace inferloop {
namespace {

// A part smaller than this is not worth a hand-over (a few microseconds).
constexpr std::size_t kMinRowsPerThread = 1024;
// Parts start at multiples of this, so that every part but the last walks
// whole 256-row passes of tiles.
constexpr std::size_t kPartAlignment = 256;

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
  const std::size_t per_part = (rows / parts + kPartAlignment - 1) / kPartAlignment * kPartAlignment;
  const auto run_part = [&, per_part](std::size_t part) {
    const std::size_t first = part * per_part;
    const std::size_t count = first >= rows ? 0 : std::min(per_part, rows - first);
    if (count == 0) return;
    predict(features.subspan(first * width, count * width), count,
            out.subspan(first * outputs, count * outputs), kind);
  };
  std::latch done(static_cast<std::ptrdiff_t>(parts - 1));
  for (std::size_t part = 1; part < parts; ++part) {
    try {
      boost::asio::post(pool.workers_->pool, [&run_part, &done, part] {
        run_part(part);
        done.count_down();
      });
    } catch (...) {
      run_part(part);  // could not hand it over: run it here
      done.count_down();
    }
  }
  run_part(0);
  done.wait();
}

}  // namespace inferloop
