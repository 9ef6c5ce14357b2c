// The admission gate for LightGBM text models: see lightgbm_admission.hpp.
// The text is read as LightGBM's loader reads it (lightgbm_text.hpp); this
// file checks what the loader and lib_lightgbm's predictor would trust.
#include "model/lightgbm_admission.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "inferloop/error.hpp"
#include "model/admission.hpp"
#include "model/lightgbm_text.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

using Lines = std::map<std::string, LightGBMValue, std::less<>>;

constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();

const LightGBMValue& required(const LightGBMText& text, const Lines& lines, std::string_view key,
                              std::size_t offset, std::string_view where) {
  const auto found = lines.find(key);
  if (found == lines.end()) {
    text.malformed(offset, std::string(where) + " has no " + std::string(key) +
                               "= line, which LightGBM's loader needs");
  }
  return found->second;
}

const LightGBMValue* optional(const Lines& lines, std::string_view key) {
  const auto found = lines.find(key);
  return found == lines.end() ? nullptr : &found->second;
}

std::int64_t single_integer(const LightGBMText& text, const LightGBMValue& value,
                            const std::string& what, std::int64_t min, std::int64_t max) {
  return lightgbm_integer(text, value, value.text, what, min, max);
}

// ParseObjectiveAlias(), which LightGBM applies to the whole objective text.
std::string objective_alias(std::string_view text) {
  static constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"regression_l2", "regression"}, {"mean_squared_error", "regression"},
      {"mse", "regression"}, {"l2", "regression"}, {"l2_root", "regression"},
      {"root_mean_squared_error", "regression"}, {"rmse", "regression"},
      {"mean_absolute_error", "regression_l1"}, {"l1", "regression_l1"},
      {"mae", "regression_l1"}, {"softmax", "multiclass"}, {"multiclass_ova", "multiclassova"},
      {"ova", "multiclassova"}, {"ovr", "multiclassova"}, {"xentropy", "cross_entropy"},
      {"xentlambda", "cross_entropy_lambda"}, {"mean_absolute_percentage_error", "mape"},
      {"xendcg", "rank_xendcg"}, {"xe_ndcg", "rank_xendcg"}, {"xe_ndcg_mart", "rank_xendcg"},
      {"xendcg_mart", "rank_xendcg"}, {"none", "custom"}, {"null", "custom"}, {"na", "custom"},
  };
  for (const auto& [alias, name] : kAliases) {
    if (text == alias) return std::string(name);
  }
  return std::string(text);
}

