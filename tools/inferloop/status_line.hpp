// The live view of `inferloop run`: one line a second under a header, that
// fits an 80-column terminal whatever the numbers.
//
//   p50/p99: publish-to-visible over the last second; age: of the newest result
//     time  pub/s pred/s  p50 1s  p99 1s     age conflated errors  model     latest
//     1.0s   1000   1000   121us   193us   982us         0      0     v1     0.2317
//
// Rates and percentiles are over the same window (the time since the
// previous line, about a second): the percentiles come from the difference
// of two histogram copies (src/metrics/latency_window.hpp), not from stats(),
// whose percentiles are cumulative since start. `age` is the loop clock's
// now minus the newest result's completed_at: how old the prediction is that
// the engine would read. Counts and durations are shortened (12.3k, 1.25ms)
// so that every column keeps its width.
//
// On a terminal the line is rewritten in place; otherwise (a pipe, a log) one
// line per second. Main thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "inferloop/stats.hpp"

namespace inferloop::cli {

// What one status line shows.
struct StatusSample {
  std::chrono::nanoseconds elapsed{0};
  double published_per_s = 0;
  double predicted_per_s = 0;
  LatencySummary window;                          // publish-to-visible, this window only
  std::optional<std::chrono::nanoseconds> age;    // none before the first result
  std::uint64_t conflated = 0;                    // since start
  std::uint64_t errors = 0;                       // since start: predictor + feature source
  std::uint64_t model_version = 0;
  std::optional<float> latest;                    // first value of the newest result
};

// Every status line is this wide (an 80-column terminal, less the last column).
inline constexpr std::size_t kStatusColumns = 79;

// The legend and column header (two lines, each ending in '\n').
[[nodiscard]] std::string status_header();
// One status line, without a line end; kStatusColumns characters.
[[nodiscard]] std::string status_text(const StatusSample& sample);

// "999", "12.3k", "123k", "1.23M", ... at most 5 characters.
[[nodiscard]] std::string compact_count(double count);
// "850ns", "21.3us", "1.25ms", "125ms", "12.5s", "2.8h", ... at most 6 characters.
[[nodiscard]] std::string compact_duration(std::chrono::nanoseconds duration);

class StatusLine {
 public:
  explicit StatusLine(bool enabled);
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  // A line of its own (a model swap, a failed reload), between status lines;
  // the header is shown again before the next status line.
  void note(const std::string& text);
  void print(const StatusSample& sample);
  // Ends an open status line.
  void finish();

 private:
  const bool enabled_;
  const bool tty_;
  bool header_due_ = true;
  bool open_ = false;
};

}  // namespace inferloop::cli
