// Resource admission: see loop_memory.hpp.
#include "config/loop_memory.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>

#include "inferloop/error.hpp"
#include "inferloop/prediction.hpp"

namespace inferloop::detail {
namespace {

constexpr std::uint64_t kSaturated = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kFloatBytes = sizeof(float);
// Each history entry is a Prediction (its fields and its vector) besides
// the floats the vector holds.
constexpr std::uint64_t kHistoryEntryBytes = sizeof(Prediction);

std::uint64_t times(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? kSaturated : product;
}

std::uint64_t plus(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kSaturated : sum;
}

// The two terms of the lower bound; each names the key that drives it.
struct MemoryTerms {
  std::uint64_t history = 0;          // history_capacity Predictions
  std::uint64_t replica_buffers = 0;  // each replica's input and output rows
};

MemoryTerms terms_of(const InferenceConfig& config, std::size_t num_features,
                     std::size_t num_outputs) noexcept {
  const std::uint64_t outputs = std::max<std::size_t>(num_outputs, 1);
  const std::uint64_t replicas = static_cast<std::uint64_t>(std::max(config.num_replicas, 1));
  const std::uint64_t result_bytes = times(times(config.max_rows, outputs), kFloatBytes);
  const std::uint64_t row_floats = plus(num_features, outputs);
  return MemoryTerms{
      .history = times(config.history_capacity, plus(result_bytes, kHistoryEntryBytes)),
      .replica_buffers = times(times(replicas, times(config.max_rows, row_floats)), kFloatBytes),
  };
}

// "372.5 GiB", "3.8 MiB", "512 bytes".
std::string size_text(std::uint64_t bytes) {
  if (bytes == kSaturated) return "more than 16 EiB";
  constexpr std::array<const char*, 6> kUnits = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return std::to_string(bytes) + " bytes";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, kUnits[unit]);
  return buffer;
}

std::string outputs_text(std::size_t num_outputs) {
  const std::size_t outputs = std::max<std::size_t>(num_outputs, 1);
  return std::to_string(outputs) + (outputs == 1 ? " output" : " outputs");
}

}  // namespace

std::uint64_t physical_memory_bytes() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return times(static_cast<std::uint64_t>(pages), static_cast<std::uint64_t>(page_size));
}

std::uint64_t loop_memory_lower_bound(const InferenceConfig& config, std::size_t num_features,
                                      std::size_t num_outputs) noexcept {
  const MemoryTerms terms = terms_of(config, num_features, num_outputs);
  return plus(terms.history, terms.replica_buffers);
}

std::optional<LoopMemoryProblem> loop_memory_problem(const InferenceConfig& config,
                                                     std::size_t num_features,
                                                     std::size_t num_outputs,
                                                     std::uint64_t physical_bytes) {
  const MemoryTerms terms = terms_of(config, num_features, num_outputs);
  const std::uint64_t total = plus(terms.history, terms.replica_buffers);
  if (physical_bytes == 0 || total <= physical_bytes) return std::nullopt;

  const std::string outputs = outputs_text(num_outputs);
  const std::string history = "history_capacity " + std::to_string(config.history_capacity) +
                              " x (max_rows " + std::to_string(config.max_rows) + " x " +
                              outputs + " x 4 bytes + " + std::to_string(kHistoryEntryBytes) +
                              " bytes per entry) = " + size_text(terms.history);
  const std::string features =
      num_features == 0 ? "" : "num_features " + std::to_string(num_features) + " + ";
  const std::string replicas = "num_replicas " + std::to_string(config.num_replicas) +
                               " x max_rows " + std::to_string(config.max_rows) + " x (" +
                               features + outputs + ") x 4 bytes = " +
                               size_text(terms.replica_buffers);
  const bool history_dominates = terms.history >= terms.replica_buffers;
  LoopMemoryProblem problem;
  problem.key = history_dominates ? "history_capacity" : "max_rows";
  const std::string needs =
      total == kSaturated ? "more than 16 EiB" : "at least " + size_text(total);
  problem.message = "the loop needs " + needs + " of memory (history: " +
                    history + "; replica buffers: " + replicas + "), and this machine has " +
                    size_text(physical_bytes) + "; lower " +
                    (history_dominates ? "history_capacity" : "max_rows or num_replicas");
  if (num_features == 0) {
    problem.message += " (feature buffers are not counted until the model gives num_features)";
  }
  return problem;
}

void check_loop_memory(const InferenceConfig& config, std::size_t num_features,
                       std::size_t num_outputs) {
  if (const auto problem =
          loop_memory_problem(config, num_features, num_outputs, physical_memory_bytes())) {
    throw Error(problem->key + ": " + problem->message);
  }
}

}  // namespace inferloop::detail
