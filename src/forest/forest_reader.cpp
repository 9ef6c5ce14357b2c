// The model reader: XGBoost JSON/UBJSON -> detail::Forest.
//
// The file is parsed by nlohmann/json into a DOM, then every field the
// evaluator relies on is checked (array lengths, child indices, feature
// indices, that each tree is a tree) before it is copied into the flat layout,
// so a damaged or hostile file gets an inferloop::Error, never a bad read.
//
// How the objective's base_score becomes a margin, and which transform the
// objective applies, follow XGBoost's objectives (ProbToMargin, PredTransform);
// the agreement tests check each one against xgboost's own predictions.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "forest/forest_model.hpp"
#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

using json = nlohmann::json;

// XGBoost writes each float32 in its shortest decimal form and reads it back
// straight to float32. Going through double first (what a plain json::parse
// does) rounds twice, which can land one ulp off; so numbers are rounded to
// float32 from their text here, and the double stored in the DOM is exact.
class Float32Sax : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using nlohmann::detail::json_sax_dom_parser<json>::json_sax_dom_parser;
  bool number_float(double value, const std::string& lexeme) {
    float rounded = 0.0F;
    const char* end = lexeme.data() + lexeme.size();
    const auto [stop, error] = std::from_chars(lexeme.data(), end, rounded);
    if (error == std::errc() && stop == end) value = rounded;
    return json_sax_dom_parser::number_float(value, lexeme);
  }
};

constexpr std::string_view kResaveHint =
    "if the file was not written by xgboost's save_model, or is damaged, re-save the "
    "model with xgboost: booster.save_model(\"model.ubj\")";

struct SupportedObjective {
  std::string_view name;
  ForestTransform transform;
  enum class Link { kIdentity, kLogit, kLog } link;
};

// ProbToMargin and PredTransform of each objective, as in XGBoost's
// src/objective/ (regression_loss.h, multiclass_obj.cu, rank_obj, hinge.cu,
// hinge.cu). Each one here is proven by an agreement test against xgboost.
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

class Reader {
 public:
  explicit Reader(std::string_view source_name) : source_(source_name) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(source_ + ": " + (where.empty() ? "" : where + ": ") + what);
  }
  [[noreturn]] void malformed(const std::string& where, const std::string& what) const {
    fail(where, what + "; " + std::string(kResaveHint));
  }

  const json& member(const json& object, std::string_view key, const std::string& where) const {
    if (!object.is_object()) malformed(where, "expected an object, found " + kind(object));
    const auto found = object.find(key);
    if (found == object.end()) malformed(where, "missing key \"" + std::string(key) + "\"");
    return *found;
  }
  const json* optional_member(const json& object, std::string_view key,
                              const std::string& where) const {
    if (!object.is_object()) malformed(where, "expected an object, found " + kind(object));
    const auto found = object.find(key);
    return found == object.end() ? nullptr : &*found;
  }
  const json& array(const json& value, const std::string& where) const {
    if (!value.is_array()) malformed(where, "expected an array, found " + kind(value));
    return value;
  }
  const std::string& string(const json& value, const std::string& where) const {
    if (!value.is_string()) malformed(where, "expected a string, found " + kind(value));
    return value.get_ref<const std::string&>();
  }

  // XGBoost writes its parameters as strings ("12") and its arrays as numbers.
  std::int64_t integer(const json& value, const std::string& where) const {
    if (value.is_number_integer()) return value.get<std::int64_t>();
    if (value.is_number_unsigned()) {
      const auto unsigned_value = value.get<std::uint64_t>();
      if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        malformed(where, "integer out of range");
      }
      return static_cast<std::int64_t>(unsigned_value);
    }
    if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
    if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      std::int64_t parsed = 0;
      const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      if (error != std::errc() || stop != text.data() + text.size()) {
        malformed(where, "expected an integer, found \"" + text + "\"");
      }
      return parsed;
    }
    malformed(where, "expected an integer, found " + kind(value));
  }
  float real(const json& value, const std::string& where) const {
    if (value.is_number()) return static_cast<float>(value.get<double>());
    if (value.is_string()) {  // see quote_nonfinite_literals()
      const auto& text = value.get_ref<const std::string&>();
      if (text == "NaN") return std::numeric_limits<float>::quiet_NaN();
      if (text == "Infinity") return std::numeric_limits<float>::infinity();
      if (text == "-Infinity") return -std::numeric_limits<float>::infinity();
    }
    malformed(where, "expected a number, found " + kind(value));
  }

  std::vector<std::int64_t> integers(const json& value, const std::string& where,
                                     std::size_t expected_size) const {
    array(value, where);
    if (value.size() != expected_size) {
      malformed(where, "has " + std::to_string(value.size()) + " entries, expected " +
                           std::to_string(expected_size));
    }
    std::vector<std::int64_t> result;
    result.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      result.push_back(integer(value[i], where + "[" + std::to_string(i) + "]"));
    }
    return result;
  }
  std::vector<float> reals(const json& value, const std::string& where,
                           std::size_t expected_size) const {
    array(value, where);
    if (value.size() != expected_size) {
      malformed(where, "has " + std::to_string(value.size()) + " entries, expected " +
                           std::to_string(expected_size));
    }
    std::vector<float> result;
    result.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
      result.push_back(real(value[i], where + "[" + std::to_string(i) + "]"));
    }
    return result;
  }

  static std::string kind(const json& value) { return value.type_name(); }

 private:
  std::string source_;
};

