// inferloop::Error: the one exception type inferloop throws.
//
// Loading, configuration and other cold-path calls throw Error with a message
// that says what was wrong, where (file, line:column, URI) and what to do.
// Hot-path calls (FeatureSlot::publish, InferenceLoop::latest) never throw.
//
// Every message is scrubbed of secrets on construction: the userinfo of any
// URI in it ("https://user:password@host" -> "https://***@host") and the
// values of secret-looking query parameters (token, signature, ...), so a
// credential that reached a message by any path never reaches a log.
#pragma once

#include <stdexcept>
#include <string>

namespace inferloop {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  explicit Error(const char* message);
};

}  // namespace inferloop