// ObjectiveFunction::CreateObjectiveFunction(string) and the string
// constructors of each objective: which transform, and its parameters.
LightGBMObjective read_objective(const LightGBMText& text, const LightGBMValue& value,
                                 std::size_t num_class) {
  static constexpr std::pair<std::string_view, LightGBMObjectiveKind> kKinds[] = {
      {"regression", LightGBMObjectiveKind::kRegression},
      {"regression_l1", LightGBMObjectiveKind::kRegression},
      {"fair", LightGBMObjectiveKind::kRegression},
      {"quantile", LightGBMObjectiveKind::kRegression},
      {"mape", LightGBMObjectiveKind::kRegression},
      {"huber", LightGBMObjectiveKind::kHuber},
      {"poisson", LightGBMObjectiveKind::kExponential},
      {"gamma", LightGBMObjectiveKind::kExponential},
      {"tweedie", LightGBMObjectiveKind::kExponential},
      {"binary", LightGBMObjectiveKind::kBinary},
      {"multiclass", LightGBMObjectiveKind::kMulticlass},
      {"multiclassova", LightGBMObjectiveKind::kMulticlassOva},
      {"cross_entropy", LightGBMObjectiveKind::kCrossEntropy},
      {"cross_entropy_lambda", LightGBMObjectiveKind::kCrossEntropyLambda},
      {"lambdarank", LightGBMObjectiveKind::kRanking},
      {"rank_xendcg", LightGBMObjectiveKind::kRanking},
      {"custom", LightGBMObjectiveKind::kNone},
  };
  const std::string aliased = objective_alias(value.text);
  const std::vector<std::string_view> tokens = lightgbm_tokens(aliased);
  if (tokens.empty()) text.malformed(value.offset, "objective= is empty");
  LightGBMObjective objective;
  const auto kind = std::find_if(std::begin(kKinds), std::end(kKinds),
                                 [&](const auto& entry) { return entry.first == tokens[0]; });
  if (kind == std::end(kKinds)) {
    std::string known;
    for (const auto& entry : kKinds) known += (known.empty() ? "" : ", ") + std::string(entry.first);
    text.fail(value.offset, "objective " + quote(tokens[0]) + " is not one LightGBM knows (" +
                                known + "); train the model with a LightGBM objective");
  }
  objective.kind = kind->second;
  objective.name = std::string(kind->first);
  if (objective.kind == LightGBMObjectiveKind::kNone) objective.name.clear();

  // Parameters: "sqrt", and "key:value" pieces (Split on ':' into exactly
  // two); LightGBM ignores any other token, and so does this.
  bool has_sigmoid = false;
  std::int64_t objective_classes = -1;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    if (tokens[i] == "sqrt") objective.sqrt = true;
    const std::size_t colon = tokens[i].find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == tokens[i].size() ||
        tokens[i].find(':', colon + 1) != std::string_view::npos) {
      continue;
    }
    const std::string_view key = tokens[i].substr(0, colon);
    const std::string_view number = tokens[i].substr(colon + 1);
    if (key == "sigmoid") {
      const std::optional<double> sigmoid = lightgbm_atof(number);
      if (!sigmoid) {
        text.malformed(value.offset, "objective sigmoid " + quote(number) +
                                         " is not a plain decimal number");
      }
      objective.sigmoid = *sigmoid;
      has_sigmoid = true;
    } else if (key == "num_class") {
      objective_classes = lightgbm_integer(text, value, number, "objective num_class", 0, kInt32Max);
    }
  }
  // Huber drops sqrt when it is built; poisson, gamma and tweedie
  // exponentiate whatever it says.
  if (objective.kind != LightGBMObjectiveKind::kRegression) objective.sqrt = false;

  const bool needs_sigmoid = objective.kind == LightGBMObjectiveKind::kBinary ||
                             objective.kind == LightGBMObjectiveKind::kMulticlassOva;
  if (needs_sigmoid && !(has_sigmoid && std::isfinite(objective.sigmoid) && objective.sigmoid > 0.0)) {
    text.malformed(value.offset, "objective " + objective.name +
                                     " needs a sigmoid:<number greater than 0>");
  }
  const bool per_class = objective.kind == LightGBMObjectiveKind::kMulticlass ||
                         objective.kind == LightGBMObjectiveKind::kMulticlassOva;
  if (per_class && objective_classes != static_cast<std::int64_t>(num_class)) {
    // LightGBM transforms as many outputs as the objective says into a
    // buffer of the header's num_class.
    text.malformed(value.offset, "objective " + objective.name + " needs num_class:" +
                                     std::to_string(num_class) + ", the header's num_class");
  }
  if (!per_class && objective.kind != LightGBMObjectiveKind::kNone && num_class != 1) {
    text.malformed(value.offset, "objective " + objective.name + " transforms one output, but "
                                     "num_class is " + std::to_string(num_class));
  }
  return objective;
}

