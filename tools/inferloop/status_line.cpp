// The live view of `inferloop run`: see status_line.hpp.
#include "status_line.hpp"

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string_view>

#include "console.hpp"

namespace inferloop::cli {
namespace {

// Column widths: the widest value of each column leaves at least one space
// before it (the first column needs none), and together they make 79: a line
// that fills all 80 columns makes some terminals wrap before the '\r'.
constexpr int kTimeWidth = 6;
constexpr int kRateWidth = 7;
constexpr int kLatencyWidth = 8;
constexpr int kConflatedWidth = 10;
constexpr int kErrorsWidth = 7;
constexpr int kModelWidth = 7;
constexpr int kLatestWidth = 11;

// Three significant digits: "9.99", "99.9", "999".
std::string three_digits(double value) {
  std::array<char, 32> text{};
  const char* format = value < 9.995 ? "%.2f" : value < 99.95 ? "%.1f" : "%.0f";
  std::snprintf(text.data(), text.size(), format, value);
  return text.data();
}

}  // namespace

std::string compact_count(double count) {
  if (!(count > 0)) return "0";  // also NaN
  if (count < 9999.5) return std::to_string(std::llround(count));
  constexpr std::array<std::string_view, 6> kPrefixes = {"k", "M", "G", "T", "P", "E"};
  double scaled = count;
  for (std::string_view prefix : kPrefixes) {
    scaled /= 1000.0;
    if (scaled < 999.5) return three_digits(scaled) + std::string(prefix);
  }
  return ">999E";  // beyond any 64-bit count
}

std::string compact_duration(std::chrono::nanoseconds duration) {
  const double ns = duration.count() < 0 ? 0.0 : static_cast<double>(duration.count());
  if (ns < 999.5) return std::to_string(std::llround(ns)) + "ns";
  if (ns < 999.5e3) return three_digits(ns / 1e3) + "us";
  if (ns < 999.5e6) return three_digits(ns / 1e6) + "ms";
  if (ns < 999.5e9) return three_digits(ns / 1e9) + "s";
  const double hours = ns / 3.6e12;
  if (hours < 999.5) return three_digits(hours) + "h";
  return three_digits(hours / 1000.0) + "kh";  // 2^63 ns is 2562 kh
}

std::string status_header() {
  std::ostringstream out;
  out << "p50/p99: publish-to-visible over the last second; age: of the newest result\n"
      << std::right << std::setw(kTimeWidth) << "time" << std::setw(kRateWidth) << "pub/s"
      << std::setw(kRateWidth) << "pred/s" << std::setw(kLatencyWidth) << "p50 1s"
      << std::setw(kLatencyWidth) << "p99 1s" << std::setw(kLatencyWidth) << "age"
      << std::setw(kConflatedWidth) << "conflated" << std::setw(kErrorsWidth) << "errors"
      << std::setw(kModelWidth) << "model" << std::setw(kLatestWidth) << "latest" << '\n';
  return out.str();
}

std::string status_text(const StatusSample& sample) {
  const bool window_empty = sample.window.count == 0;
  std::string elapsed;
  // "999.9s" at most: from 999.95 s on, one decimal would round to "1000.0s".
  if (sample.elapsed < std::chrono::milliseconds(999'950)) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.1fs",
                  std::chrono::duration<double>(sample.elapsed).count());
    elapsed = text.data();
  } else {
    elapsed = compact_duration(sample.elapsed);
  }
  std::string latest = "-";
  if (sample.latest) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.4g", static_cast<double>(*sample.latest));
    latest = text.data();
  }
  std::ostringstream out;
  out << std::right << std::setw(kTimeWidth) << elapsed << std::setw(kRateWidth)
      << compact_count(sample.published_per_s) << std::setw(kRateWidth)
      << compact_count(sample.predicted_per_s) << std::setw(kLatencyWidth)
      << (window_empty ? "-" : compact_duration(sample.window.p50)) << std::setw(kLatencyWidth)
      << (window_empty ? "-" : compact_duration(sample.window.p99)) << std::setw(kLatencyWidth)
      << (sample.age ? compact_duration(*sample.age) : "-") << std::setw(kConflatedWidth)
      << compact_count(static_cast<double>(sample.conflated)) << std::setw(kErrorsWidth)
      << compact_count(static_cast<double>(sample.errors)) << std::setw(kModelWidth)
      << "v" + compact_count(static_cast<double>(sample.model_version))
      << std::setw(kLatestWidth) << latest;
  return out.str();
}

StatusLine::StatusLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

void StatusLine::note(const std::string& text) {
  finish();
  cli::print(std::cerr, text + '\n');
  std::cerr << std::flush;
  header_due_ = true;
}

void StatusLine::print(const StatusSample& sample) {
  if (!enabled_) return;
  if (header_due_) {
    finish();
    cli::print(std::cerr, status_header());
    header_due_ = false;
  }
  // Every line has the same width, so rewriting in place needs no padding.
  // (It holds no URI, but it goes out through print() like every line.)
  const std::string text = status_text(sample);
  if (tty_) {
    cli::print(std::cerr, '\r' + text);
    open_ = true;
  } else {
    cli::print(std::cerr, text + '\n');
  }
  std::cerr << std::flush;
}

void StatusLine::finish() {
  if (open_) std::cerr << '\n' << std::flush;
  open_ = false;
}

}  // namespace inferloop::cli
