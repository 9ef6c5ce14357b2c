#pragma once
#include <cstdint>

namespace inferloop::testing {
// Sanitizers slow code down 5-20x: scale stress loops so the suites stay quick
// there while still interleaving threads millions of times in normal builds.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr std::uint64_t kStressScale = 10;
#else
inline constexpr std::uint64_t kStressScale = 1;
#endif
}  // namespace inferloop::testing
