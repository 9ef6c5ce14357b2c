// Command-line arguments of the inferloop subcommands; see arguments.hpp.
#include "arguments.hpp"

#include <limits>

#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop::cli {
namespace {

// The checked parsers throw inferloop::Error; on the command line the same
// message is a usage error.
template <typename Parse>
auto as_usage_error(Parse&& parse) {
  try {
    return parse();
  } catch (const Error& error) {
    throw UsageError(error.what());
  }
}

}  // namespace

std::string ArgumentReader::next() {
  std::string arg = args_.at(next_++);
  inline_value_.reset();
  is_option_ = arg.starts_with('-') && arg != "-";
  if (arg.starts_with("--")) {
    if (const std::size_t equals = arg.find('='); equals != std::string::npos) {
      inline_value_ = arg.substr(equals + 1);
      arg.resize(equals);
    }
  }
  name_ = arg;
  return arg;
}

std::string ArgumentReader::value() {
  if (inline_value_) return *std::exchange(inline_value_, std::nullopt);
  if (done()) throw UsageError(name_ + " needs a value");
  return args_[next_++];
}

void ArgumentReader::no_value() const {
  if (inline_value_) {
    throw UsageError(name_ + " takes no value, found " + detail::quote(*inline_value_));
  }
}

std::chrono::nanoseconds parse_duration_flag(std::string_view flag, std::string_view text) {
  return as_usage_error([&] {
    const std::optional<double> seconds = detail::to_real(text);
    if (!seconds) {
      detail::throw_out_of_range(flag,
                                 "a number of seconds from " + detail::duration_text(kMinDurationFlag) +
                                     " to " + detail::duration_text(kMaxDurationFlag),
                                 text);
    }
    return detail::seconds_to_duration(*seconds, flag, kMinDurationFlag, kMaxDurationFlag);
  });
}

std::chrono::nanoseconds parse_rate_flag(std::string_view flag, std::string_view text) {
  return as_usage_error([&] {
    const double hz = detail::parse_real(text, flag, kMinRateFlagHz, kMaxRateFlagHz);
    // Inside the range the period is 1 us .. 1000 s: it neither rounds to
    // zero (a busy loop) nor overflows.
    return detail::seconds_to_duration(1.0 / hz, flag, std::chrono::microseconds(1),
                                       std::chrono::seconds(1000));
  });
}

std::uint64_t parse_count_flag(std::string_view flag, std::string_view text, std::uint64_t min,
                               std::uint64_t max) {
  return as_usage_error([&] { return detail::parse_integer<std::uint64_t>(text, flag, min, max); });
}

std::size_t parse_threads_flag(std::string_view flag, std::string_view text) {
  return as_usage_error(
      [&] { return detail::parse_integer<std::size_t>(text, flag, 1, kMaxThreadsFlag); });
}

std::uint64_t parse_seed_flag(std::string_view flag, std::string_view text) {
  // to_integer reads int64, so that is the widest seed a flag can give.
  constexpr auto kMaxSeed = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return parse_count_flag(flag, text, 0, kMaxSeed);
}

}  // namespace inferloop::cli
