// The AVX2 kernels (forest_kernels.inc): 32-byte compares for the 64-row
// tile, BMI2 pdep to turn the bit planes into leaf indices, 8-lane gathers
// of the leaves, and the 16-ary bin search of the AVX-512 set done 8 lanes at
// a time. Only these functions carry the AVX2 target; they
// run only where cpu_supports(ForestIsa::kAvx2).
#include "forest/forest_kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace inferloop::detail {
namespace avx2 {
namespace {

#define INFERLOOP_KERNEL __attribute__((target("avx2,bmi,bmi2,popcnt")))

INFERLOOP_KERNEL inline std::uint64_t ge_mask(const std::uint8_t* column,
                                              std::uint32_t bin) noexcept {
  const __m256i threshold = _mm256_set1_epi8(static_cast<char>(bin));
  const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(column));
  const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(column + 32));
  // Unsigned x >= t iff max(x, t) == x.
  const auto low_mask = static_cast<std::uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(low, threshold), low)));
  const auto high_mask = static_cast<std::uint32_t>(
      _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(high, threshold), high)));
  return (static_cast<std::uint64_t>(high_mask) << 32) | low_mask;
}

template <std::uint32_t kDepth>
INFERLOOP_KERNEL inline void add_tile_leaves(const std::uint64_t* planes, const float* leaves,
                                             float* margins) noexcept {
  constexpr std::uint64_t kByteLows = 0x0101010101010101ULL;
  for (std::size_t chunk = 0; chunk < kTileRows / 8; ++chunk) {
    // Row 8 chunk + b's index in byte b: pdep spreads each plane's 8 bits.
    std::uint64_t indices = 0;
#pragma GCC unroll 8
    for (std::uint32_t level = 0; level < kDepth; ++level) {
      indices |= _pdep_u64((planes[level] >> (8 * chunk)) & 0xFF, kByteLows)
                 << (kDepth - 1 - level);
    }
    const __m256i index = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(indices)));
    const __m256 leaf = _mm256_i32gather_ps(leaves, index, 4);
    float* out = margins + 8 * chunk;
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), leaf));
  }
}

// How many of the 16 sorted floats at `sorted` are <= value (NaN never is).
INFERLOOP_KERNEL inline std::uint32_t count_at_most(const float* sorted, __m256 value) noexcept {
  const int low = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(sorted), value, _CMP_LE_OQ));
  const int high = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(sorted + 8), value, _CMP_LE_OQ));
  return static_cast<std::uint32_t>(_mm_popcnt_u32(static_cast<unsigned>(low | (high << 8))));
}

// The pivots (every 16th threshold) give the block of 16, the block the place
// in it. The last pivot is always NaN (at most kMaxBins - 1 thresholds), so
// the block is at most 15 and the second read stays in f's table.
INFERLOOP_KERNEL inline std::uint32_t bin_of(const float* thresholds, const float* pivots,
                                             float value) noexcept {
  const __m256 broadcast = _mm256_set1_ps(value);
  const std::uint32_t block = count_at_most(pivots, broadcast);
  return 16 * block + count_at_most(thresholds + 16 * block, broadcast);
}

#include "forest/forest_kernels.inc"

#undef INFERLOOP_KERNEL

}  // namespace
}  // namespace avx2

const ForestKernels kAvx2Kernels{ForestIsa::kAvx2, &walk_row_scalar, &avx2::bin_tile,
                                 &avx2::walk_tiles, kAvx2TileMinRows};

}  // namespace inferloop::detail
#endif
