// FeatureSlot: see include/inferloop/feature_slot.hpp for the threading and
// memory-ordering contract.
#include "inferloop/feature_slot.hpp"

#include <algorithm>
#include <string>

#include "inferloop/error.hpp"
#include "util/misuse.hpp"

namespace inferloop {

FeatureSlot::FeatureSlot(std::size_t max_rows, std::size_t cols, std::shared_ptr<Clock> clock,
                         detail::WakeSignal* wake)
    : max_rows_(max_rows), cols_(cols), clock_(std::move(clock)), wake_(wake) {
  if (max_rows_ == 0 || cols_ == 0) {
    throw Error("FeatureSlot: max_rows and cols must both be at least 1 (got max_rows=" +
                std::to_string(max_rows_) + ", cols=" + std::to_string(cols_) + ")");
  }
  if (!clock_) throw Error("FeatureSlot: a Clock is required");
  for (auto& buffer : buffers_) buffer.values.assign(max_rows_ * cols_, 0.0F);
}

std::string FeatureSlot::shape_error(std::size_t values_count) const {
  if (values_count == 0) {
    return "feature snapshot is empty: publish rows x " + std::to_string(cols_) +
           " values (one row per instrument)";
  }
  if (values_count % cols_ != 0) {
    return "feature snapshot has " + std::to_string(values_count) +
           " values, which is not a whole number of rows of " + std::to_string(cols_) +
           " features: the model expects " + std::to_string(cols_) +
           " features per row; check the feature vector width";
  }
  if (values_count / cols_ > max_rows_) {
    return "feature snapshot has " + std::to_string(values_count / cols_) +
           " rows, more than max_rows = " + std::to_string(max_rows_) +
           "; raise max_rows in the config";
  }
  return {};
}

namespace {

// The slot whose publish() this thread is inside (debug checks only): a
// publish that a publish observer triggers on the same thread is re-entrant,
// not a second producer (backtest mode reports that case itself).
thread_local const FeatureSlot* t_publishing_slot = nullptr;

// Debug checks: marks a publish() in progress for its lifetime and aborts if
// another thread's publish() already is.
class ProducerCheck {
 public:
  ProducerCheck(const FeatureSlot& slot, std::atomic<bool>& publishing) noexcept
      : publishing_(publishing), reentrant_(t_publishing_slot == &slot) {
    if (reentrant_) return;
    if (publishing_.exchange(true, std::memory_order_acquire)) {
      detail::misuse_abort(
          "FeatureSlot::publish() called from two threads at once; a FeatureSlot has one "
          "producer at a time (two overlapping publishes would hand out the same "
          "feature_seq). Publish from one engine thread, or serialise publishers with a "
          "mutex of your own");
    }
    t_publishing_slot = &slot;
  }
  ~ProducerCheck() {
    if (reentrant_) return;
    t_publishing_slot = nullptr;
    publishing_.store(false, std::memory_order_release);
  }
  ProducerCheck(const ProducerCheck&) = delete;
  ProducerCheck& operator=(const ProducerCheck&) = delete;

 private:
  std::atomic<bool>& publishing_;
  const bool reentrant_;
};

}  // namespace

std::uint64_t FeatureSlot::publish(std::span<const float> values, Timestamp feature_time) noexcept {
#if INFERLOOP_DEBUG_CHECKS
  const ProducerCheck producer_check(*this, publishing_);
#endif
  const std::size_t count = values.size();
  if (count == 0 || count % cols_ != 0 || count / cols_ > max_rows_) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  Buffer& back = buffers_[back_];
  std::copy(values.begin(), values.end(), back.values.begin());
  back.rows = count / cols_;
  back.feature_seq = next_seq_++;
  back.feature_time = feature_time;
  back.published_at = clock_->now();
  const std::uint64_t feature_seq = back.feature_seq;
  if (observer_ != nullptr) [[unlikely]] {
    const FeatureSnapshot snapshot{std::span<const float>(back.values.data(), count), back.rows,
                                   cols_, feature_seq, feature_time, back.published_at};
    observer_(observer_context_, snapshot);
  }
  // Hand the written buffer over and take the previous middle one back.
  const std::uint8_t previous = middle_.exchange(static_cast<std::uint8_t>(back_ | kFresh),
                                                 std::memory_order_seq_cst);
  back_ = previous & kIndexMask;
  last_seq_.store(feature_seq, std::memory_order_release);
  if (wake_ != nullptr) wake_->notify();
  return feature_seq;
}

std::uint64_t FeatureSlot::publish_checked(std::span<const float> values, Timestamp feature_time) {
  if (auto problem = shape_error(values.size()); !problem.empty()) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    throw Error(problem);
  }
  return publish(values, feature_time);
}

bool FeatureSlot::take_newest(FeatureSnapshot& out) noexcept {
  if ((middle_.load(std::memory_order_acquire) & kFresh) == 0) return false;
  const std::uint8_t previous = middle_.exchange(front_, std::memory_order_acq_rel);
  front_ = previous & kIndexMask;
  const Buffer& front = buffers_[front_];
  out.values = std::span<const float>(front.values.data(), front.rows * cols_);
  out.rows = front.rows;
  out.cols = cols_;
  out.feature_seq = front.feature_seq;
  out.feature_time = front.feature_time;
  out.published_at = front.published_at;
  return true;
}

}  // namespace inferloop
