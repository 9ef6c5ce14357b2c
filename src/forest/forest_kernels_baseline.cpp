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

// Whether this build targets x86-64, where the step below is assembly.
#if defined(__x86_64__)
inline constexpr bool kHaveAssemblyStep = true;
#else
inline constexpr bool kHaveAssemblyStep = false;
#endif

// Tree g's node i is nodes[g * tree_stride(kDepth) + i], each level mirrored
// (see WalkNode): node i's children are 2i for `value >= threshold` and 2i + 1
// otherwise, so a step is index = 2 * index + (value < threshold), on keys.
// On x86-64 a step is four instructions: load the node's feature, load the
// row's key for it, CMP it with the node's threshold key (the carry flag is
// `value < threshold`, unsigned) and ADC index, index. Compilers write
// SETB, MOVZX and LEA for the last one, and recompute the node's address:
// eight instructions. The node's offset in the group is a constant
// displacement, so the only live values are the two base pointers and the
// kGroup positions (no per-tree pointer to reload). At the bottom, position
// p (in 2^kDepth .. 2^(kDepth+1) - 1) reads leaf slot p - 2^kDepth: the
// leaves are stored mirrored like a level, so the read is one load at a
// constant displacement.

// One step of a tree whose nodes start kFirstNode nodes past `nodes`:
// index = 2 * index + (row key < threshold key). kAssembly: the x86-64
// instructions above (only where they exist); else the C++ that says the
// same.
template <bool kAssembly, std::size_t kFirstNode>
[[gnu::always_inline]] inline void step(const WalkNode* nodes, const std::uint32_t* expanded,
                                        std::size_t& index) noexcept {
#if defined(__x86_64__)
  if constexpr (kAssembly) {
    constexpr std::size_t kBase = kFirstNode * sizeof(WalkNode);
    std::uint64_t key;
    asm("movl %c[feature](%[nodes],%[index],8), %k[key]\n\t"
        "movl (%[row],%[key],4), %k[key]\n\t"
        "cmpl %c[threshold](%[nodes],%[index],8), %k[key]\n\t"
        "adcq %[index], %[index]"
        : [index] "+r"(index), [key] "=&r"(key)
        : [nodes] "r"(nodes), [row] "r"(expanded),
          [feature] "i"(kBase + offsetof(WalkNode, feature)),
          [threshold] "i"(kBase + offsetof(WalkNode, threshold_key))
        : "cc", "memory");
    return;
  }
#endif
  const WalkNode& node = nodes[kFirstNode + index];
  index = 2 * index + static_cast<std::size_t>(expanded[node.feature] < node.threshold_key);
}

template <std::size_t kStride, bool kAssembly, std::size_t... kTrees>
[[gnu::always_inline]] inline void step_level(const WalkNode* nodes, const std::uint32_t* expanded,
                                              std::size_t* index,
                                              std::index_sequence<kTrees...>) noexcept {
  (step<kAssembly, kTrees * kStride>(nodes, expanded, index[kTrees]), ...);
}

// The group's leaves go to out[0 .. kGroup), or, kSum, are added to *sum one
// at a time in tree order (the margin then stays in a register: no store and
// reload per tree).
template <std::uint32_t kDepth, std::size_t kGroup, bool kAssembly, bool kSum>
inline void walk_group(const WalkNode* nodes, const float* leaves, const std::uint32_t* expanded,
                       float* out, float* sum) noexcept {
  constexpr std::size_t kStride = tree_stride(kDepth);
  constexpr std::size_t kLeaves = std::size_t{1} << kDepth;
  std::size_t index[kGroup];
#pragma GCC unroll 32
  for (std::size_t g = 0; g < kGroup; ++g) index[g] = 1;
#pragma GCC unroll 16
  for (std::uint32_t level = 0; level < kDepth; ++level) {
    step_level<kStride, kAssembly>(nodes, expanded, index, std::make_index_sequence<kGroup>());
  }
#pragma GCC unroll 32
  for (std::size_t g = 0; g < kGroup; ++g) {
    const float leaf = leaves[g * kStride + index[g] - kLeaves];
    if constexpr (kSum) {
      *sum += leaf;
    } else {
      out[g] = leaf;
    }
  }
}

// Trees in flight per lockstep group. Each step waits on two dependent loads,
// so more trees in flight hide more of them: 16 positions are more than
// x86-64's registers hold beside the base pointers (the compiler keeps a few
// on the stack), and still measured faster than 8 or 12 on one row of a
// 100-tree model; shallow trees have too few levels to hide more loads.
template <std::uint32_t kDepth>
constexpr std::size_t kRowGroup = 16;

template <std::uint32_t kDepth, bool kAssembly, bool kSum>
void walk_block(const ForestLayout& layout, const LayoutBlock& block,
                const std::uint32_t* expanded, float* out, float* sum) noexcept {
  constexpr std::size_t kStride = tree_stride(kDepth);
  constexpr std::size_t kGroup = kRowGroup<kDepth>;
  const WalkNode* nodes = layout.walk_nodes.data() + block.node_offset;
  const float* leaves = layout.leaves.data() + block.leaf_offset;
  std::size_t k = 0;
  for (; k + kGroup <= block.trees; k += kGroup) {
    walk_group<kDepth, kGroup, kAssembly, kSum>(nodes + k * kStride, leaves + k * kStride,
                                                expanded, out + k, sum);
  }
  for (; k + 4 <= block.trees; k += 4) {
    walk_group<kDepth, 4, kAssembly, kSum>(nodes + k * kStride, leaves + k * kStride, expanded,
                                           out + k, sum);
  }
  for (; k < block.trees; ++k) {
    walk_group<kDepth, 1, kAssembly, kSum>(nodes + k * kStride, leaves + k * kStride, expanded,
                                           out + k, sum);
  }
}

template <std::uint32_t kDepth, bool kAssembly>
void walk_row_at(const ForestLayout& layout, const LayoutBlock& block,
                 const std::uint32_t* expanded, float* out, float* margin) noexcept {
  if (margin == nullptr) {
    walk_block<kDepth, kAssembly, false>(layout, block, expanded, out, nullptr);
    return;
  }
  float sum = *margin;
  walk_block<kDepth, kAssembly, true>(layout, block, expanded, out, &sum);
  *margin = sum;
}

// The walks for every depth, with the assembly step or the C++ one.
template <bool kAssembly>
constexpr auto kRowWalks = []<std::uint32_t... kDepths>(
    std::integer_sequence<std::uint32_t, kDepths...>) {
  return std::array{&walk_row_at<kDepths, kAssembly>...};
}(std::make_integer_sequence<std::uint32_t, kMaxCompactDepth + 1>());

}  // namespace
}  // namespace baseline

void walk_row_scalar(const ForestLayout& layout, const LayoutBlock& block,
                     const std::uint32_t* expanded, float* leaves, float* margin) noexcept {
  baseline::kRowWalks<baseline::kHaveAssemblyStep>[block.depth](layout, block, expanded, leaves,
                                                                margin);
}

void walk_row_portable(const ForestLayout& layout, const LayoutBlock& block,
                       const std::uint32_t* expanded, float* leaves, float* margin) noexcept {
  baseline::kRowWalks<false>[block.depth](layout, block, expanded, leaves, margin);
}

const ForestKernels kBaselineKernels{ForestIsa::kBaseline, &walk_row_scalar, &baseline::bin_tile,
                                     &baseline::walk_tiles, kBaselineTileMinRows};

}  // namespace inferloop::detail
