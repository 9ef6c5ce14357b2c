// libFuzzer target for the model admission gate (src/model/admission.hpp)
// and ForestModel's reader behind it: any bytes, read as JSON or UBJSON
// (sniffed like XGBoost: '{' then '"' or blank is JSON), must be admitted or
// refused with an inferloop::Error; never a crash, a bad read, a hang or a
// runaway allocation.
//
// An admitted model is then checked against what the gate promises every
// predictor (each tree's reachable nodes have in-range children and
// features, every tree_info below the output groups, one dart weight per
// tree, each vector leaf's own vector inside leaf_weights), since
// libxgboost relies on those promises without checking; a broken promise
// traps. It is then laid out for ForestPredictor (or refused
// for it with an Error) and a forest that builds is evaluated on two rows by
// every kernel set this CPU runs, with the row walk and with the tile walk
// (bins, padded blocks), so the walks' safety is fuzzed too. Build and run: see docs/fuzzing.md.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "forest/forest_model.hpp"
#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "model/admission.hpp"

namespace {

using inferloop::detail::AdmittedModel;
using inferloop::detail::AdmittedTree;

inferloop::ModelFormat sniff(std::span<const std::uint8_t> bytes) {
  const bool json = bytes.size() >= 2 && bytes[0] == '{' &&
                    (bytes[1] == '"' || bytes[1] == ' ' || bytes[1] == '\n' ||
                     bytes[1] == '\t' || bytes[1] == '\r' || bytes[1] == '}');
  return json ? inferloop::ModelFormat::kJson : inferloop::ModelFormat::kUbjson;
}

void require(bool promise) {
  if (!promise) __builtin_trap();
}

// What admission.hpp promises about an admitted model.
void check_promises(const AdmittedModel& model) {
  require(model.num_features >= 1 && model.num_groups >= 1);
  require(model.base_score.size() == 1 || model.base_score.size() == model.num_groups);
  if (model.booster == inferloop::detail::BoosterKind::kGblinear) return;
  require(model.tree_group.size() == model.trees.size());
  for (const std::uint32_t group : model.tree_group) require(group < model.num_groups);
  if (model.booster == inferloop::detail::BoosterKind::kDart) {
    require(model.tree_weight.size() == model.trees.size());
  }
  // Vector leaves: every tree has them or none; one value per output; no dart.
  require(model.leaf_size == 1 || model.leaf_size == model.num_groups);
  require(model.leaf_size == 1 || model.booster != inferloop::detail::BoosterKind::kDart);
  for (const AdmittedTree& tree : model.trees) {
    const std::size_t size = tree.nodes.size();
    require(size >= 1);
    require(tree.leaf_size == model.leaf_size);
    require(tree.leaf_size == 1 || tree.leaf_vectors.size() % tree.leaf_size == 0);
    const std::size_t vectors = tree.leaf_size == 1 ? 0 : tree.leaf_vectors.size() / tree.leaf_size;
    std::vector<bool> vector_owned(vectors, false);
    require(tree.category_begin.empty() || tree.category_begin.size() == size + 1);
    // Each node is reached once, so a walk from the root visits at most
    // `size` nodes; a longer one is a cycle the gate let through.
    std::vector<std::size_t> pending{0};
    std::size_t visited = 0;
    while (!pending.empty()) {
      const AdmittedTree::Node& node = tree.nodes[pending.back()];
      pending.pop_back();
      require(++visited <= size);
      if (node.left == -1 && tree.leaf_size > 1) {
        // A vector leaf's vector lies in leaf_vectors and is its own.
        require(node.right >= 0 && static_cast<std::size_t>(node.right) < vectors);
        require(!vector_owned[static_cast<std::size_t>(node.right)]);
        vector_owned[static_cast<std::size_t>(node.right)] = true;
      }
      if (node.left == -1) continue;
      require(node.left > 0 && static_cast<std::size_t>(node.left) < size);
      require(node.right > 0 && static_cast<std::size_t>(node.right) < size);
      require(node.feature < model.num_features);
      pending.push_back(static_cast<std::size_t>(node.left));
      pending.push_back(static_cast<std::size_t>(node.right));
    }
  }
}

void evaluate(const inferloop::ForestModel& model) {
  // Wide models are valid, but a row of millions of features is not worth
  // allocating on every input.
  if (model.num_features() > (1u << 16)) return;
  const std::size_t rows = 2;
  std::vector<float> features(rows * model.num_features(), std::numeric_limits<float>::quiet_NaN());
  for (std::size_t i = model.num_features(); i < features.size(); ++i) {
    features[i] = static_cast<float>(static_cast<int>(i % 7) - 2) * 0.75F;
  }
  for (const inferloop::detail::ForestIsa isa : inferloop::detail::supported_forest_isas()) {
    for (const auto walks : {inferloop::detail::ForestWalks::kBySize,
                             inferloop::detail::ForestWalks::kTileEveryBatch,
                             inferloop::detail::ForestWalks::kPortableRowWalk}) {
      const inferloop::ForestModel on_isa =
          inferloop::detail::ForestModelAccess::with_isa(model, isa, walks);
      for (const auto kind : {inferloop::OutputKind::kMargin, inferloop::OutputKind::kTransformed}) {
        std::vector<float> out(rows * on_isa.num_outputs(kind));
        on_isa.predict(features, rows, out, kind);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  std::shared_ptr<const AdmittedModel> admitted;
  try {
    admitted = inferloop::detail::admit_model(std::vector<std::uint8_t>(bytes.begin(), bytes.end()),
                                              sniff(bytes), "fuzz-input");
  } catch (const inferloop::Error&) {
    return 0;  // the expected outcome for almost every mutated input
  }
  check_promises(*admitted);
  try {
    evaluate(inferloop::detail::ForestModelAccess::make(inferloop::detail::build_forest(*admitted)));
  } catch (const inferloop::Error&) {
    // Valid, but not one ForestPredictor reproduces exactly (gblinear, aft, ...).
  }
  return 0;
}