// Tree::Tree(const char*) and what Tree::Predict trusts.
AdmittedLightGBMTree read_tree(const LightGBMText& text, std::size_t offset, std::size_t index,
                               std::size_t num_features) {
  const std::string tree_name = "Tree " + std::to_string(index);
  const Lines lines = read_lightgbm_tree_lines(text, offset);
  auto key = [&](std::string_view name) { return tree_name + " " + std::string(name); };
  const std::size_t num_leaves = static_cast<std::size_t>(single_integer(
      text, required(text, lines, "num_leaves", offset, tree_name), key("num_leaves"), 1, kInt32Max));
  const auto num_cat = single_integer(text, required(text, lines, "num_cat", offset, tree_name),
                                      key("num_cat"), 0, kInt32Max - 1);
  AdmittedLightGBMTree tree;
  tree.leaf_values = lightgbm_doubles(
      text, required(text, lines, "leaf_value", offset, tree_name), key("leaf_value"), num_leaves);
  if (const LightGBMValue* linear = optional(lines, "is_linear")) {
    if (single_integer(text, *linear, key("is_linear"), std::numeric_limits<std::int32_t>::min(),
                       kInt32Max) != 0) {
      text.fail(linear->offset, tree_name + " is a linear tree (linear_tree=true), which inferloop "
                                "does not evaluate exactly yet; train without linear_tree");
    }
  }
  if (const LightGBMValue* weights = optional(lines, "leaf_weight")) {
    // Read with a count check by LightGBM too: a mismatch fails its load.
    (void)lightgbm_doubles(text, *weights, key("leaf_weight"), num_leaves);
  }
  if (num_leaves == 1) return tree;  // LightGBM reads nothing more of a one-leaf tree

  const std::size_t num_splits = num_leaves - 1;
  const auto split_bound = static_cast<std::int64_t>(num_splits);
  const auto leaf_bound = static_cast<std::int64_t>(num_leaves);
  const auto left = lightgbm_integers(text, required(text, lines, "left_child", offset, tree_name),
                                      key("left_child"), num_splits, -leaf_bound, split_bound - 1);
  const auto right = lightgbm_integers(text, required(text, lines, "right_child", offset, tree_name),
                                       key("right_child"), num_splits, -leaf_bound, split_bound - 1);
  const LightGBMValue& features_line = required(text, lines, "split_feature", offset, tree_name);
  const auto feature = lightgbm_integers(text, features_line, key("split_feature"), num_splits, 0,
                                         static_cast<std::int64_t>(num_features) - 1);
  const LightGBMValue& thresholds_line = required(text, lines, "threshold", offset, tree_name);
  const auto threshold = lightgbm_doubles(text, thresholds_line, key("threshold"), num_splits);
  std::vector<std::int64_t> decision(num_splits, 0);
  const LightGBMValue* decision_line = optional(lines, "decision_type");
  if (decision_line != nullptr) {
    decision = lightgbm_integers(text, *decision_line, key("decision_type"), num_splits, 0, 15);
  }
  if (num_cat > 0) {
    const LightGBMValue& bounds_line = required(text, lines, "cat_boundaries", offset, tree_name);
    const auto bounds = lightgbm_integers(text, bounds_line, key("cat_boundaries"),
                                          static_cast<std::size_t>(num_cat) + 1, 0, kInt32Max);
    for (std::size_t c = 0; c < bounds.size(); ++c) {
      if ((c == 0 && bounds[c] != 0) || (c > 0 && bounds[c] < bounds[c - 1])) {
        text.malformed(bounds_line.offset, key("cat_boundaries") + " must rise from 0");
      }
    }
    const auto words = lightgbm_integers(
        text, required(text, lines, "cat_threshold", offset, tree_name), key("cat_threshold"),
        static_cast<std::size_t>(bounds.back()), 0, std::numeric_limits<std::uint32_t>::max());
    tree.cat_boundaries.assign(bounds.begin(), bounds.end());
    tree.cat_threshold.assign(words.begin(), words.end());
  }

  tree.splits.resize(num_splits);
  for (std::size_t s = 0; s < num_splits; ++s) {
    const auto type = static_cast<std::uint8_t>(decision[s]);
    const LightGBMValue& at = decision_line != nullptr ? *decision_line : thresholds_line;
    if (((type >> 2) & 3) == 3) {
      text.malformed(at.offset, key("decision_type") + "[" + std::to_string(s) + "] " +
                                    std::to_string(type) + " has missing type 3, which LightGBM "
                                    "does not define (0 None, 1 Zero, 2 NaN)");
    }
    if ((type & 1) != 0) {
      // LightGBM walks a tree without categories as if every split were
      // numerical; a categorical bit there is not a tree LightGBM wrote.
      const double cat = threshold[s];
      if (num_cat == 0 || !(cat >= 0.0 && cat < static_cast<double>(num_cat)) ||
          cat != std::floor(cat)) {
        text.malformed(thresholds_line.offset,
                       key("threshold") + "[" + std::to_string(s) + "] of a categorical split " +
                           "must index one of the tree's " + std::to_string(num_cat) +
                           " category sets");
      }
    }
    tree.splits[s] = AdmittedLightGBMTree::Split{
        static_cast<std::int32_t>(left[s]), static_cast<std::int32_t>(right[s]),
        static_cast<std::uint32_t>(feature[s]), threshold[s], type};
  }

  // Walk from the root: every split and every leaf must be reached exactly
  // once, so the walk ends (no cycle) and the tree has the shape its
  // num_leaves says.
  std::vector<bool> split_reached(num_splits, false);
  std::vector<bool> leaf_reached(num_leaves, false);
  std::vector<std::size_t> queue{0};
  split_reached[0] = true;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const std::size_t s = queue[head];
    for (const std::int64_t child : {left[s], right[s]}) {
      const bool leaf = child < 0;
      const auto target = static_cast<std::size_t>(leaf ? ~child : child);
      std::vector<bool>& reached = leaf ? leaf_reached : split_reached;
      if (reached[target]) {
        text.malformed(offset, tree_name + " node " + std::to_string(s) + ": its child " +
                                   std::to_string(child) + " is reached twice (the tree is not a tree)");
      }
      reached[target] = true;
      if (!leaf) queue.push_back(target);
    }
  }
  if (queue.size() != num_splits ||
      !std::all_of(leaf_reached.begin(), leaf_reached.end(), [](bool reached) { return reached; })) {
    text.malformed(offset, tree_name + ": not every node of its " + std::to_string(num_leaves) +
                               " leaves and " + std::to_string(num_splits) +
                               " splits is reached from the root");
  }
  return tree;
}

