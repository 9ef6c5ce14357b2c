// The baseline kernels (forest_kernels.inc): x86-64's SSE2, which every
// x86-64 CPU has, for the 64-row byte compares; plain C++ elsewhere. They run
// on every CPU, and are what the wider sets are tested against.
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "forest/forest_kernels.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace inferloop::detail {
namespace baseline {
namespace {

#define INFERLOOP_KERNEL

inline std::uint64_t ge_mask(const std::uint8_t* column, std::uint32_t bin) noexcept {
#if defined(__SSE2__)
  // Unsigned x >= t iff max(x, t) == x (SSE2 has no unsigned byte compare).
  const __m128i threshold = _mm_set1_epi8(static_cast<char>(bin));
  std::uint64_t mask = 0;
  for (std::size_t q = 0; q < kTileRows / 16; ++q) {
    const __m128i values = _mm_loadu_si128(reinterpret_cast<const __m128i*>(column + 16 * q));
    const __m128i at_least = _mm_cmpeq_epi8(_mm_max_epu8(values, threshold), values);
    mask |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(at_least)))
            << (16 * q);
  }
  return mask;
#else
  std::uint64_t mask = 0;
  for (std::size_t r = 0; r < kTileRows; ++r) {
    mask |= static_cast<std::uint64_t>(column[r] >= bin) << r;
  }
  return mask;
#endif
}

template <std::uint32_t kDepth>
inline void add_tile_leaves(const std::uint64_t* planes, const float* leaves,
                            float* margins) noexcept {
  for (std::size_t r = 0; r < kTileRows; ++r) {
    std::uint32_t index = 0;
    for (std::uint32_t level = 0; level < kDepth; ++level) {
      index = 2 * index + static_cast<std::uint32_t>((planes[level] >> r) & 1);
    }
    margins[r] += leaves[index];
  }
}

// A branch-free binary search: the thresholds are sorted with NaN padding
// last, and `t <= value` is false for NaN either side, so the predicate is
// true then false along the table.
inline std::uint32_t bin_of(const float* thresholds, const float* /*pivots*/, float value) noexcept {
  std::uint32_t base = 0;
  for (std::uint32_t half = kBinTableSize / 2; half > 0; half /= 2) {
    base += thresholds[base + half - 1] <= value ? half : 0;
  }
  return base;
}

#include "forest/forest_kernels.inc"

#undef INFERLOOP_KERNEL

}  // namespace
}  // namespace baseline

const ForestKernels kBaselineKernels{ForestIsa::kBaseline, &baseline::walk_row,
                                     &baseline::bin_tile, &baseline::walk_tiles};

}  // namespace inferloop::detail
