// CallbackScope: marks the current thread as running a loop's user code
// (on_result, on_error, on_model_change, the feature source, a resolver).
//
// stop(), reload() and wait_for() ask inside_callback_of(loop): from inside
// a callback, joining the loop's threads or waiting for a delivery would wait
// for the calling thread itself, so stop() only requests the stop and the
// other two refuse. Thread-local: no synchronisation needed.
#pragma once

namespace inferloop::detail {

class CallbackScope {
 public:
  explicit CallbackScope(const void* loop) noexcept : outer_(current_) { current_ = loop; }
  ~CallbackScope() { current_ = outer_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

  // Whether this thread is inside a callback of `loop` (at any depth).
  [[nodiscard]] static bool inside_callback_of(const void* loop) noexcept { return current_ == loop; }

 private:
  static inline thread_local const void* current_ = nullptr;
  const void* outer_;
};

}  // namespace inferloop::detail
