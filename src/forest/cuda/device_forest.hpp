// The GPU evaluator's view of a tree ensemble, and the arithmetic every path
// of it runs: one tree walk, the ordered sum of a row's leaves and XGBoost's
// transforms, written once as __host__ __device__ functions.
//
// Who includes it: the CUDA kernels (cuda_evaluator.cu, compiled by nvcc) and
// the host reference (host_reference.cpp, compiled by the C++ compiler). Both
// call the very same functions, so CI, which has no GPU, tests the kernel's
// arithmetic on the CPU: the host reference is proven bit-exact with
// ForestModel and with xgboost on the agreement models (tests/forest).
//
// Why the results equal XGBoost's CPU predictor bit for bit (docs/gpu.md,
// "The CUDA evaluator"):
//   - a split is XGBoost's: a NaN takes the node's default child, a
//     categorical split sends the node's categories right, and otherwise a
//     value goes right iff !(value < threshold);
//   - each output starts at its base margin and every tree's leaf is added
//     in tree order, in float32 (trees may be walked in any order or in
//     parallel; only the sum is ordered);
//   - the transforms are XGBoost's formulas, and exp is glibc's expf
//     algorithm (xgboost_expf below), not CUDA's expf, which may differ in
//     the last bits;
//   - every rounding step is spelled out (the *_rn helpers): on the device
//     they are CUDA's round-to-nearest intrinsics, which are never contracted
//     into FMAs whatever the flags; where glibc's expf uses an FMA, so does
//     this code, explicitly.
//
// Thread safety: pure functions over immutable data.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define INFERLOOP_HOST_DEVICE __host__ __device__
#else
#define INFERLOOP_HOST_DEVICE
#endif

namespace inferloop::detail::gpu {

// A node, 16 bytes: one vector load on the device.
struct DeviceNode {
  std::uint32_t meta;            // feature index | kCategorical | kMissingRight | kLeaf
  float value;                   // the split threshold, or the leaf value (dart weight applied)
  std::uint32_t left;            // the left child's index in the node array; right = left + 1
  std::uint32_t category_range;  // categorical splits: index into ForestView::category_ranges
};
static_assert(sizeof(DeviceNode) == 16, "four words: one 16-byte load per node");

inline constexpr std::uint32_t kFeatureMask = (1u << 29) - 1;
inline constexpr std::uint32_t kCategorical = 1u << 29;
inline constexpr std::uint32_t kMissingRight = 1u << 30;
inline constexpr std::uint32_t kLeaf = 1u << 31;

// The categories that go right at a categorical split, sorted:
// ForestView::category_values[begin, end).
struct CategoryRange {
  std::uint32_t begin;
  std::uint32_t end;
};

// What the objective does to the margins (the transformed output).
enum class Transform : std::uint32_t {
  kIdentity,  // regression, rank:*, binary:logitraw
  kSigmoid,   // binary:logistic, reg:logistic
  kExp,       // count:poisson, reg:gamma, reg:tweedie, survival:cox
  kSoftmax,   // multi:softprob
  kArgmax,    // multi:softmax: one output, the first largest margin's index
  kHinge,     // binary:hinge
};

// Raw pointers into one copy of the layout: host memory for the host
// reference, device memory for the kernels.
struct ForestView {
  const DeviceNode* nodes;
  const std::uint32_t* tree_root;   // per tree
  const std::uint32_t* tree_group;  // per tree: its output group (tree_info)
  const CategoryRange* category_ranges;
  const std::int32_t* category_values;
  const float* base_margin;  // per group, already a margin
  std::uint32_t num_trees;
  std::uint32_t num_groups;
  std::uint32_t num_features;
  Transform transform;
};

// ---- rounding spelled out --------------------------------------------------

INFERLOOP_HOST_DEVICE inline float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

INFERLOOP_HOST_DEVICE inline float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

INFERLOOP_HOST_DEVICE inline double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

INFERLOOP_HOST_DEVICE inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// a * b + c rounded once, on the host too (std::fma is exact in software
// where the CPU has no FMA instruction).
INFERLOOP_HOST_DEVICE inline double fma_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return __builtin_fma(a, b, c);
#endif
}

