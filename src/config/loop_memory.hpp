// Resource admission: whether an InferenceLoop with this config can fit in
// this machine's memory at all, checked before anything is allocated.
//
// start() allocates every buffer up front (the history ring, each replica's
// input and output rows), so a config with history_capacity or max_rows far
// too large fails there with a bare std::bad_alloc, or worse, succeeds and
// pushes the host process into swap. The estimate here is a lower bound of
// what start() will allocate; a config whose lower bound is more than the
// machine's physical memory can never run, and is refused with the terms of
// the product, the total, the machine's memory and the key to lower.
//
// Callers: InferenceConfig::validate() and the config parser call it with
// the config's own num_features (0 = not known yet, so no feature buffers
// are counted) and one output; once the model is loaded, start() and
// `inferloop validate` call check_loop_memory() again with the model's real
// num_features and num_outputs.
//
// Pure functions apart from physical_memory_bytes() (sysconf); any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "inferloop/config.hpp"

namespace inferloop::detail {

// The machine's physical memory in bytes (sysconf(_SC_PHYS_PAGES) x
// _SC_PAGE_SIZE); 0 when it cannot be read.
[[nodiscard]] std::uint64_t physical_memory_bytes() noexcept;

// The least memory, in bytes, that start() allocates for `config` with a
// model of `num_features` (0 = unknown: not counted) and `num_outputs`
// (counted as at least 1). Saturates at UINT64_MAX instead of wrapping.
[[nodiscard]] std::uint64_t loop_memory_lower_bound(const InferenceConfig& config,
                                                    std::size_t num_features,
                                                    std::size_t num_outputs) noexcept;

// Why `config` cannot fit into `physical_bytes` of memory, or nullopt when
// it may (or when physical_bytes is 0, unknown). `key` is the config key to
// lower; `message` names every term, the total, the machine's memory and
// what to do.
struct LoopMemoryProblem {
  std::string key;
  std::string message;
};
[[nodiscard]] std::optional<LoopMemoryProblem> loop_memory_problem(const InferenceConfig& config,
                                                                   std::size_t num_features,
                                                                   std::size_t num_outputs,
                                                                   std::uint64_t physical_bytes);

// Throws inferloop::Error "<key>: <message>" when loop_memory_problem()
// finds one for this machine's physical memory.
void check_loop_memory(const InferenceConfig& config, std::size_t num_features,
                       std::size_t num_outputs);

}  // namespace inferloop::detail
