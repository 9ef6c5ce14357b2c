// The baseline kernels: the scalar row walk every set uses, and the tile walk
// (forest_kernels.inc) with x86-64's SSE2, which every x86-64 CPU has, for
// the 64-row byte compares (plain C++ elsewhere). They run on every CPU.
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

// --- one row: walk kGroup trees of a block in lockstep -----------------------

// Tree g's node i is nodes[g * 2^kDepth + i]: with the depth a constant the
// whole walk is unrolled, each step is a load of the node, a load of the
// value, a compare and a shift-add, and the only live values are the base
// pointers and the kGroup positions (no per-tree pointer to reload).
template <std::uint32_t kDepth, std::size_t kGroup>
inline void walk_group(const WalkNode* nodes, const float* leaves, const float* expanded,
                       float* out) noexcept {
  constexpr std::size_t kStride = std::size_t{1} << kDepth;
  std::uint32_t index[kGroup];
#pragma GCC unroll 32
  for (std::size_t g = 0; g < kGroup; ++g) index[g] = 1;
#pragma GCC unroll 16
  for (std::uint32_t level = 0; level < kDepth; ++level) {
#pragma GCC unroll 32
    for (std::size_t g = 0; g < kGroup; ++g) {
      const WalkNode node = nodes[g * kStride + index[g]];
      index[g] = 2 * index[g] + static_cast<std::uint32_t>(expanded[node.feature] >= node.threshold);
    }
  }
#pragma GCC unroll 32
  for (std::size_t g = 0; g < kGroup; ++g) out[g] = leaves[g * kStride + index[g] - kStride];
}

// Trees in flight per lockstep group: 16 positions and two base pointers fit
// x86-64's registers; shallow trees have too few levels to hide more loads.
template <std::uint32_t kDepth>
constexpr std::size_t kRowGroup = 16;

template <std::uint32_t kDepth>
void walk_row_at(const ForestLayout& layout, const LayoutBlock& block, const float* expanded,
                 float* out) noexcept {
  constexpr std::size_t kStride = std::size_t{1} << kDepth;
  constexpr std::size_t kGroup = kRowGroup<kDepth>;
  const WalkNode* nodes = layout.walk_nodes.data() + block.node_offset;
  const float* leaves = layout.leaves.data() + block.leaf_offset;
  std::size_t k = 0;
  for (; k + kGroup <= block.trees; k += kGroup) {
    walk_group<kDepth, kGroup>(nodes + k * kStride, leaves + k * kStride, expanded, out + k);
  }
  for (; k + 4 <= block.trees; k += 4) {
    walk_group<kDepth, 4>(nodes + k * kStride, leaves + k * kStride, expanded, out + k);
  }
  for (; k < block.trees; ++k) {
    walk_group<kDepth, 1>(nodes + k * kStride, leaves + k * kStride, expanded, out + k);
  }
}

constexpr auto kRowWalks = []<std::uint32_t... kDepths>(
    std::integer_sequence<std::uint32_t, kDepths...>) {
  return std::array{&walk_row_at<kDepths>...};
}(std::make_integer_sequence<std::uint32_t, kMaxCompactDepth + 1>());

}  // namespace
}  // namespace baseline

void walk_row_scalar(const ForestLayout& layout, const LayoutBlock& block, const float* expanded,
                     float* leaves) noexcept {
  baseline::kRowWalks[block.depth](layout, block, expanded, leaves);
}

const ForestKernels kBaselineKernels{ForestIsa::kBaseline, &walk_row_scalar, &baseline::bin_tile,
                                     &baseline::walk_tiles, kBaselineTileMinRows};

}  // namespace inferloop::detail
