// ErrorSink: where every part of a loop reports an error that does not stop
// it (a predictor that threw, a feature source, a throwing callback, a failed
// reload): kept as last_error() and handed to the user's on_error.
//
// Threads: report() from any loop thread (or a reloading application
// thread), last() from any thread. The error handler runs on the reporting
// thread, marked as a callback of the loop (callback_scope.hpp); if it
// throws, the exception is dropped: the error is already kept.
#pragma once

#include <mutex>
#include <optional>
#include <utility>

#include "inferloop/inference_loop.hpp"
#include "loop/callback_scope.hpp"
#include "util/text.hpp"

namespace inferloop::detail {

class ErrorSink {
 public:
  ErrorSink(const void* loop, ErrorHandler on_error) : loop_(loop), on_error_(std::move(on_error)) {}

  void report(LoopError error) noexcept {
    try {
      // Whatever the message came from (a predictor's exception text, say),
      // no credential in it reaches a log.
      error.message = scrub_secrets(error.message);
      {
        std::lock_guard lock(mutex_);
        last_ = error;
      }
      if (on_error_) {
        CallbackScope scope(loop_);
        on_error_(error);
      }
    } catch (...) {
      // An error handler that throws must not take the loop down with it.
    }
  }

  [[nodiscard]] std::optional<LoopError> last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  const void* const loop_;
  const ErrorHandler on_error_;
  mutable std::mutex mutex_;
  std::optional<LoopError> last_;  // guarded by mutex_
};

}  // namespace inferloop::detail
