// Command-line arguments of the inferloop subcommands: one way to walk them
// ("--name value", "--name=value", positionals) and one parse per kind of
// numeric flag, so that --threads, --seed or a duration means the same
// range and gets the same message in every subcommand.
//
// Every numeric flag goes through src/util/checked.hpp: NaN, infinities,
// trailing junk and values outside the flag's named range are refused with
// "<flag>: expected <range>, found '<text>'" (a UsageError, exit status 2),
// never cast, truncated or rounded to zero.
//
// Pure functions and a plain value; any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace inferloop::cli {

// A mistake in the command line: the subcommand prints the message and its
// usage text and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Walks one subcommand's arguments in order.
class ArgumentReader {
 public:
  explicit ArgumentReader(const std::vector<std::string>& args) : args_(args) {}

  [[nodiscard]] bool done() const noexcept { return next_ >= args_.size(); }

  // The next argument. For "--name=value" it is "--name", and the value
  // waits for value().
  std::string next();

  // The value of the option next() just returned: its "=value", else the
  // argument after it. Throws UsageError when there is none.
  std::string value();

  // For an option that takes no value: throws UsageError on "--quiet=1".
  void no_value() const;

  // next() returned an option ("-x", "--name"; "-" alone is a positional).
  [[nodiscard]] bool is_option() const noexcept { return is_option_; }

 private:
  const std::vector<std::string>& args_;
  std::size_t next_ = 0;
  std::string name_;
  std::optional<std::string> inline_value_;
  bool is_option_ = false;
};

// --duration S: seconds in [1 ms, 1 year]; never rounds to zero, never
// overflows the clock.
inline constexpr std::chrono::nanoseconds kMinDurationFlag = std::chrono::milliseconds(1);
inline constexpr std::chrono::nanoseconds kMaxDurationFlag = std::chrono::hours(24 * 365);
[[nodiscard]] std::chrono::nanoseconds parse_duration_flag(std::string_view flag,
                                                           std::string_view text);

// --rate HZ: events per second in [0.001, 1000000] (one every 1000 s at the
// slowest, one per microsecond at the fastest). Returns the period.
inline constexpr double kMinRateFlagHz = 0.001;
inline constexpr double kMaxRateFlagHz = 1'000'000.0;
[[nodiscard]] std::chrono::nanoseconds parse_rate_flag(std::string_view flag, std::string_view text);

// --max-results N and other counts: an integer in [min, max].
[[nodiscard]] std::uint64_t parse_count_flag(std::string_view flag, std::string_view text,
                                             std::uint64_t min, std::uint64_t max);

// --threads N: an integer in [1, 256].
inline constexpr std::size_t kMaxThreadsFlag = 256;
[[nodiscard]] std::size_t parse_threads_flag(std::string_view flag, std::string_view text);

// --seed N: an integer in [0, 2^63 - 1].
[[nodiscard]] std::uint64_t parse_seed_flag(std::string_view flag, std::string_view text);

}  // namespace inferloop::cli
