// The round-robin rule of dispatch, in one place: the live poller and the
// backtest's replica simulator both choose replicas with it, so a backtest
// dispatches exactly as the live loop would.
//
// RoundRobin is a plain value (the cursor); not thread-safe: its one owner
// (the poller thread, or the simulator under its mutex) calls it.
#pragma once

#include <cstddef>
#include <optional>

namespace inferloop::detail {

class RoundRobin {
 public:
  explicit RoundRobin(std::size_t count) noexcept : count_(count) {}

  // The first idle replica at or after the cursor, wrapping around; the
  // cursor then moves past it. nullopt (cursor unchanged) when none is idle.
  template <typename IsIdle>
  [[nodiscard]] std::optional<std::size_t> next_idle(IsIdle&& is_idle) noexcept {
    std::size_t index = cursor_;
    for (std::size_t i = 0; i < count_; ++i) {
      if (is_idle(index)) {
        cursor_ = index + 1 == count_ ? 0 : index + 1;
        return index;
      }
      index = index + 1 == count_ ? 0 : index + 1;  // no division: once per dispatch
    }
    return std::nullopt;
  }

  // The replica next_idle() would return now, without moving the cursor.
  template <typename IsIdle>
  [[nodiscard]] std::optional<std::size_t> peek_idle(IsIdle&& is_idle) const noexcept {
    std::size_t index = cursor_;
    for (std::size_t i = 0; i < count_; ++i) {
      if (is_idle(index)) return index;
      index = index + 1 == count_ ? 0 : index + 1;
    }
    return std::nullopt;
  }

  // The replica the next dispatch tries first.
  [[nodiscard]] std::size_t cursor() const noexcept { return cursor_; }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }

 private:
  std::size_t count_;
  std::size_t cursor_ = 0;
};

}  // namespace inferloop::detail