// "5E-1" (up to 3.0) or "[5E-1]" / "[1E0,2E0]" (3.1+, one per output group).
std::vector<float> parse_base_score(const Reader& reader, const std::string& text,
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
      reader.malformed(where, "cannot read base_score \"" + text + "\" as float32 numbers");
    }
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return values;
}

float base_margin_of(const Reader& reader, const SupportedObjective& objective, float base_score,
                     const std::string& where) {
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

constexpr std::int64_t kMaxFeatures = kFeatureMask;  // what ForestNode::meta can hold
// XGBoost's largest valid category (common::OutOfRangeCat): 2^24.
constexpr std::int64_t kMaxCategory = std::int64_t{1} << 24;

void read_tree(const Reader& reader, const json& tree, const std::string& where, float weight,
               bool dart, Forest& forest) {
  if (const json* param = reader.optional_member(tree, "tree_param", where)) {
    if (const json* leaf_size = reader.optional_member(*param, "size_leaf_vector",
                                                       where + ".tree_param")) {
      const std::int64_t size = reader.integer(*leaf_size, where + ".tree_param.size_leaf_vector");
      if (size > 1) {
        reader.fail(where, "the tree has vector leaves (size_leaf_vector=" + std::to_string(size) +
                               ", a multi_strategy=\"multi_output_tree\" model), which "
                               "ForestPredictor does not evaluate; train with the default "
                               "multi_strategy=\"one_output_per_tree\" or use XGBoostPredictor");
      }
    }
  }
  const json& left_json = reader.array(reader.member(tree, "left_children", where),
                                       where + ".left_children");
  const std::size_t num_nodes = left_json.size();
  if (num_nodes == 0) reader.malformed(where + ".left_children", "the tree has no nodes");
  if (num_nodes > (std::size_t{1} << 30) ||
      forest.nodes.size() + num_nodes > std::numeric_limits<std::uint32_t>::max() / 2) {
    reader.malformed(where, "too many nodes");
  }
  const auto left = reader.integers(left_json, where + ".left_children", num_nodes);
  const auto right = reader.integers(reader.member(tree, "right_children", where),
                                     where + ".right_children", num_nodes);
  const auto feature = reader.integers(reader.member(tree, "split_indices", where),
                                       where + ".split_indices", num_nodes);
  const auto condition = reader.reals(reader.member(tree, "split_conditions", where),
                                      where + ".split_conditions", num_nodes);
  const auto default_left = reader.integers(reader.member(tree, "default_left", where),
                                            where + ".default_left", num_nodes);
  std::vector<std::int64_t> split_type(num_nodes, 0);
  if (const json* types = reader.optional_member(tree, "split_type", where)) {
    split_type = reader.integers(*types, where + ".split_type", num_nodes);
  }

  // node id -> the categories that go right, for categorical splits.
  std::map<std::int64_t, std::vector<std::int32_t>> node_categories;
  if (std::any_of(split_type.begin(), split_type.end(), [](auto type) { return type != 0; })) {
    const json& nodes_json = reader.array(reader.member(tree, "categories_nodes", where),
                                          where + ".categories_nodes");
    const auto cat_nodes = reader.integers(nodes_json, where + ".categories_nodes",
                                           nodes_json.size());
    const auto segments = reader.integers(reader.member(tree, "categories_segments", where),
                                          where + ".categories_segments", cat_nodes.size());
    const auto sizes = reader.integers(reader.member(tree, "categories_sizes", where),
                                       where + ".categories_sizes", cat_nodes.size());
    const json& values_json = reader.array(reader.member(tree, "categories", where),
                                           where + ".categories");
    const auto values = reader.integers(values_json, where + ".categories", values_json.size());
    for (std::size_t i = 0; i < cat_nodes.size(); ++i) {
      const std::string at = where + ".categories_nodes[" + std::to_string(i) + "]";
      if (segments[i] < 0 || sizes[i] < 0 ||
          static_cast<std::uint64_t>(segments[i]) + static_cast<std::uint64_t>(sizes[i]) >
              values.size()) {
        reader.malformed(at, "its categories_segments/categories_sizes run past categories");
      }
      auto& set = node_categories[cat_nodes[i]];
      for (std::int64_t k = segments[i]; k < segments[i] + sizes[i]; ++k) {
        if (values[k] < 0 || values[k] >= kMaxCategory) {
          reader.malformed(where + ".categories[" + std::to_string(k) + "]",
                           "category " + std::to_string(values[k]) + " is outside [0, 2^24)");
        }
        set.push_back(static_cast<std::int32_t>(values[k]));
      }
      std::sort(set.begin(), set.end());
      set.erase(std::unique(set.begin(), set.end()), set.end());
    }
  }

  // Breadth-first relayout: both children of a node get adjacent slots.
  const auto root = static_cast<std::uint32_t>(forest.nodes.size());
  std::vector<bool> placed(num_nodes, false);
  std::deque<std::pair<std::int64_t, std::uint32_t>> queue;  // (model node, its slot)
  std::vector<std::uint32_t> depth_of_slot{0};
  forest.nodes.resize(forest.nodes.size() + 1);
  placed[0] = true;
  queue.emplace_back(0, root);
  std::uint32_t tree_depth = 0;
  while (!queue.empty()) {
    const auto [id, slot] = queue.front();
    queue.pop_front();
    const std::uint32_t depth = depth_of_slot[slot - root];
    tree_depth = std::max(tree_depth, depth);
    const std::string at = where + " node " + std::to_string(id);
    ForestNode& node = forest.nodes[slot];
    if (left[id] == -1) {
      // A leaf stays put: nothing is >= NaN, and missing goes left to itself.
      node = ForestNode{0, std::numeric_limits<float>::quiet_NaN(), slot};
      // Dart scales each tree's output (0 + leaf) by its weight, in float32.
      forest.leaf_values.resize(forest.nodes.size());
      forest.leaf_values[slot] = dart ? (0.0F + condition[id]) * weight : condition[id];
      continue;
    }
    const std::int64_t children[2] = {left[id], right[id]};
    for (const std::int64_t child : children) {
      if (child <= 0 || static_cast<std::uint64_t>(child) >= num_nodes || placed[child]) {
        reader.malformed(at, "child index " + std::to_string(child) +
                                 " is not a fresh node of this tree (the tree is not a tree)");
      }
      placed[child] = true;
    }
    if (feature[id] < 0 || feature[id] >= kMaxFeatures ||
        static_cast<std::size_t>(feature[id]) >= forest.num_features) {
      reader.malformed(at, "split feature " + std::to_string(feature[id]) +
                               " is not below the model's num_feature " +
                               std::to_string(forest.num_features));
    }
    const auto first_child = static_cast<std::uint32_t>(forest.nodes.size());
    std::uint32_t meta = static_cast<std::uint32_t>(feature[id]);
    if (default_left[id] == 0) meta |= kMissingRightBit;
    float threshold = condition[id];
    // XGBoost goes right iff !(value < threshold); with a NaN threshold that
    // is every present value, which ">= -inf" reproduces.
    if (std::isnan(threshold)) threshold = -std::numeric_limits<float>::infinity();
    if (split_type[id] != 0) {
      if (split_type[id] != 1) {
        reader.malformed(at, "unknown split_type " + std::to_string(split_type[id]));
      }
      meta |= kCategoricalBit;
      forest.has_categorical = true;
      forest.category_ranges.resize(forest.nodes.size());
      const auto found = node_categories.find(id);
      Forest::CategoryRange range;
      range.begin = static_cast<std::uint32_t>(forest.category_values.size());
      if (found != node_categories.end()) {
        forest.category_values.insert(forest.category_values.end(), found->second.begin(),
                                      found->second.end());
      }
      range.end = static_cast<std::uint32_t>(forest.category_values.size());
      forest.category_ranges[slot] = range;
      threshold = std::numeric_limits<float>::quiet_NaN();  // never walked in lockstep
    }
    node = ForestNode{meta, threshold, first_child};
    forest.nodes.resize(forest.nodes.size() + 2);  // invalidates `node`
    depth_of_slot.resize(forest.nodes.size() - root, depth + 1);
    queue.emplace_back(left[id], first_child);
    queue.emplace_back(right[id], first_child + 1);
  }
  forest.leaf_values.resize(forest.nodes.size());
  if (forest.has_categorical) forest.category_ranges.resize(forest.nodes.size());
  forest.tree_root.push_back(root);
  forest.tree_depth.push_back(tree_depth);
}

// XGBoost's JSON writer emits the non-standard literals NaN, Infinity and
// -Infinity (1.7 writes NaN as the threshold of every categorical split);
// nlohmann/json, like any strict JSON parser, rejects them. Outside strings
// they are rewritten to the strings "NaN", "Infinity" and "-Infinity", which
// Reader::real() reads back. Returns nothing when the text has none, so that
// parse errors in ordinary files keep their exact columns.
std::optional<std::string> quote_nonfinite_literals(std::span<const std::uint8_t> bytes) {
  std::string text;
  bool replaced = false;
  bool in_string = false;
  bool escaped = false;
  text.reserve(bytes.size() + 64);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = static_cast<char>(bytes[i]);
    if (in_string) {
      text += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    bool matched = false;
    for (const std::string_view literal : {"NaN", "-Infinity", "Infinity"}) {
      if (bytes.size() - i >= literal.size() &&
          std::memcmp(bytes.data() + i, literal.data(), literal.size()) == 0) {
        text += '"';
        text += literal;
        text += '"';
        i += literal.size() - 1;
        matched = replaced = true;
        break;
      }
    }
    if (matched) continue;
    if (c == '"') in_string = true;
    text += c;
  }
  if (!replaced) return std::nullopt;
  return text;
}

json parse_document(std::span<const std::uint8_t> bytes, ModelFormat format, const Reader& reader) {
  json document;
  try {
    if (format == ModelFormat::kJson) {
      Float32Sax sax(document, true);
      if (const auto quoted = quote_nonfinite_literals(bytes)) {
        json::sax_parse(quoted->begin(), quoted->end(), &sax, json::input_format_t::json);
      } else {
        json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::json);
      }
    } else {
      document = json::from_ubjson(bytes.begin(), bytes.end());
    }
  } catch (const json::exception& error) {
    reader.malformed("", std::string("not a valid ") +
                             (format == ModelFormat::kJson ? "JSON" : "UBJSON") + " file (" +
                             error.what() + ")");
  }
  return document;
}