INFERLOOP_HOST_DEVICE inline std::uint32_t bits_of(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

INFERLOOP_HOST_DEVICE inline std::uint64_t bits_of(double value) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint64_t>(__double_as_longlong(value));
#else
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

INFERLOOP_HOST_DEVICE inline double double_from_bits(std::uint64_t bits) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

INFERLOOP_HOST_DEVICE inline float float_from_bits(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

INFERLOOP_HOST_DEVICE inline bool is_nan(float value) { return value != value; }

// ---- the walk -----------------------------------------------------------------

// XGBoost's common::Decision for a present value: a category in the node's
// set goes right; a negative, too large (>= 2^24) or absent category goes
// left; a fractional value is truncated to its category, as XGBoost's AsCat.
INFERLOOP_HOST_DEVICE inline bool category_goes_right(const ForestView& forest,
                                                      std::uint32_t range_index, float value) {
  if (value < 0.0F || value >= 16777216.0F) return false;
  const auto category = static_cast<std::int32_t>(value);
  const CategoryRange range = forest.category_ranges[range_index];
  std::uint32_t low = range.begin;
  std::uint32_t high = range.end;
  while (low < high) {  // lower bound
    const std::uint32_t middle = low + (high - low) / 2;
    if (forest.category_values[middle] < category) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low < range.end && forest.category_values[low] == category;
}

// The leaf value tree `tree` gives the row `row` (num_features floats, NaN
// is missing). The admission gate guarantees the walk ends: every node is
// reached once from the root, children in range.
INFERLOOP_HOST_DEVICE inline float tree_leaf(const ForestView& forest, std::uint32_t tree,
                                             const float* row) {
  DeviceNode node = forest.nodes[forest.tree_root[tree]];
  while ((node.meta & kLeaf) == 0) {
    const float value = row[node.meta & kFeatureMask];
    bool right;
    if (is_nan(value)) {
      right = (node.meta & kMissingRight) != 0;
    } else if ((node.meta & kCategorical) != 0) {
      right = category_goes_right(forest, node.category_range, value);
    } else {
      right = !(value < node.value);
    }
    node = forest.nodes[node.left + (right ? 1u : 0u)];
  }
  return node.value;
}

// One row's margins (num_groups floats): each group's base margin, plus
// every tree's leaf in tree order. `leaf_of(t)` is tree t's leaf for this
// row, walked now (tree_leaf) or earlier (the tree-parallel kernel).
template <class LeafOf>
INFERLOOP_HOST_DEVICE inline void sum_leaves_in_tree_order(const ForestView& forest,
                                                           LeafOf&& leaf_of, float* margins) {
  if (forest.num_groups == 1) {
    float margin = forest.base_margin[0];  // in a register, not memory
    for (std::uint32_t tree = 0; tree < forest.num_trees; ++tree) {
      margin = add_rn(margin, leaf_of(tree));
    }
    margins[0] = margin;
    return;
  }
  for (std::uint32_t group = 0; group < forest.num_groups; ++group) {
    margins[group] = forest.base_margin[group];
  }
  for (std::uint32_t tree = 0; tree < forest.num_trees; ++tree) {
    const std::uint32_t group = forest.tree_group[tree];
    margins[group] = add_rn(margins[group], leaf_of(tree));
  }
}

// ---- transforms ----------------------------------------------------------------

// glibc's expf (the algorithm of sysdeps/ieee754/flt-32/e_expf.c, from Arm's
// optimized-routines: a 32-entry table of 2^(i/32) and a cubic in double),
// in its x86-64 FMA build, which is what xgboost's std::exp(float) runs on
// a CPU with FMA. Proven equal to this machine's expf for every one of the
// 2^32 floats (docs/gpu.md); CUDA's own expf is documented to within 2 ulp,
// so it may differ in the last bits, and XGBoost's transforms run on glibc.
INFERLOOP_HOST_DEVICE inline float xgboost_expf(float x) {
  // tab[i] = bits of 2^(i/32) - (i << 47): 2^(k/32) is tab[k % 32] + (k << 47).
  const std::uint64_t table[32] = {
      0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
      0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
      0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
      0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
      0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
      0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
      0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
      0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540};
  constexpr double kInvLn2TimesN = 0x1.71547652b82fep+0 * 32;
  constexpr double kShift = 0x1.8p+52;  // rounds to an integer when added
  constexpr double kC0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32;
  constexpr double kC1 = 0x1.ebfce50fac4f3p-3 / 32 / 32;
  constexpr double kC2 = 0x1.62e42ff0c52d6p-1 / 32;

  const std::uint32_t bits = bits_of(x);
  const std::uint32_t abs_top = (bits >> 20) & 0x7ff;
  if (abs_top >= (0x42b00000u >> 20)) {         // |x| >= 88, or NaN
    if (bits == 0xff800000u) return 0.0F;       // -inf
    if (abs_top >= (0x7f800000u >> 20)) return add_rn(x, x);  // +inf or NaN
    if (x > 0x1.62e42ep6f) return float_from_bits(0x7f800000u);  // overflows to +inf
    if (x < -0x1.9fe368p6f) return 0.0F;        // underflows
  }
  const double xd = x;
  // x * 32 / ln2 = k + r, r in [-1/2, 1/2]; the FMA build fuses the shift in.
  double kd = fma_rn(kInvLn2TimesN, xd, kShift);
  const std::uint64_t ki = bits_of(kd);
  kd = add_rn(kd, -kShift);
  const double r = fma_rn(kInvLn2TimesN, xd, -kd);
  const double s = double_from_bits(table[ki % 32] + (ki << 47));
  // exp(x) = 2^(k/32) * 2^(r/32) ~= s * (C0 r^3 + C1 r^2 + C2 r + 1)
  const double z = fma_rn(kC0, r, kC1);
  const double r2 = mul_rn(r, r);
  double y = fma_rn(kC2, r, 1.0);
  y = fma_rn(z, r2, y);
  y = mul_rn(y, s);
  return static_cast<float>(y);
}

// XGBoost's common::Sigmoid (float), identical in 1.7 and 3.x:
// 1 / (exp(min(-margin, 88.7)) + 1 + 1e-16), in float.
INFERLOOP_HOST_DEVICE inline float xgboost_sigmoid(float margin) {
  const float negated = -margin;
  const float x = (88.7F < negated) ? 88.7F : negated;  // std::min's order: NaN stays
  return div_rn(1.0F, add_rn(add_rn(xgboost_expf(x), 1.0F), 1e-16F));
}

// Writes the transformed outputs of one row from its margins. `out` may be
// `margins` (in place) except for kArgmax, whose one output is the index of
// the first largest margin.
INFERLOOP_HOST_DEVICE inline void transform_row(const ForestView& forest, float* margins,
                                                float* out) {
  const std::uint32_t groups = forest.num_groups;
  switch (forest.transform) {
    case Transform::kIdentity:
      for (std::uint32_t g = 0; g < groups; ++g) out[g] = margins[g];
      return;
    case Transform::kSigmoid:
      for (std::uint32_t g = 0; g < groups; ++g) out[g] = xgboost_sigmoid(margins[g]);
      return;
    case Transform::kExp:
      for (std::uint32_t g = 0; g < groups; ++g) out[g] = xgboost_expf(margins[g]);
      return;
    case Transform::kHinge:
      for (std::uint32_t g = 0; g < groups; ++g) out[g] = margins[g] > 0.0F ? 1.0F : 0.0F;
      return;
    case Transform::kSoftmax: {
      // XGBoost's common::Softmax: subtract the max (fmax), exp in float,
      // sum in double, divide by the sum rounded to float.
      float largest = margins[0];
      for (std::uint32_t g = 1; g < groups; ++g) largest = fmaxf(margins[g], largest);
      double sum = 0.0;
      for (std::uint32_t g = 0; g < groups; ++g) {
        out[g] = xgboost_expf(add_rn(margins[g], -largest));
        sum = add_rn(sum, static_cast<double>(out[g]));
      }
      const auto divisor = static_cast<float>(sum);
      for (std::uint32_t g = 0; g < groups; ++g) out[g] = div_rn(out[g], divisor);
      return;
    }
    case Transform::kArgmax: {
      // std::max_element: the first index whose value nothing later exceeds.
      std::uint32_t best = 0;
      for (std::uint32_t g = 1; g < groups; ++g) {
        if (margins[best] < margins[g]) best = g;
      }
      out[0] = static_cast<float>(best);
      return;
    }
  }
}

// Outputs per row: num_groups, or 1 for multi:softmax's transformed output.
INFERLOOP_HOST_DEVICE inline std::uint32_t outputs_per_row(const ForestView& forest,
                                                           bool transformed) {
  return transformed && forest.transform == Transform::kArgmax ? 1u : forest.num_groups;
}

}  // namespace inferloop::detail::gpu
