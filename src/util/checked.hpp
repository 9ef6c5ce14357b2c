// Checked numeric conversions: text to number, number to number, seconds to
// durations, and timestamp arithmetic, each with a range. Every failure is
// an inferloop::Error that names what was read (`what` says which value and
// where: "MLFLOW_HTTP_REQUEST_TIMEOUT", "features.csv:3: column 2"), the
// allowed range and what was found (quoted, bounded). Use these instead of
// casts, std::stoi or std::chrono::duration<double> wherever a number comes
// from outside: a conversion that overflows, rounds a positive value to zero
// or turns NaN into a count is how "no timeout at all" and "negative time"
// bugs happen.
//
// Pure functions; any thread.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace inferloop::detail {

// "<what>: expected <expected>, found <found>" as an inferloop::Error.
[[noreturn]] void throw_out_of_range(std::string_view what, std::string_view expected,
                                     std::string_view found);

// Decimal integer text (an optional sign, then digits; nothing else, no
// surrounding spaces) in [min, max].
[[nodiscard]] std::optional<std::int64_t> to_integer(std::string_view text) noexcept;
template <std::integral T>
[[nodiscard]] T parse_integer(std::string_view text, std::string_view what,
                              T min = std::numeric_limits<T>::min(),
                              T max = std::numeric_limits<T>::max());

// Decimal floating-point text ("1.5", "2e-3", "inf" is refused) in [min, max].
[[nodiscard]] std::optional<double> to_real(std::string_view text) noexcept;
[[nodiscard]] double parse_real(std::string_view text, std::string_view what, double min,
                                double max);

// A flag as MLflow's and AWS's boolean variables spell it: true/false/1/0 in
// any case, surrounding blanks ignored; anything else is refused, never taken
// as false (a typo must not silently turn TLS verification back on or off).
[[nodiscard]] bool parse_boolean(std::string_view text, std::string_view what);
// The shortest text that reads back as `value` ("1e+300", not 300 digits;
// "nan" for NaN), for messages that show a number that came from outside.
[[nodiscard]] std::string number_text(double value);

// An integer converted to another integer type, refused when it does not fit.
template <std::integral To, std::integral From>
[[nodiscard]] To narrow(From value, std::string_view what);

// Seconds (as MLflow's variables and the CLI's flags give them) to a
// duration in [min, max]. NaN, infinities and values outside the range are
// refused; a value inside is rounded to the nearest nanosecond, so a small
// positive timeout never becomes zero ("no timeout") unless min allows it.
[[nodiscard]] std::chrono::nanoseconds seconds_to_duration(double seconds, std::string_view what,
                                                           std::chrono::nanoseconds min,
                                                           std::chrono::nanoseconds max);

// a + b, or nullopt when the sum leaves the range of a Timestamp. Inline:
// the backtest simulation adds twice per snapshot.
[[nodiscard]] inline std::optional<std::chrono::nanoseconds> checked_add(
    std::chrono::nanoseconds a, std::chrono::nanoseconds b) noexcept {
  std::chrono::nanoseconds::rep sum = 0;
  if (__builtin_add_overflow(a.count(), b.count(), &sum)) return std::nullopt;
  return std::chrono::nanoseconds(sum);
}

// ---- templates ----------------------------------------------------------------

std::string range_text(std::int64_t min, std::int64_t max);
std::string range_text(std::uint64_t min, std::uint64_t max);

template <std::integral T>
T parse_integer(std::string_view text, std::string_view what, T min, T max) {
  const std::optional<std::int64_t> value = to_integer(text);
  if (!value || std::cmp_less(*value, min) || std::cmp_greater(*value, max)) {
    std::string expected = "an integer in ";
    if constexpr (std::is_signed_v<T>) {
      expected += range_text(static_cast<std::int64_t>(min), static_cast<std::int64_t>(max));
    } else {
      expected += range_text(static_cast<std::uint64_t>(min), static_cast<std::uint64_t>(max));
    }
    throw_out_of_range(what, expected, text);
  }
  return static_cast<T>(*value);
}

template <std::integral To, std::integral From>
To narrow(From value, std::string_view what) {
  if (!std::in_range<To>(value)) {
    std::string expected = "a value in ";
    if constexpr (std::is_signed_v<To>) {
      expected += range_text(static_cast<std::int64_t>(std::numeric_limits<To>::min()),
                             static_cast<std::int64_t>(std::numeric_limits<To>::max()));
    } else {
      expected += range_text(std::uint64_t{0}, static_cast<std::uint64_t>(std::numeric_limits<To>::max()));
    }
    throw_out_of_range(what, expected, std::to_string(value));
  }
  return static_cast<To>(value);
}

}  // namespace inferloop::detail
