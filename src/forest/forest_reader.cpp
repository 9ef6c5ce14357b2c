// ForestModel's reader: a model the admission gate validated
// (src/model/admission.hpp) -> detail::Forest, the flat layout the
// evaluator walks.
//
// The gate has already checked the structure every predictor relies on
// (child and feature indices, counts, categories); what is left here is what
// only ForestPredictor cannot do: reproduce an objective, a booster or a
// base_score exactly. Those refusals say why and point at XGBoostPredictor,
// which serves the same validated model through libxgboost.
//
// How the objective's base_score becomes a margin, and which transform the
// objective applies, follow XGBoost's objectives (ProbToMargin, PredTransform);
// the agreement tests check each one against xgboost's own predictions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "forest/forest_model.hpp"
#include "inferloop/error.hpp"
#include "model/admission.hpp"
#include "model/model_document.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

struct SupportedObjective {
  std::string_view name;
  ForestTransform transform;
  enum class Link { kIdentity, kLogit, kLog } link;
};

// ProbToMargin and PredTransform of each objective, as in XGBoost's
// src/objective/ (regression_loss.h, multiclass_obj.cu, rank_obj, hinge.cu).
// Each one here is proven by an agreement test against xgboost.
//
// survival:aft is refused: its transform is an unqualified exp() whose
// precision depends on how xgboost was compiled (float expf in the 1.7.4
// wheel, double exp rounded to float in 3.2.0; both were measured), so no
// single formula reproduces every version.
constexpr SupportedObjective kObjectives[] = {
    {"reg:squarederror", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"reg:linear", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"reg:squaredlogerror", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"reg:pseudohubererror", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"reg:absoluteerror", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"reg:quantileerror", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"reg:logistic", ForestTransform::kSigmoid, SupportedObjective::Link::kLogit},
    {"binary:logistic", ForestTransform::kSigmoid, SupportedObjective::Link::kLogit},
    // logitraw takes base_score as a margin as is (checked against xgboost 1.7 and 3.2).
    {"binary:logitraw", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"binary:hinge", ForestTransform::kHinge, SupportedObjective::Link::kIdentity},
    {"count:poisson", ForestTransform::kExp, SupportedObjective::Link::kLog},
    {"reg:gamma", ForestTransform::kExp, SupportedObjective::Link::kLog},
    {"reg:tweedie", ForestTransform::kExp, SupportedObjective::Link::kLog},
    {"survival:cox", ForestTransform::kExp, SupportedObjective::Link::kLog},
    {"multi:softprob", ForestTransform::kSoftmax, SupportedObjective::Link::kIdentity},
    {"multi:softmax", ForestTransform::kArgmax, SupportedObjective::Link::kIdentity},
    {"rank:pairwise", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"rank:ndcg", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
    {"rank:map", ForestTransform::kIdentity, SupportedObjective::Link::kIdentity},
};

const SupportedObjective& supported_objective(const DocumentReader& reader,
                                              const std::string& name) {
  for (const auto& candidate : kObjectives) {
    if (candidate.name == name) return candidate;
  }
  if (name == "survival:aft") {
    reader.fail("learner.objective.name",
                "objective \"survival:aft\" is not one ForestPredictor can reproduce exactly "
                "(xgboost's exp() for it rounds differently from one xgboost build to the next); "
                "use XGBoostPredictor for this model");
  }
  std::string known;
  for (const auto& candidate : kObjectives) {
    known += (known.empty() ? "" : ", ") + std::string(candidate.name);
  }
  reader.fail("learner.objective.name",
              "objective " + quote(name) + " is not one ForestPredictor can reproduce exactly "
              "(supported: " + known + "); use XGBoostPredictor for this model");
}

float base_margin_of(const DocumentReader& reader, const SupportedObjective& objective,
                     float base_score) {
  const std::string where = "learner.learner_model_param.base_score";
  switch (objective.link) {
    case SupportedObjective::Link::kIdentity:
      return base_score;
    case SupportedObjective::Link::kLogit:
      if (!(base_score > 0.0F && base_score < 1.0F)) {
        reader.fail(where, "base_score " + std::to_string(base_score) + " of objective " +
                               std::string(objective.name) +
                               " must lie strictly between 0 and 1 (xgboost refuses it too)");
      }
      return -std::log(1.0F / base_score - 1.0F);
    case SupportedObjective::Link::kLog:
      if (!(base_score > 0.0F)) {
        reader.fail(where, "base_score " + std::to_string(base_score) + " of objective " +
                               std::string(objective.name) + " must be positive");
      }
      return std::log(base_score);
  }
  return base_score;
}

// Appends one admitted tree, re-laid out breadth-first so that both
// children of a node get adjacent slots, with its leaves' values for
// `output` (0 unless the tree has vector leaves). The gate guarantees that
// every node reached from the root is reached once with in-range children, a
// split feature below num_feature and (vector leaves) its own vector, so the
// walk here needs no checks.
void place_tree(const DocumentReader& reader, const AdmittedTree& tree, std::size_t output,
                const std::string& where, float weight, bool dart, Forest& forest) {
  if (forest.nodes.size() + tree.nodes.size() > std::numeric_limits<std::uint32_t>::max() / 2) {
    reader.fail(where, "the model has more nodes than ForestPredictor's 32-bit layout holds; "
                       "use XGBoostPredictor for this model");
  }
  const auto root = static_cast<std::uint32_t>(forest.nodes.size());
  std::vector<std::pair<std::int32_t, std::uint32_t>> queue{{0, root}};  // (model node, its slot)
  std::vector<std::uint32_t> depth_of_slot{0};
  forest.nodes.resize(forest.nodes.size() + 1);
  std::uint32_t tree_depth = 0;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const auto [id, slot] = queue[head];
    const AdmittedTree::Node& source = tree.nodes[static_cast<std::size_t>(id)];
    const std::uint32_t depth = depth_of_slot[slot - root];
    tree_depth = std::max(tree_depth, depth);
    if (source.left == -1) {
      // A leaf stays put: nothing is >= NaN, and missing goes left to itself.
      forest.nodes[slot] = ForestNode{0, std::numeric_limits<float>::quiet_NaN(), slot};
      // Dart scales each tree's output (0 + leaf) by its weight, in float32.
      forest.leaf_values.resize(forest.nodes.size());
      const float value = tree.leaf_value(source, output);
      forest.leaf_values[slot] = dart ? (0.0F + value) * weight : value;
      continue;
    }
    const auto first_child = static_cast<std::uint32_t>(forest.nodes.size());
    std::uint32_t meta = source.feature;
    if (!source.default_left) meta |= kMissingRightBit;
    float threshold = source.value;
    // XGBoost goes right iff !(value < threshold); with a NaN threshold that
    // is every present value, which ">= -inf" reproduces.
    if (std::isnan(threshold)) threshold = -std::numeric_limits<float>::infinity();
    if (source.categorical) {
      meta |= kCategoricalBit;
      forest.has_categorical = true;
      forest.category_ranges.resize(forest.nodes.size());
      Forest::CategoryRange range;
      range.begin = static_cast<std::uint32_t>(forest.category_values.size());
      if (!tree.category_begin.empty()) {
        const auto node = static_cast<std::size_t>(id);
        forest.category_values.insert(forest.category_values.end(),
                                      tree.categories.begin() + tree.category_begin[node],
                                      tree.categories.begin() + tree.category_begin[node + 1]);
      }
      range.end = static_cast<std::uint32_t>(forest.category_values.size());
      forest.category_ranges[slot] = range;
      threshold = std::numeric_limits<float>::quiet_NaN();  // never walked in lockstep
    }
    forest.nodes[slot] = ForestNode{meta, threshold, first_child};
    forest.nodes.resize(forest.nodes.size() + 2);
    depth_of_slot.resize(forest.nodes.size() - root, depth + 1);
    queue.emplace_back(source.left, first_child);
    queue.emplace_back(source.right, first_child + 1);
  }
  forest.leaf_values.resize(forest.nodes.size());
  if (forest.has_categorical) forest.category_ranges.resize(forest.nodes.size());
  forest.tree_root.push_back(root);
  forest.tree_depth.push_back(tree_depth);
}

}  // namespace

