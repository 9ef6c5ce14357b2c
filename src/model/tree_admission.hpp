// One tree through the model admission gate (admission.hpp): the checks
// that make a tree of an XGBoost JSON/UBJSON model safe for libxgboost's
// loader and predictors and for ForestModel's layout, and its validated
// form (AdmittedTree). Split from admission.cpp, which checks the model
// around the trees.
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/admission.hpp"
#include "model/model_document.hpp"

namespace inferloop::detail {

// What a refusal of vector leaves says to do.
inline constexpr std::string_view kVectorLeafHint =
    "train with the default multi_strategy=\"one_output_per_tree\" (one tree per output), "
    "which every predictor serves";

// libxgboost stores each categorical split as a bitset up to its largest
// category, so one small number in the file can cost it 2 MiB. The bitsets
// of a model may total this much plus kBitsetBytesPerFileByte per byte of
// file (a real model's are a small fraction of that).
inline constexpr std::uint64_t kBitsetBaseBytes = std::uint64_t{16} << 20;
inline constexpr std::uint64_t kBitsetBytesPerFileByte = 16;

// What admit_tree() needs to know of the model around the tree.
struct TreeContext {
  std::size_t num_features = 0;
  std::size_t num_groups = 1;  // outputs per row: a vector leaf must have exactly this many
  // Bitset bytes the model's categorical splits may still cost libxgboost;
  // admit_tree() takes its tree's share.
  std::uint64_t bitset_budget = 0;
};

// Tree `index` at key path `where` (learner.gradient_booster.model.trees[3]).
// Throws through `reader` when the tree is not a tree libxgboost can load
// and walk safely.
[[nodiscard]] AdmittedTree admit_tree(const DocumentReader& reader, const nlohmann::json& tree,
                                      const std::string& where, std::size_t index,
                                      TreeContext& context);

}  // namespace inferloop::detail