// Writes general-layout node `slot` (at `level`) into heap position `heap` of
// a compact tree of depth `depth` starting at `out` (see PerfectNode).
void place_perfect(const Forest& forest, std::uint32_t slot, std::size_t heap, std::uint32_t level,
                   std::uint32_t depth, PerfectNode* out) {
  const ForestNode& node = forest.nodes[slot];
  if (node.left == slot) {
    // A leaf: fill its whole subtree so that every path below ends on a copy.
    const float value = forest.leaf_values[slot];
    std::size_t first = heap;
    std::size_t count = 1;
    for (std::uint32_t l = level; l < depth; ++l) {
      for (std::size_t k = 0; k < count; ++k) out[first + k] = PerfectNode{0, 0.0F};
      first = 2 * first + 1;
      count *= 2;
    }
    for (std::size_t k = 0; k < count; ++k) out[first + k] = PerfectNode{0, value};
    return;
  }
  std::uint32_t feature = node.meta & kFeatureMask;
  if ((node.meta & kMissingRightBit) != 0) {
    feature += static_cast<std::uint32_t>(forest.num_features);
  }
  out[heap] = PerfectNode{feature, node.threshold};
  place_perfect(forest, node.left, 2 * heap + 1, level + 1, depth, out);
  place_perfect(forest, node.left + 1, 2 * heap + 2, level + 1, depth, out);
}

