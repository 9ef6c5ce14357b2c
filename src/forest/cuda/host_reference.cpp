// The CUDA evaluator's host reference (see host_reference.hpp). Each loop
// body below is what one GPU thread does in cuda_evaluator.cu.
#include "forest/cuda/host_reference.hpp"

#include <vector>

namespace inferloop::detail::gpu {

void predict_on_host(const DeviceLayout& layout, std::span<const float> features, std::size_t rows,
                     std::span<float> out, bool transformed, Strategy strategy) {
  const ForestView forest = layout.view();
  const std::size_t width = forest.num_features;
  const std::size_t groups = forest.num_groups;
  const std::size_t per_row = outputs_per_row(forest, transformed);
  // multi:softmax's one output per row needs its margins elsewhere.
  const bool margins_apart = per_row != groups;
  std::vector<float> margins_scratch(margins_apart ? groups : 0);

  std::vector<float> leaves;  // kTreeParallel: leaves[tree * rows + row]
  if (strategy == Strategy::kTreeParallel) {
    leaves.resize(static_cast<std::size_t>(forest.num_trees) * rows);
    for (std::uint32_t tree = 0; tree < forest.num_trees; ++tree) {
      for (std::size_t row = 0; row < rows; ++row) {  // tree_leaves_kernel
        leaves[tree * rows + row] = tree_leaf(forest, tree, features.data() + row * width);
      }
    }
  }
  for (std::size_t row = 0; row < rows; ++row) {  // predict_rows_kernel / sum_leaves_kernel
    const float* features_of_row = features.data() + row * width;
    float* out_row = out.data() + row * per_row;
    float* margins = margins_apart ? margins_scratch.data() : out_row;
    if (strategy == Strategy::kTreeParallel) {
      sum_leaves_in_tree_order(
          forest, [&](std::uint32_t tree) { return leaves[tree * rows + row]; }, margins);
    } else {
      sum_leaves_in_tree_order(
          forest, [&](std::uint32_t tree) { return tree_leaf(forest, tree, features_of_row); },
          margins);
    }
    if (transformed) transform_row(forest, margins, out_row);
  }
}

}  // namespace inferloop::detail::gpu
