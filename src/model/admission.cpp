// The model admission gate: see admission.hpp for what it checks and why.
// This file checks the model around its trees; tree_admission.cpp each tree.
//
// Every check here guards something libxgboost (1.7 to 3.2) reads without
// checking it: its loaders index the node arrays with the file's own child,
// parent and category indices, its predictors index the row with split
// features and the output with tree_info, and it sizes tables from counts in
// the file. Where the file is merely unusual (an unknown objective, a
// gblinear booster) the gate says nothing; that is for the predictors.
#include "model/admission.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "model/lightgbm_admission.hpp"
#include "model/model_document.hpp"
#include "model/tree_admission.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// "5E-1" (up to 3.0) or "[5E-1]" / "[1E0,2E0]" (3.1+, one per output group).
std::vector<float> parse_base_score(const DocumentReader& reader, const std::string& text,
                                    const std::string& where) {
  std::string_view body = text;
  const bool bracketed = body.size() >= 2 && body.front() == '[' && body.back() == ']';
  if (bracketed) body = body.substr(1, body.size() - 2);
  std::vector<float> values;
  while (true) {
    const std::size_t comma = body.find(',');
    const std::string_view item = body.substr(0, comma);
    float value = 0.0F;
    const auto [stop, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || stop != item.data() + item.size()) {
      reader.malformed(where, "cannot read base_score " + quote(text) + " as float32 numbers");
    }
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return values;
}

// xgboost 3.1+'s record of the categories seen in training (the "cats"
// container): per feature a list of categories (strings as offsets into
// bytes, or numbers), feature_segments delimiting each feature's run and
// sorted_idx a permutation inside each run. libxgboost indexes them by
// each other on load, so each must fit the others.
void read_category_container(const DocumentReader& reader, const json& cats,
                             const std::string& where) {
  const json& enc = reader.array(reader.member(cats, "enc", where), where + ".enc");
  std::vector<std::int64_t> counts;
  for (std::size_t i = 0; i < enc.size(); ++i) {
    const std::string column = path_of(where + ".enc", i);
    const json& values = reader.array(reader.member(enc[i], "values", column), column + ".values");
    if (const json* offsets_json = reader.optional_member(enc[i], "offsets", column)) {
      const std::string path = column + ".offsets";
      const auto offsets = reader.integers(reader.array(*offsets_json, path), path,
                                           offsets_json->size());
      for (std::size_t k = 0; k < offsets.size(); ++k) {
        const std::int64_t low = k == 0 ? 0 : offsets[k - 1];
        if (offsets[k] < low || offsets[k] > static_cast<std::int64_t>(values.size()) ||
            (k == 0 && offsets[k] != 0)) {
          reader.malformed(path_of(path, k), "offsets must rise from 0 to at most the " +
                                            std::to_string(values.size()) + " bytes of values");
        }
      }
      counts.push_back(offsets.empty() ? 0 : static_cast<std::int64_t>(offsets.size()) - 1);
    } else {
      (void)reader.index(reader.member(enc[i], "type", column), column + ".type");
      counts.push_back(static_cast<std::int64_t>(values.size()));
    }
  }
  const std::string segments_where = where + ".feature_segments";
  const json& segments_json = reader.array(reader.member(cats, "feature_segments", where),
                                           segments_where);
  const auto segments = reader.integers(segments_json, segments_where, segments_json.size());
  for (std::size_t i = 0; i < segments.size(); ++i) {
    // libxgboost holds them as int32; bounding them also keeps the
    // differences below from overflowing.
    if (segments[i] < 0 || segments[i] > std::numeric_limits<std::int32_t>::max()) {
      reader.malformed(path_of(segments_where, i), "is outside [0, 2^31)");
    }
  }
  std::int64_t total = 0;
  if (enc.empty()) {
    if (!segments.empty() && !(segments.size() == 1 && segments[0] == 0)) {
      reader.malformed(segments_where, "delimits categories of features the container does not have");
    }
  } else {
    if (segments.size() != enc.size() + 1 || segments[0] != 0) {
      reader.malformed(segments_where, "has " + std::to_string(segments.size()) +
                                           " entries, expected " + std::to_string(enc.size() + 1) +
                                           " starting at 0");
    }
    for (std::size_t i = 0; i < enc.size(); ++i) {
      if (segments[i + 1] - segments[i] != counts[i]) {
        reader.malformed(path_of(segments_where, i + 1),
                         "does not delimit the " + std::to_string(counts[i]) +
                             " categories of feature " + std::to_string(i));
      }
    }
    total = segments.back();
  }
  const std::string sorted_where = where + ".sorted_idx";
  const auto sorted = reader.integers(reader.member(cats, "sorted_idx", where), sorted_where,
                                      static_cast<std::size_t>(total));
  for (std::size_t i = 0, feature = 0; i < sorted.size(); ++i) {
    while (static_cast<std::int64_t>(i) >= segments[feature + 1]) ++feature;
    if (sorted[i] < 0 || sorted[i] >= counts[feature]) {
      reader.malformed(path_of(sorted_where, i), "is not an index into feature " +
                                                std::to_string(feature) + "'s categories");
    }
  }
}

void read_tree_ensemble(const DocumentReader& reader, const json& booster, bool dart,
                        std::size_t file_bytes, AdmittedModel& model) {
  const std::string booster_where = "learner.gradient_booster";
  const std::string model_where = dart ? booster_where + ".gbtree.model" : booster_where + ".model";
  const json& ensemble =
      dart ? reader.member(reader.member(booster, "gbtree", booster_where), "model",
                           booster_where + ".gbtree")
           : reader.member(booster, "model", booster_where);
  const json& trees = reader.array(reader.member(ensemble, "trees", model_where),
                                   model_where + ".trees");

  // libxgboost sizes tree_info by num_trees and walks the trees by it.
  const std::string param_where = model_where + ".gbtree_model_param";
  const json& param = reader.member(ensemble, "gbtree_model_param", model_where);
  const std::int64_t num_trees = reader.integer(reader.member(param, "num_trees", param_where),
                                                param_where + ".num_trees");
  if (num_trees != static_cast<std::int64_t>(trees.size())) {
    reader.malformed(param_where + ".num_trees", "is " + std::to_string(num_trees) +
                                                     " but the model has " +
                                                     std::to_string(trees.size()) + " trees");
  }
  if (const json* parallel = reader.optional_member(param, "num_parallel_tree", param_where)) {
    (void)reader.integer_in(*parallel, param_where + ".num_parallel_tree", 1,
                            std::max<std::int64_t>(1, num_trees));
  }
  // xgboost 1.x wrote a size_leaf_vector here (reserved, always 0); the
  // trees' own tree_param says whether they have vector leaves.
  if (const json* leaf_size = reader.optional_member(param, "size_leaf_vector", param_where)) {
    (void)reader.integer_in(*leaf_size, param_where + ".size_leaf_vector", 0,
                            static_cast<std::int64_t>(model.num_groups));
  }

  const auto tree_info = reader.integers(reader.member(ensemble, "tree_info", model_where),
                                         model_where + ".tree_info", trees.size());
  for (std::size_t t = 0; t < tree_info.size(); ++t) {
    // libxgboost adds each tree's leaf to output tree_info[t] of the row.
    if (tree_info[t] < 0 || static_cast<std::uint64_t>(tree_info[t]) >= model.num_groups) {
      reader.malformed(path_of(model_where + ".tree_info", t),
                       "output group " + std::to_string(tree_info[t]) + " is not below " +
                           std::to_string(model.num_groups));
    }
    model.tree_group.push_back(static_cast<std::uint32_t>(tree_info[t]));
  }
  if (const json* indptr_json = reader.optional_member(ensemble, "iteration_indptr", model_where)) {
    // 2.0+: round r is trees [indptr[r], indptr[r + 1]).
    const std::string where = model_where + ".iteration_indptr";
    const auto indptr = reader.integers(reader.array(*indptr_json, where), where, indptr_json->size());
    for (std::size_t r = 0; r < indptr.size(); ++r) {
      if ((r == 0 && indptr[r] != 0) || (r > 0 && indptr[r] < indptr[r - 1])) {
        reader.malformed(path_of(where, r), "rounds must start at tree 0 and never go back");
      }
    }
    if (indptr.empty() || indptr.back() != num_trees) {
      reader.malformed(where, "does not end at the model's " + std::to_string(num_trees) + " trees");
    }
  }
  if (const json* cats = reader.optional_member(ensemble, "cats", model_where)) {
    read_category_container(reader, *cats, model_where + ".cats");
  }
  if (dart) {
    model.tree_weight = reader.reals(reader.member(booster, "weight_drop", booster_where),
                                     booster_where + ".weight_drop", trees.size());
  }

  TreeContext context;
  context.num_features = model.num_features;
  context.num_groups = model.num_groups;
  context.bitset_budget = kBitsetBaseBytes + kBitsetBytesPerFileByte * file_bytes;
  model.trees.reserve(trees.size());
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const std::string where = path_of(model_where + ".trees", t);
    model.trees.push_back(admit_tree(reader, trees[t], where, t, context));
    // xgboost's multi_strategy is the model's: every tree has vector leaves
    // or none does.
    const std::size_t leaf_size = model.trees.back().leaf_size;
    if (t == 0) model.leaf_size = leaf_size;
    if (leaf_size != model.leaf_size) {
      reader.malformed(where + ".tree_param.size_leaf_vector",
                       "is " + std::to_string(leaf_size) + " but tree 0's is " +
                           std::to_string(model.leaf_size) +
                           " (xgboost gives every tree of a model the same kind of leaves)");
    }
  }
  if (dart && model.leaf_size > 1) {
    reader.fail(booster_where, "a dart booster with vector leaves, which xgboost neither trains "
                               "nor predicts (\"dart support for multi-target tree is not yet "
                               "implemented\"); " + std::string(kVectorLeafHint));
  }
}

