// What the inferloop CLI prints to the terminal passes through here, so that
// no line can show a secret: a model_uri, tracking URI or artifact URI with
// user:password@ or a token in its query reaches the status lines, the
// resolution trace, the summary and error messages, and each is scrubbed
// (detail::scrub_secrets) on its way out. Input echoed in a message is
// quoted, bounded, by whoever builds the message (detail::quote).
//
// Any thread, but the CLI prints only from its main thread.
#pragma once

#include <exception>
#include <ostream>
#include <string>
#include <string_view>

#include "util/text.hpp"

namespace inferloop::cli {

// Writes `text` to `out` with URI userinfo and secret query values replaced.
inline void print(std::ostream& out, std::string_view text) {
  out << detail::scrub_secrets(text);
}

// "inferloop <command>: error: <what>" on standard error; returns exit status 1.
inline int report_error(std::ostream& err, std::string_view command, const std::exception& error) {
  print(err, "inferloop " + std::string(command) + ": error: " + error.what() + "\n");
  return 1;
}

}  // namespace inferloop::cli
