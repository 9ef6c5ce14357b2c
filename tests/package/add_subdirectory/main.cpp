// A consumer that builds inferloop with add_subdirectory(): exits 0 only when the library links and
// behaves (validate() rejects a broken config with inferloop::Error, a
// ManualClock moves only when told to).
#include <inferloop/inferloop.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main() {
  inferloop::InferenceConfig config;
  config.model_uri = "";   // required
  config.num_replicas = 0;  // must be 1..64
  try {
    config.validate();
    std::puts("FAIL: validate() accepted a config without model_uri and with 0 replicas");
    return 1;
  } catch (const inferloop::Error& error) {
    const std::string message = error.what();
    if (message.find("model_uri") == std::string::npos ||
        message.find("num_replicas") == std::string::npos) {
      std::printf("FAIL: validate()'s message does not name both bad keys:\n%s\n", message.c_str());
      return 1;
    }
  }

  inferloop::ManualClock clock{inferloop::Timestamp{100}};
  clock.advance(std::chrono::nanoseconds{23});
  if (clock.now() != inferloop::Timestamp{123} || !clock.is_simulated()) {
    std::printf("FAIL: ManualClock reads %lld ns, expected 123\n",
                static_cast<long long>(clock.now().count()));
    return 1;
  }
  std::printf("inferloop %s via add_subdirectory: validate() and ManualClock work\n",
              inferloop::kVersion);
  return 0;
}
