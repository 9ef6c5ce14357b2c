// The AVX-512 kernels (forest_kernels.inc): one 64-byte compare per node for
// the 64-row tile, leaf lookups by register permutes for trees up to depth 6
// (a 64-leaf table is four registers) and 16-lane gathers below, and a
// 16-ary search that bins a value with two compares. Only these functions
// carry the AVX-512 target; they run only where cpu_supports(kAvx512).
#include "forest/forest_kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12's own _mm512_undefined_ps (in _mm512_permutexvar_ps and
// _mm512_i32gather_ps) trips -Wuninitialized by design; nothing here is read
// uninitialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace inferloop::detail {
namespace avx512 {
namespace {

#define INFERLOOP_KERNEL \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,bmi,bmi2,popcnt")))

INFERLOOP_KERNEL inline std::uint64_t ge_mask(const std::uint8_t* column,
                                              std::uint32_t bin) noexcept {
  return _mm512_cmpge_epu8_mask(_mm512_loadu_si512(column),
                                _mm512_set1_epi8(static_cast<char>(bin)));
}

template <std::uint32_t kDepth>
INFERLOOP_KERNEL inline __m512 tile_leaves(__m512i index, const float* leaves) noexcept {
  constexpr std::uint32_t kLeaves = 1u << kDepth;
  if constexpr (kLeaves <= 16) {
    // Read only this tree's leaves: the table may end where the layout does.
    const __m512 table = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << kLeaves) - 1), leaves);
    return _mm512_permutexvar_ps(index, table);
  } else if constexpr (kLeaves == 32) {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(leaves), index, _mm512_loadu_ps(leaves + 16));
  } else if constexpr (kLeaves == 64) {
    const __m512 low = _mm512_permutex2var_ps(_mm512_loadu_ps(leaves), index,
                                              _mm512_loadu_ps(leaves + 16));
    const __m512 high = _mm512_permutex2var_ps(_mm512_loadu_ps(leaves + 32), index,
                                               _mm512_loadu_ps(leaves + 48));
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(index, _mm512_set1_epi32(32)), low, high);
  } else {
    return _mm512_i32gather_ps(index, leaves, 4);
  }
}

template <std::uint32_t kDepth>
INFERLOOP_KERNEL inline void add_tile_leaves(const std::uint64_t* planes, const float* leaves,
                                             float* margins) noexcept {
  for (std::size_t chunk = 0; chunk < kTileRows / 16; ++chunk) {
    __m512i index = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (std::uint32_t level = 0; level < kDepth; ++level) {
      const auto rows = static_cast<__mmask16>(planes[level] >> (16 * chunk));
      index = _mm512_mask_add_epi32(index, rows, index,
                                    _mm512_set1_epi32(1 << (kDepth - 1 - level)));
    }
    float* out = margins + 16 * chunk;
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), tile_leaves<kDepth>(index, leaves)));
  }
}

// Two 16-wide compares: the pivots (every 16th threshold) give the block of
// 16, the block gives the place in it. A NaN pivot or value compares false;
// the last pivot is always NaN, so the block stays in f's table.
INFERLOOP_KERNEL inline std::uint32_t bin_of(const float* thresholds, const float* pivots,
                                             float value) noexcept {
  const __m512 broadcast = _mm512_set1_ps(value);
  const auto block = static_cast<std::uint32_t>(
      _mm_popcnt_u32(_mm512_cmp_ps_mask(_mm512_loadu_ps(pivots), broadcast, _CMP_LE_OQ)));
  const auto within = static_cast<std::uint32_t>(_mm_popcnt_u32(
      _mm512_cmp_ps_mask(_mm512_loadu_ps(thresholds + 16 * block), broadcast, _CMP_LE_OQ)));
  return 16 * block + within;
}

#include "forest/forest_kernels.inc"

#undef INFERLOOP_KERNEL

}  // namespace
}  // namespace avx512

const ForestKernels kAvx512Kernels{ForestIsa::kAvx512, &walk_row_scalar, &avx512::bin_tile,
                                   &avx512::walk_tiles, kAvx512TileMinRows};

}  // namespace inferloop::detail
#endif