void build_perfect_layout(Forest& forest) {
  const std::size_t trees = forest.tree_root.size();
  forest.perfect_root.assign(trees, 0);
  forest.block_perfect.assign(forest.block_depth.size(), 0);
  if (forest.has_categorical || 2 * forest.num_features > kExpandedRowCapacity) return;
  for (std::size_t block = 0; block < forest.block_depth.size(); ++block) {
    const std::uint32_t depth = forest.block_depth[block];
    if (depth > kPerfectMaxDepth) continue;
    const std::size_t size = (std::size_t{2} << depth) - 1;
    const std::size_t first = block * kTreeBlock;
    const std::size_t last = std::min(trees, first + kTreeBlock);
    // A sparse deep tree (a chain, say) would grow far beyond its file size.
    const std::size_t end = last == trees ? forest.nodes.size() : forest.tree_root[last];
    if ((last - first) * size > kPerfectMaxGrowth * (end - forest.tree_root[first])) continue;
    // perfect_root holds 32-bit offsets.
    if (forest.perfect_nodes.size() + (last - first) * size >
        std::numeric_limits<std::uint32_t>::max()) {
      return;  // the remaining blocks keep the general layout
    }
    for (std::size_t t = first; t < last; ++t) {
      const std::size_t offset = forest.perfect_nodes.size();
      forest.perfect_nodes.resize(offset + size);
      forest.perfect_root[t] = static_cast<std::uint32_t>(offset);
      place_perfect(forest, forest.tree_root[t], 0, 0, depth, forest.perfect_nodes.data() + offset);
    }
    forest.block_perfect[block] = 1;
    forest.any_perfect = true;
  }
}

}  // namespace