void read_linear(const DocumentReader& reader, const json& booster, AdmittedModel& model) {
  const std::string where = "learner.gradient_booster.model";
  const json& linear = reader.member(booster, "model", "learner.gradient_booster");
  // libxgboost reads weight[feature * groups + group] and the bias after
  // the last feature without checking the array's length.
  const std::size_t expected = (model.num_features + 1) * model.num_groups;
  (void)reader.reals(reader.member(linear, "weights", where), where + ".weights", expected);
  if (const json* rounds = reader.optional_member(linear, "boosted_rounds", where)) {
    if (reader.index(*rounds, where + ".boosted_rounds") < 0) {
      reader.malformed(where + ".boosted_rounds", "is negative");
    }
  }
}

std::vector<std::string> read_names(const DocumentReader& reader, const json& learner,
                                    std::string_view key, std::size_t num_features) {
  std::vector<std::string> names;
  const json* value = reader.optional_member(learner, key, "learner");
  if (value == nullptr) return names;
  const std::string where = "learner." + std::string(key);
  reader.array(*value, where);
  if (!value->empty() && value->size() != num_features) {
    reader.malformed(where, "has " + std::to_string(value->size()) +
                                " entries for the model's num_feature " +
                                std::to_string(num_features));
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    names.push_back(reader.string((*value)[i], path_of(where, i)));
  }
  return names;
}

}  // namespace

