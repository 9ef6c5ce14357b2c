// libFuzzer target for backtest latency specs (LatencyModel::parse) and the
// results-file reader behind "replay:FILE". An input whose first line is
// "replay" is written to a scratch file (the rest of the input, from the
// second line) and read as a recording; any other input is parsed as a spec
// (a spec naming "replay:" is skipped: it would open whatever path the
// fuzzer spelled). Either gives a model or an inferloop::Error; a model's
// draws must lie in [0, max_latency()] and max_latency() in [0, a day], so
// no simulated time can overflow on them. Build and run: see
// fuzz/CMakeLists.txt.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "inferloop/backtest.hpp"
#include "inferloop/error.hpp"

namespace {

void check_draws(const inferloop::LatencyModel& model) {
  const inferloop::Timestamp longest = model.max_latency();
  if (longest.count() < 0 || longest > inferloop::LatencyModel::kMaxLatency) __builtin_trap();
  inferloop::LatencySampler sampler = model.sampler(1);
  for (int i = 0; i < 16; ++i) {
    const inferloop::Timestamp latency = sampler.next();
    if (latency.count() < 0 || latency > longest) __builtin_trap();
  }
}

// One scratch file per process, named by its pid.
const std::string& scratch_file() {
  static const std::string path =
      "/tmp/inferloop-fuzz-latency-" + std::to_string(::getpid()) + ".csv";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    constexpr std::string_view kReplayLine = "replay\n";
    if (text.starts_with(kReplayLine)) {
      {
        std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
        out << text.substr(kReplayLine.size());
      }
      check_draws(inferloop::LatencyModel::replay_file(scratch_file()));
    } else if (!text.starts_with("replay:")) {
      check_draws(inferloop::LatencyModel::parse(text));
    }
  } catch (const inferloop::Error&) {
    // The expected outcome for most inputs.
  }
  return 0;
}
