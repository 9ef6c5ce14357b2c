// DeviceLayout: the GPU evaluator's layout of a tree ensemble, built on the
// host from the reader's detail::Forest and copied as is to a device (or
// read in place by the host reference).
//
// It depends only on the reader's general node arrays (nodes, leaf_values,
// tree_root, tree_group, the category lists, base_margin), never on the CPU
// evaluator's own layouts, so the CPU path can change its layout freely.
//
// Layout: the reader's node order is kept (children adjacent, right = left
// + 1) in 16-byte nodes that carry the leaf value in place of a threshold, so
// a step is one load and needs no second array; categorical splits point at
// their sorted category run.
//
// Thread safety: immutable once built; view() may be read by any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "forest/cuda/device_forest.hpp"

namespace inferloop::detail {

struct Forest;

namespace gpu {

struct DeviceLayout {
  std::vector<DeviceNode> nodes;
  std::vector<std::uint32_t> tree_root;
  std::vector<std::uint32_t> tree_group;
  std::vector<CategoryRange> category_ranges;
  std::vector<std::int32_t> category_values;
  std::vector<float> base_margin;
  std::uint32_t num_features = 0;
  std::uint32_t num_groups = 1;
  Transform transform = Transform::kIdentity;
  std::string source_name;  // the model file, for messages

  // The layout in place (host memory).
  [[nodiscard]] ForestView view() const noexcept;
  // Bytes the layout takes on a device.
  [[nodiscard]] std::size_t device_bytes() const noexcept;
};

// How a batch is spread over the GPU's threads (the host reference runs the
// same two orders, so both are tested without a GPU):
//   kRowParallel   one thread per row walks every tree and sums as it goes;
//   kTreeParallel  one thread per (tree, row) writes the leaf, then one
//                  thread per row sums that row's leaves in tree order.
// kAuto takes kTreeParallel for batches too small to fill the GPU with rows.
enum class Strategy { kAuto, kRowParallel, kTreeParallel };

// The layout of a forest the reader built (so already admitted and refused
// where ForestPredictor cannot reproduce it). Never fails for such a forest.
[[nodiscard]] DeviceLayout build_device_layout(const Forest& forest);

}  // namespace gpu
}  // namespace inferloop::detail