std::shared_ptr<const AdmittedModel> admit_model(std::vector<std::uint8_t> bytes,
                                                 ModelFormat format,
                                                 std::string_view source_name) {
  if (format == ModelFormat::kLightGBM) return admit_lightgbm_model(std::move(bytes), source_name);
  const json document = parse_model_document(bytes, format, source_name);
  const DocumentReader reader(source_name);
  auto model = std::make_shared<AdmittedModel>();
  model->source_name = std::string(source_name);
  model->format = format;
  model->saved_by_version = document_version(document, reader, format);

  const json& learner = document.at("learner");
  const std::string param_where = "learner.learner_model_param";
  const json& param = reader.member(learner, "learner_model_param", "learner");
  model->num_features = static_cast<std::size_t>(reader.integer_in(
      reader.member(param, "num_feature", param_where), param_where + ".num_feature", 1,
      kMaxFeatures));
  std::int64_t num_class = 0;
  if (const json* value = reader.optional_member(param, "num_class", param_where)) {
    num_class = reader.integer_in(*value, param_where + ".num_class", 0, kMaxOutputGroups);
  }
  std::int64_t num_target = 1;
  if (const json* value = reader.optional_member(param, "num_target", param_where)) {
    num_target = reader.integer_in(*value, param_where + ".num_target", 1, kMaxOutputGroups);
  }
  model->num_class = static_cast<std::size_t>(num_class);
  model->num_groups = static_cast<std::size_t>(std::max<std::int64_t>({1, num_class, num_target}));
  const std::string base_where = param_where + ".base_score";
  model->base_score = parse_base_score(
      reader, reader.string(reader.member(param, "base_score", param_where), base_where), base_where);
  if (model->base_score.size() != 1 && model->base_score.size() != model->num_groups) {
    reader.malformed(base_where, "has " + std::to_string(model->base_score.size()) +
                                     " values for " + std::to_string(model->num_groups) +
                                     " output groups");
  }

  model->objective = reader.string(
      reader.member(reader.member(learner, "objective", "learner"), "name", "learner.objective"),
      "learner.objective.name");
  model->feature_names = read_names(reader, learner, "feature_names", model->num_features);
  (void)read_names(reader, learner, "feature_types", model->num_features);

  const json& booster = reader.member(learner, "gradient_booster", "learner");
  const std::string& booster_name = reader.string(
      reader.member(booster, "name", "learner.gradient_booster"), "learner.gradient_booster.name");
  if (booster_name == "gbtree" || booster_name == "dart") {
    const bool dart = booster_name == "dart";
    model->booster = dart ? BoosterKind::kDart : BoosterKind::kGbtree;
    read_tree_ensemble(reader, booster, dart, bytes.size(), *model);
  } else if (booster_name == "gblinear") {
    model->booster = BoosterKind::kGblinear;
    read_linear(reader, booster, *model);
  } else {
    reader.malformed("learner.gradient_booster.name",
                     "booster " + quote(booster_name) +
                         " is not one xgboost writes (gbtree, dart or gblinear)");
  }
  model->bytes = std::move(bytes);
  return model;
}

