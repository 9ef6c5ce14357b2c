// inferloop::Error: the one exception type inferloop throws.
//
// Loading, configuration and other cold-path calls throw Error with a message
// that says what was wrong, where (file, line:column, URI) and what to do.
// Hot-path calls (FeatureSlot::publish, InferenceLoop::latest) never throw.
#pragma once

#include <stdexcept>
#include <string>

namespace inferloop {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace inferloop