std::shared_ptr<const Forest> read_forest(std::span<const std::uint8_t> bytes, ModelFormat format,
                                          std::string_view source_name) {
  const Reader reader(source_name);
  if (format == ModelFormat::kLegacyBinary) {
    reader.fail("", "this is XGBoost's legacy binary model format, which ForestPredictor does "
                    "not read; re-save the model as UBJSON with xgboost: "
                    "booster.save_model(\"model.ubj\") (or use XGBoostPredictor)");
  }
  const json document = parse_document(bytes, format, reader);
  auto forest = std::make_shared<Forest>();
  forest->source_name = std::string(source_name);

  if (const json* version = reader.optional_member(document, "version", "")) {
    forest->saved_by_version = [&] {
      std::vector<int> parts;
      for (const auto part : reader.integers(*version, "version", reader.array(*version, "version").size())) {
        parts.push_back(static_cast<int>(std::clamp<std::int64_t>(part, 0, 1'000'000)));
      }
      return parts;
    }();
  }
  const json& learner = reader.member(document, "learner", "");
  const json& model_param = reader.member(learner, "learner_model_param", "learner");
  const std::string param_where = "learner.learner_model_param";

  const std::int64_t num_feature =
      reader.integer(reader.member(model_param, "num_feature", param_where),
                     param_where + ".num_feature");
  if (num_feature < 0 || num_feature > kMaxFeatures) {
    reader.malformed(param_where + ".num_feature", "num_feature " + std::to_string(num_feature) +
                                                       " is out of range");
  }
  forest->num_features = static_cast<std::size_t>(num_feature);
  std::int64_t num_class = 0;
  if (const json* value = reader.optional_member(model_param, "num_class", param_where)) {
    num_class = reader.integer(*value, param_where + ".num_class");
  }
  std::int64_t num_target = 1;
  if (const json* value = reader.optional_member(model_param, "num_target", param_where)) {
    num_target = reader.integer(*value, param_where + ".num_target");
  }
  if (num_class < 0 || num_class > 1'000'000 || num_target < 0 || num_target > 1'000'000) {
    reader.malformed(param_where, "num_class/num_target out of range");
  }
  forest->num_groups = static_cast<std::size_t>(std::max<std::int64_t>({1, num_class, num_target}));

  const json& objective_json = reader.member(learner, "objective", "learner");
  forest->objective = reader.string(reader.member(objective_json, "name", "learner.objective"),
                                    "learner.objective.name");
  const SupportedObjective* objective = nullptr;
  for (const auto& candidate : kObjectives) {
    if (candidate.name == forest->objective) objective = &candidate;
  }
  if (forest->objective == "survival:aft") {
    reader.fail("learner.objective.name",
                "objective \"survival:aft\" is not one ForestPredictor can reproduce exactly "
                "(xgboost's exp() for it rounds differently from one xgboost build to the next); "
                "use XGBoostPredictor for this model");
  }
  if (objective == nullptr) {
    std::string known;
    for (const auto& candidate : kObjectives) {
      known += (known.empty() ? "" : ", ") + std::string(candidate.name);
    }
    reader.fail("learner.objective.name",
                "objective \"" + forest->objective + "\" is not one ForestPredictor can reproduce "
                "exactly (supported: " + known + "); use XGBoostPredictor for this model");
  }
  forest->transform = objective->transform;
  if ((objective->transform == ForestTransform::kSoftmax ||
       objective->transform == ForestTransform::kArgmax) && num_class < 1) {
    reader.malformed(param_where + ".num_class", forest->objective + " needs num_class >= 1");
  }

  const std::string base_where = param_where + ".base_score";
  const auto base_scores = parse_base_score(
      reader, reader.string(reader.member(model_param, "base_score", param_where), base_where),
      base_where);
  if (base_scores.size() != 1 && base_scores.size() != forest->num_groups) {
    reader.malformed(base_where, "has " + std::to_string(base_scores.size()) +
                                     " values for " + std::to_string(forest->num_groups) +
                                     " output groups");
  }
  for (std::size_t group = 0; group < forest->num_groups; ++group) {
    const float score = base_scores[base_scores.size() == 1 ? 0 : group];
    forest->base_margin.push_back(base_margin_of(reader, *objective, score, base_where));
  }

  const json& booster = reader.member(learner, "gradient_booster", "learner");
  const std::string& booster_name = reader.string(
      reader.member(booster, "name", "learner.gradient_booster"), "learner.gradient_booster.name");
  const bool dart = booster_name == "dart";
  if (booster_name != "gbtree" && !dart) {
    reader.fail("learner.gradient_booster.name",
                "booster \"" + booster_name + "\" is not a tree ensemble; ForestPredictor "
                "evaluates gbtree and dart models (use XGBoostPredictor for gblinear)");
  }
  const std::string model_where =
      dart ? "learner.gradient_booster.gbtree.model" : "learner.gradient_booster.model";
  const json& model = dart ? reader.member(reader.member(booster, "gbtree", "learner.gradient_booster"),
                                           "model", "learner.gradient_booster.gbtree")
                           : reader.member(booster, "model", "learner.gradient_booster");
  const json& trees = reader.array(reader.member(model, "trees", model_where), model_where + ".trees");
  const auto tree_info = reader.integers(reader.member(model, "tree_info", model_where),
                                         model_where + ".tree_info", trees.size());
  std::vector<float> weights(trees.size(), 1.0F);
  if (dart) {
    weights = reader.reals(reader.member(booster, "weight_drop", "learner.gradient_booster"),
                           "learner.gradient_booster.weight_drop", trees.size());
  }
  if (const json* names = reader.optional_member(learner, "feature_names", "learner")) {
    reader.array(*names, "learner.feature_names");
    for (std::size_t i = 0; i < names->size(); ++i) {
      forest->feature_names.push_back(
          reader.string((*names)[i], "learner.feature_names[" + std::to_string(i) + "]"));
    }
  }

  for (std::size_t t = 0; t < trees.size(); ++t) {
    const std::string where = model_where + ".trees[" + std::to_string(t) + "]";
    if (tree_info[t] < 0 || static_cast<std::size_t>(tree_info[t]) >= forest->num_groups) {
      reader.malformed(model_where + ".tree_info[" + std::to_string(t) + "]",
                       "output group " + std::to_string(tree_info[t]) + " is not below " +
                           std::to_string(forest->num_groups));
    }
    forest->tree_group.push_back(static_cast<std::uint32_t>(tree_info[t]));
    read_tree(reader, trees[t], where, weights[t], dart, *forest);
  }
  for (std::size_t first = 0; first < trees.size(); first += kTreeBlock) {
    const std::size_t last = std::min(trees.size(), first + kTreeBlock);
    forest->block_depth.push_back(*std::max_element(forest->tree_depth.begin() + first,
                                                    forest->tree_depth.begin() + last));
  }
  build_perfect_layout(*forest);
  return forest;
}

}  // namespace inferloop::detail
