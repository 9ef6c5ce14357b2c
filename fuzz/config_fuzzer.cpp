// libFuzzer target for the config loader: any bytes, read by parse_config()
// as YAML, must give an InferenceConfig or an inferloop::Error; never a
// crash, a stack overflow (yaml-cpp recurses per nesting level), a hang, a
// runaway allocation or an unbounded message. A config that parses must
// also pass validate(): the parser and validate() apply one set of rules.
// Build and run: see fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const inferloop::InferenceConfig config = inferloop::parse_config(text, "fuzz.yaml");
    try {
      config.validate();
    } catch (const inferloop::Error&) {
      __builtin_trap();  // parsed, yet invalid: the two sets of rules differ
    }
  } catch (const inferloop::Error& error) {
    // The expected outcome for almost every input; the message stays short
    // (at most 50 issues, each quoting at most 80 characters of input and
    // a key name, plus their fixed text).
    if (std::string_view(error.what()).size() > 64 * 1024) __builtin_trap();
  }
  return 0;
}