// GBDT::LoadModelFromString's scan of the parameters section.
void refuse_linear_parameters(const LightGBMText& text, std::size_t from) {
  const std::string_view all = text.text();
  bool in_parameters = false;
  for (std::size_t at = from; at < text.size();) {
    const std::size_t end = text.line_end(at);
    const std::string_view line = all.substr(at, end - at);
    if (line == "parameters:") {
      in_parameters = true;
    } else if (line == "end of parameters") {
      return;
    } else if (in_parameters && line.starts_with("[linear_tree: ") && line.size() > 14 &&
               line[14] >= '1' && line[14] <= '9') {
      text.fail(at, "the model was trained with linear_tree=true, which inferloop does not "
                    "evaluate exactly yet; train without linear_tree");
    }
    at = text.skip_newline(end);
  }
}

}  // namespace

bool looks_like_lightgbm_text(std::span<const std::uint8_t> head) noexcept {
  return head.size() >= 5 && head[0] == 't' && head[1] == 'r' && head[2] == 'e' &&
         head[3] == 'e' && (head[4] == '\n' || head[4] == '\r');
}

std::shared_ptr<const AdmittedModel> admit_lightgbm_model(std::vector<std::uint8_t> bytes,
                                                          std::string_view source_name) {
  const LightGBMText text(bytes, source_name);
  const LightGBMHeader header = read_lightgbm_header(text);
  auto lightgbm = std::make_shared<AdmittedLightGBM>();
  AdmittedLightGBM& model = *lightgbm;
  const Lines& values = header.values;
  constexpr std::string_view kHeader = "the model header";

  if (const LightGBMValue* version = optional(values, "version")) {
    model.format_version = std::string(version->text.substr(0, 16));
  }
  const std::int64_t num_class = single_integer(
      text, required(text, values, "num_class", 0, kHeader), "num_class", 1, kMaxOutputGroups);
  model.num_class = static_cast<std::size_t>(num_class);
  if (const LightGBMValue* per_iteration = optional(values, "num_tree_per_iteration")) {
    // lib_lightgbm writes num_tree_per_iteration outputs per row into a
    // buffer of num_class.
    (void)single_integer(text, *per_iteration, "num_tree_per_iteration", num_class, num_class);
  }
  (void)single_integer(text, required(text, values, "label_index", 0, kHeader), "label_index",
                       std::numeric_limits<std::int32_t>::min(), kInt32Max);
  model.num_features = static_cast<std::size_t>(
      single_integer(text, required(text, values, "max_feature_idx", 0, kHeader),
                     "max_feature_idx", 0, kMaxFeatures - 1) + 1);
  model.average_output = values.contains("average_output");

  const LightGBMValue& names = required(text, values, "feature_names", 0, kHeader);
  for (const std::string_view name : lightgbm_tokens(names.text)) model.feature_names.emplace_back(name);
  if (model.feature_names.size() != model.num_features) {
    text.malformed(names.offset, "feature_names has " + std::to_string(model.feature_names.size()) +
                                     " names for max_feature_idx + 1 = " +
                                     std::to_string(model.num_features) + " features");
  }
  const LightGBMValue& infos = required(text, values, "feature_infos", 0, kHeader);
  if (lightgbm_tokens(infos.text).size() != model.num_features) {
    text.malformed(infos.offset, "feature_infos does not have one entry per feature (" +
                                     std::to_string(model.num_features) + ")");
  }
  if (const LightGBMValue* monotone = optional(values, "monotone_constraints")) {
    (void)lightgbm_integers(text, *monotone, "monotone_constraints", model.num_features, -1, 1);
  }
  if (const LightGBMValue* objective = optional(values, "objective")) {
    model.objective_text = std::string(objective->text);
    model.objective = read_objective(text, *objective, model.num_class);
  }

  // Trees: where tree_sizes says, counted from the first "Tree=" line.
  const LightGBMValue& sizes_line = required(text, values, "tree_sizes", 0, kHeader);
  const auto sizes = lightgbm_integers(text, sizes_line, "tree_sizes",
                                       lightgbm_tokens(sizes_line.text).size(), 0,
                                       static_cast<std::int64_t>(text.size()));
  if (sizes.empty()) {
    text.fail(sizes_line.offset, "the model has no trees; train at least one iteration");
  }
  if (sizes.size() % model.num_class != 0) {
    text.malformed(sizes_line.offset, std::to_string(sizes.size()) + " trees are not whole "
                                          "iterations of num_class = " +
                                          std::to_string(model.num_class) + " trees");
  }
  std::size_t boundary = 0;
  model.trees.reserve(sizes.size());
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    if (boundary >= text.size() - std::min(text.size(), header.trees_begin)) {
      text.malformed(sizes_line.offset, "tree_sizes puts tree " + std::to_string(t) +
                                            " past the end of the file");
    }
    model.trees.push_back(read_tree(text, header.trees_begin + boundary, t, model.num_features));
    boundary += static_cast<std::size_t>(sizes[t]);
  }
  refuse_linear_parameters(text, header.trees_begin);

  auto admitted = std::make_shared<AdmittedModel>();
  admitted->source_name = std::string(source_name);
  admitted->format = ModelFormat::kLightGBM;
  admitted->num_features = model.num_features;
  admitted->num_class = model.num_class;
  admitted->num_groups = model.num_class;
  admitted->objective = model.objective_text;
  admitted->feature_names = model.feature_names;
  admitted->lightgbm = std::move(lightgbm);
  admitted->bytes = std::move(bytes);
  return admitted;
}

}  // namespace inferloop::detail