std::shared_ptr<const Forest> build_forest(const AdmittedModel& model) {
  const DocumentReader reader(model.source_name);
  if (model.lightgbm) {
    reader.fail("", "a LightGBM model, which ForestModel (XGBoost) does not read; load it with "
                    "inferloop::LightGBMModel::load (predictor_class_name: ForestPredictor serves "
                    "both)");
  }
  if (model.booster == BoosterKind::kGblinear) {
    reader.fail("learner.gradient_booster.name",
                "booster \"gblinear\" is not a tree ensemble; ForestPredictor evaluates gbtree "
                "and dart models (use XGBoostPredictor for gblinear)");
  }
  const SupportedObjective& objective = supported_objective(reader, model.objective);
  auto forest = std::make_shared<Forest>();
  forest->source_name = model.source_name;
  forest->saved_by_version = model.saved_by_version;
  forest->num_features = model.num_features;
  forest->num_groups = model.num_groups;
  forest->objective = model.objective;
  forest->feature_names = model.feature_names;
  forest->transform = objective.transform;
  if ((objective.transform == ForestTransform::kSoftmax ||
       objective.transform == ForestTransform::kArgmax) && model.num_class < 1) {
    reader.fail("learner.learner_model_param.num_class",
                model.objective + " needs num_class >= 1; " + std::string(kResaveHint));
  }
  for (std::size_t group = 0; group < model.num_groups; ++group) {
    const float score = model.base_score[model.base_score.size() == 1 ? 0 : group];
    forest->base_margin.push_back(base_margin_of(reader, objective, score));
  }

  const bool dart = model.booster == BoosterKind::kDart;
  const std::string model_where =
      dart ? "learner.gradient_booster.gbtree.model" : "learner.gradient_booster.model";
  // A vector-leaf tree adds to every output: laid out once per output
  // (forest_model.hpp), its tree_info is not used, as libxgboost does not.
  forest->layouts_per_tree = model.leaf_size;
  for (std::size_t t = 0; t < model.trees.size(); ++t) {
    for (std::size_t output = 0; output < model.leaf_size; ++output) {
      place_tree(reader, model.trees[t], output,
                 model_where + ".trees[" + std::to_string(t) + "]",
                 dart ? model.tree_weight[t] : 1.0F, dart, *forest);
      forest->tree_group.push_back(model.leaf_size > 1 ? static_cast<std::uint32_t>(output)
                                                       : model.tree_group[t]);
    }
  }
  const std::size_t laid_out = forest->tree_root.size();
  for (std::size_t first = 0; first < laid_out; first += kTreeBlock) {
    const std::size_t last = std::min(laid_out, first + kTreeBlock);
    forest->block_depth.push_back(*std::max_element(forest->tree_depth.begin() + first,
                                                    forest->tree_depth.begin() + last));
  }
  return forest;
}

std::shared_ptr<const Forest> read_forest(std::span<const std::uint8_t> bytes, ModelFormat format,
                                          std::string_view source_name) {
  const auto admitted =
      admit_model(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), format, source_name);
  return build_forest(*admitted);
}

}  // namespace inferloop::detail
