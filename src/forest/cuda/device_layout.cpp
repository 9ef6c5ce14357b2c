// DeviceLayout from the reader's detail::Forest (see device_layout.hpp).
#include "forest/cuda/device_layout.hpp"

#include "forest/forest_model.hpp"

namespace inferloop::detail::gpu {
namespace {

Transform transform_of(ForestTransform transform) {
  switch (transform) {
    case ForestTransform::kIdentity:
      return Transform::kIdentity;
    case ForestTransform::kSigmoid:
      return Transform::kSigmoid;
    case ForestTransform::kExp:
      return Transform::kExp;
    case ForestTransform::kSoftmax:
      return Transform::kSoftmax;
    case ForestTransform::kArgmax:
      return Transform::kArgmax;
    case ForestTransform::kHinge:
      return Transform::kHinge;
  }
  return Transform::kIdentity;
}

}  // namespace

ForestView DeviceLayout::view() const noexcept {
  return ForestView{nodes.data(),
                    tree_root.data(),
                    tree_group.data(),
                    category_ranges.data(),
                    category_values.data(),
                    base_margin.data(),
                    static_cast<std::uint32_t>(tree_root.size()),
                    num_groups,
                    num_features,
                    transform};
}

std::size_t DeviceLayout::device_bytes() const noexcept {
  return nodes.size() * sizeof(DeviceNode) + tree_root.size() * sizeof(std::uint32_t) +
         tree_group.size() * sizeof(std::uint32_t) +
         category_ranges.size() * sizeof(CategoryRange) +
         category_values.size() * sizeof(std::int32_t) + base_margin.size() * sizeof(float);
}

DeviceLayout build_device_layout(const Forest& forest) {
  DeviceLayout layout;
  layout.source_name = forest.source_name;
  // The reader bounds these: num_feature <= 2^22, output groups <= 2^16,
  // nodes < 2^31 (its 32-bit layout), so every narrowing below is exact.
  layout.num_features = static_cast<std::uint32_t>(forest.num_features);
  layout.num_groups = static_cast<std::uint32_t>(forest.num_groups);
  layout.transform = transform_of(forest.transform);
  layout.base_margin = forest.base_margin;
  layout.tree_root = forest.tree_root;
  layout.tree_group = forest.tree_group;
  layout.category_values = forest.category_values;
  layout.nodes.resize(forest.nodes.size());
  for (std::size_t i = 0; i < forest.nodes.size(); ++i) {
    const ForestNode& node = forest.nodes[i];
    DeviceNode& out = layout.nodes[i];
    if (node.left == i) {  // the reader's leaf: a node that stays put
      out = DeviceNode{kLeaf, forest.leaf_values[i], 0, 0};
      continue;
    }
    std::uint32_t meta = node.meta & kFeatureMask;
    if ((node.meta & kMissingRightBit) != 0) meta |= kMissingRight;
    out = DeviceNode{meta, node.threshold, node.left, 0};
    if ((node.meta & kCategoricalBit) != 0) {
      const Forest::CategoryRange range = forest.category_ranges[i];
      out.meta |= kCategorical;
      out.category_range = static_cast<std::uint32_t>(layout.category_ranges.size());
      layout.category_ranges.push_back(CategoryRange{range.begin, range.end});
    }
  }
  return layout;
}

}  // namespace inferloop::detail::gpu
