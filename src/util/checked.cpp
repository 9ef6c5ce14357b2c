// Checked numeric conversions: see checked.hpp.
#include "util/checked.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <system_error>

#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop::detail {

std::string number_text(double value) {
  if (std::isnan(value)) return "nan";
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc{} ? std::string(buffer, end) : "?";
}

void throw_out_of_range(std::string_view what, std::string_view expected, std::string_view found) {
  throw Error(std::string(what) + ": expected " + std::string(expected) + ", found " + quote(found));
}

std::string range_text(std::int64_t min, std::int64_t max) {
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

std::string range_text(std::uint64_t min, std::uint64_t max) {
  return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

std::optional<std::int64_t> to_integer(std::string_view text) noexcept {
  // from_chars takes '-' but not '+'.
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> to_real(std::string_view text) noexcept {
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value,
                                            std::chars_format::general);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool parse_boolean(std::string_view text, std::string_view what) {
  std::string_view trimmed = text;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.remove_prefix(1);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.remove_suffix(1);
  std::string lower(trimmed);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "1") return true;
  if (lower == "false" || lower == "0") return false;
  throw_out_of_range(what, "true or false (or 1 or 0)", text);
}

double parse_real(std::string_view text, std::string_view what, double min, double max) {
  const std::optional<double> value = to_real(text);
  if (!value || *value < min || *value > max) {
    throw_out_of_range(what, "a number in [" + number_text(min) + ", " + number_text(max) + "]",
                       text);
  }
  return *value;
}

std::chrono::nanoseconds seconds_to_duration(double seconds, std::string_view what,
                                             std::chrono::nanoseconds min,
                                             std::chrono::nanoseconds max) {
  const double nanoseconds = seconds * 1e9;
  auto refuse = [&] {
    throw_out_of_range(what,
                       "a number of seconds from " + duration_text(min) + " to " + duration_text(max),
                       number_text(seconds));
  };
  // Compared as doubles before any conversion: a cast of NaN or of a value
  // beyond int64 is undefined behaviour.
  if (!std::isfinite(nanoseconds) || nanoseconds < static_cast<double>(min.count()) ||
      nanoseconds > static_cast<double>(max.count())) {
    refuse();
  }
  const auto rounded = std::chrono::nanoseconds(std::llround(nanoseconds));
  if (rounded < min || rounded > max) refuse();
  return rounded;
}

}  // namespace inferloop::detail
