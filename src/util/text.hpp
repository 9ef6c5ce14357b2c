// Text helpers every message in inferloop is built with: bounded quoting of
// user input, secret scrubbing, and the one spelling of durations and
// versions. Pure functions; any thread.
//
// Why bounded quoting: a message that echoes input (a CSV cell, a YAML
// scalar, a model file's first bytes) must stay readable and cheap whatever
// the input holds, so quote() shows at most a prefix and says how long the
// whole was. Why scrubbing: a URI with user:password@ in it (a model_uri, a
// tracking URI, an endpoint) may reach any message; Error's constructor runs
// every message through scrub_secrets(), so no caller can forget.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace inferloop::detail {

// How much of an input a message quotes by default.
inline constexpr std::size_t kQuotedMaxChars = 80;
// How much of a URI or a file path a message quotes: enough for any real
// one (a model URI is at most 4096 bytes), still bounded.
inline constexpr std::size_t kQuotedPathMaxChars = 4096;

// 'text' with control characters written as \n, \t, \xNN and quotes
// escaped; longer than `max_chars`: the first max_chars characters, "...'"
// and the full length ("'abc...' (10485760 bytes)").
[[nodiscard]] std::string quote(std::string_view text, std::size_t max_chars = kQuotedMaxChars);
// quote() for a URI or a path: shown whole up to kQuotedPathMaxChars.
[[nodiscard]] inline std::string quote_path(std::string_view text) {
  return quote(text, kQuotedPathMaxChars);
}

// `text` with every URI's userinfo ("https://user:secret@host") replaced by
// "***@" and the values of secret-looking query parameters (token, password,
// secret, signature, credential, key, sig) replaced by "***".
[[nodiscard]] std::string scrub_secrets(std::string_view text);

// "1500us" rather than "1500000ns": the largest unit that divides exactly;
// "0s" for zero.
[[nodiscard]] std::string duration_text(std::chrono::nanoseconds duration);

// {1, 7, 4} -> "1.7.4".
[[nodiscard]] std::string version_text(std::span<const int> version);

}  // namespace inferloop::detail