ModelFormat sniff_model_format(const fs::path& model_file, std::span<const std::uint8_t> head) {
  // XGBoost's own rule (XGBoosterLoadModel): the extension first, then the
  // first two bytes: '{' '"' is JSON, '{' and a letter (a UBJSON type
  // marker) is UBJSON, anything else the legacy binary format. LightGBM's
  // text models, whatever their name, start with the line "tree", which no
  // XGBoost format does.
  const std::string extension = model_file.extension().string();
  if (looks_like_lightgbm_text(head)) return ModelFormat::kLightGBM;
  if (extension == ".json") return ModelFormat::kJson;
  if (extension == ".ubj") return ModelFormat::kUbjson;
  if (head.size() >= 2 && head[0] == '{') {
    if (head[1] == '"') return ModelFormat::kJson;
    if (std::isalpha(head[1]) != 0) return ModelFormat::kUbjson;
  }
  return ModelFormat::kLegacyBinary;
}

std::vector<std::uint8_t> read_model_bytes(const fs::path& model_file) {
  const std::string quoted = quote(model_file.string(), 4096);
  std::error_code error;
  const fs::file_status status = fs::status(model_file, error);
  if (!fs::is_regular_file(status)) {
    throw Error(quoted + ": " +
                (fs::exists(status) ? "not a regular file (a folder, device or pipe)"
                                    : "no such file") +
                "; a model is a file saved by xgboost's save_model (.json or .ubj)");
  }
  const std::uintmax_t size = fs::file_size(model_file, error);
  if (error) throw Error(quoted + ": cannot read its size (" + error.message() + ")");
  if (size > kMaxModelFileBytes) {
    throw Error(quoted + ": the model file is " + std::to_string(size) +
                " bytes; inferloop loads model files of at most " +
                std::to_string(kMaxModelFileBytes) + " bytes");
  }
  std::ifstream in(model_file, std::ios::binary);
  if (!in) throw Error(quoted + ": cannot open the model file for reading; check its permissions");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  // A file cut short while being read is what was read; a file that grew is
  // read up to the size it had.
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

std::shared_ptr<const AdmittedModel> admit_model_file(const fs::path& model_file) {
  std::vector<std::uint8_t> bytes = read_model_bytes(model_file);
  const ModelFormat format = sniff_model_format(model_file, bytes);
  return admit_model(std::move(bytes), format, model_file.string());
}

std::shared_ptr<const AdmittedModel> admission_of(const ResolvedModel& model) {
  if (model.admission && model.admission->source_name == model.model_file.string()) {
    return model.admission;
  }
  return admit_model_file(model.model_file);
}

}  // namespace inferloop::detail

namespace inferloop {

// Here rather than beside resolve_model(): the admission gate and the forest
// readers name formats in their messages, and they build without the rest of
// the library (cmake/InferloopForest.cmake).
std::string to_string(ModelFormat format) {
  switch (format) {
    case ModelFormat::kJson: return "JSON";
    case ModelFormat::kUbjson: return "UBJSON";
    case ModelFormat::kLegacyBinary: return "legacy binary";
    case ModelFormat::kLightGBM: return "LightGBM text";
  }
  return "unknown";
}

}  // namespace inferloop
