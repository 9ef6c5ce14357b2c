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
    "train with the default multi_strategy=\"one_output_per_tree\", which both predictors serve";

// libxgboost stores each categorical split as a bitset up to its largest
// category, so one small number in the file can cost it 2 MiB. The bitsets
// of a model may total this much plus kBitsetBytesPerFileByte per byte of
// file (a real model's are a small fraction of that).
inline constexpr std::uint64_t kBitsetBaseBytes = std::uint64_t{16} << 20;
inline constexpr std::uint64_t kBitsetBytesPerFileByte = 16;

// Tree `index` of a model with `num_features` features, at key path `where`
// (learner.gradient_booster.model.trees[3]). Throws through `reader` when
// the tree is not a tree libxgboost can load and walk safely; takes the
// bitsets its categorical splits would cost libxgboost from `bitset_budget`.
[[nodiscard]] AdmittedTree admit_tree(const DocumentReader& reader, const nlohmann::json& tree,
                                      const std::string& where, std::size_t index,
                                      std::size_t num_features, std::uint64_t& bitset_budget);

}  // namespace inferloop::detail
