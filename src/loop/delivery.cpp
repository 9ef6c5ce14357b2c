// Delivery: see delivery.hpp.
#include "loop/delivery.hpp"

#include <exception>
#include <string>

#include "loop/callback_scope.hpp"

namespace inferloop::detail {

Delivery::Delivery(const void* loop, std::size_t capacity, std::size_t writers,
                   std::size_t history_capacity, ResultCallback on_result, ErrorSink& errors,
                   Counter& history_dropped)
    : loop_(loop),
      slot_(capacity, writers),
      on_result_(std::move(on_result)),
      errors_(errors),
      serialised_(static_cast<bool>(on_result_) || history_capacity > 0),
      history_(history_capacity, Prediction(capacity)),
      history_dropped_(history_dropped) {}

bool Delivery::deliver(std::size_t writer, ReplicaCounters& counters,
                       const Prediction& result) noexcept {
  if (!serialised_) {
    if (!slot_.publish_if_newer(writer, result)) {
      counters.stale_results.add();
      return false;
    }
    counters.publish_to_visible.record(result.completed_at - result.published_at);
    advance_delivered(result.feature_seq);
    notify_waiters();
    return true;
  }
  std::lock_guard delivery_lock(delivery_mutex_);
  if (!slot_.publish_if_newer(writer, result)) {
    counters.stale_results.add();
    return false;
  }
  counters.publish_to_visible.record(result.completed_at - result.published_at);
  if (!history_.empty()) record_history(result);
  if (on_result_) {
    try {
      CallbackScope scope(loop_);
      on_result_(result);
    } catch (const std::exception& e) {
      errors_.report({std::string("result callback threw: ") + e.what(), result.feature_seq,
                      result.replica_id, result.completed_at});
    } catch (...) {
      errors_.report({"result callback threw a non-standard exception", result.feature_seq,
                      result.replica_id, result.completed_at});
    }
  }
  advance_delivered(result.feature_seq);
  notify_waiters();
  return true;
}

void Delivery::record_history(const Prediction& result) noexcept {
  std::lock_guard lock(history_mutex_);
  // Same-size vector assignment copies in place: no allocation.
  history_[history_head_] = result;
  history_head_ = (history_head_ + 1) % history_.size();
  if (history_size_ == history_.size()) {
    history_dropped_.add();
  } else {
    ++history_size_;
  }
}

std::optional<NewestResult> Delivery::newest() const {
  Prediction result(slot_.capacity());
  if (!slot_.read(result)) return std::nullopt;
  return NewestResult{result.feature_seq, result.completed_at, result.model_version};
}

std::vector<Prediction> Delivery::history() const {
  std::lock_guard lock(history_mutex_);
  std::vector<Prediction> out;
  out.reserve(history_size_);
  const std::size_t capacity = history_.size();
  for (std::size_t i = 0; i < history_size_; ++i) {
    const Prediction& entry = history_[(history_head_ + capacity - history_size_ + i) % capacity];
    Prediction copy = entry;
    copy.storage.resize(static_cast<std::size_t>(entry.rows) * entry.cols);
    out.push_back(std::move(copy));
  }
  return out;
}

void Delivery::advance_delivered(std::uint64_t feature_seq) noexcept {
  std::uint64_t seen = delivered_seq_.load(std::memory_order_relaxed);
  while (seen < feature_seq &&
         !delivered_seq_.compare_exchange_weak(seen, feature_seq, std::memory_order_release,
                                               std::memory_order_relaxed)) {
  }
}

void Delivery::notify_waiters() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard lock(wait_mutex_);
  wait_cv_.notify_all();
}

void Delivery::wake_waiters() noexcept {
  std::lock_guard lock(wait_mutex_);
  wait_cv_.notify_all();
}

}  // namespace inferloop::detail
