// One tree through the model admission gate: see tree_admission.hpp.
#include "model/tree_admission.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace inferloop::detail {
namespace {

using json = nlohmann::json;

// The categorical part of a tree: categories_nodes lists, in increasing node
// order, every node whose split_type is 1, and segments/sizes point each at
// its run of `categories`. libxgboost walks the list in node order (an entry
// out of order is skipped, its node left without categories), indexes
// `categories` with the runs, and allocates a bitset up to each run's
// largest category.
void read_categories(const DocumentReader& reader, const json& tree, const std::string& where,
                     const std::vector<std::int64_t>& split_type, std::uint64_t& bitset_budget,
                     AdmittedTree& out) {
  const std::size_t num_nodes = split_type.size();
  const json& nodes_json = reader.array(reader.member(tree, "categories_nodes", where),
                                        where + ".categories_nodes");
  const auto cat_nodes = reader.integers(nodes_json, where + ".categories_nodes", nodes_json.size());
  const auto segments = reader.integers(reader.member(tree, "categories_segments", where),
                                        where + ".categories_segments", cat_nodes.size());
  const auto sizes = reader.integers(reader.member(tree, "categories_sizes", where),
                                     where + ".categories_sizes", cat_nodes.size());
  const json& values_json = reader.array(reader.member(tree, "categories", where),
                                         where + ".categories");
  const auto values = reader.integers(values_json, where + ".categories", values_json.size());

  std::vector<bool> listed(num_nodes, false);
  std::vector<std::vector<std::int32_t>> node_categories(cat_nodes.size());
  std::int64_t previous = -1;
  for (std::size_t i = 0; i < cat_nodes.size(); ++i) {
    const std::string entry = path_of(where + ".categories_nodes", i);
    const std::int64_t node = cat_nodes[i];
    if (node <= previous || node >= static_cast<std::int64_t>(num_nodes)) {
      reader.malformed(entry, "node " + std::to_string(node) +
                                  " is not above the previous entry and below the tree's " +
                                  std::to_string(num_nodes) + " nodes");
    }
    previous = node;
    if (split_type[static_cast<std::size_t>(node)] != 1) {
      reader.malformed(entry, "node " + std::to_string(node) +
                                  " has categories but its split_type is not 1 (categorical)");
    }
    listed[static_cast<std::size_t>(node)] = true;
    if (segments[i] < 0 || sizes[i] < 1 ||
        static_cast<std::uint64_t>(segments[i]) + static_cast<std::uint64_t>(sizes[i]) >
            values.size()) {
      reader.malformed(entry, "its categories_segments/categories_sizes run past categories (or "
                              "name no category)");
    }
    std::int64_t largest = 0;
    for (std::int64_t k = segments[i]; k < segments[i] + sizes[i]; ++k) {
      const std::int64_t category = values[static_cast<std::size_t>(k)];
      if (category < 0 || category >= kMaxCategory) {
        reader.malformed(path_of(where + ".categories", static_cast<std::size_t>(k)),
                         "category " + std::to_string(category) + " is outside [0, 2^24)");
      }
      largest = std::max(largest, category);
      node_categories[i].push_back(static_cast<std::int32_t>(category));
    }
    const auto bitset_bytes = static_cast<std::uint64_t>(largest / 32 + 1) * 4;
    if (bitset_bytes > bitset_budget) {
      reader.malformed(entry, "its categories (up to " + std::to_string(largest) +
                                  ") and those before it would need more bitset memory than a "
                                  "model of this size can");
    }
    bitset_budget -= bitset_bytes;
    std::sort(node_categories[i].begin(), node_categories[i].end());
    node_categories[i].erase(std::unique(node_categories[i].begin(), node_categories[i].end()),
                             node_categories[i].end());
  }
  for (std::size_t node = 0; node < num_nodes; ++node) {
    if (split_type[node] == 1 && !listed[node]) {
      reader.malformed(where + " node " + std::to_string(node),
                       "has split_type 1 (categorical) but no entry in categories_nodes");
    }
  }
  if (cat_nodes.empty()) return;
  out.category_begin.assign(num_nodes + 1, 0);
  std::size_t next = 0;
  for (std::size_t node = 0; node < num_nodes; ++node) {
    out.category_begin[node] = static_cast<std::uint32_t>(out.categories.size());
    if (next < cat_nodes.size() && cat_nodes[next] == static_cast<std::int64_t>(node)) {
      out.categories.insert(out.categories.end(), node_categories[next].begin(),
                            node_categories[next].end());
      ++next;
    }
  }
  out.category_begin[num_nodes] = static_cast<std::uint32_t>(out.categories.size());
}

// An optional per-node array: when present it must have one entry per node
// (libxgboost checks that for the arrays it reads, but not what they hold).
const json* per_node(const DocumentReader& reader, const json& tree, std::string_view key,
                     const std::string& where, std::size_t num_nodes) {
  const json* value = reader.optional_member(tree, key, where);
  if (value == nullptr) return nullptr;
  const std::string path = where + "." + std::string(key);
  reader.array(*value, path);
  if (value->size() != num_nodes) {
    reader.malformed(path, "has " + std::to_string(value->size()) + " entries, expected " +
                               std::to_string(num_nodes));
  }
  return value;
}

// The vectors of a tree with vector leaves, in xgboost 3.2's layout:
// leaf_weights holds one vector of leaf_size values per leaf, and each
// leaf's right_children entry is the index of its vector (libxgboost reads
// leaf_weights[right * leaf_size ..] without a check). Each reachable leaf
// must own its vector, so the vectors are bounded by the file.
void read_leaf_vectors(const DocumentReader& reader, const json& tree, const std::string& where,
                       const std::vector<std::int64_t>& left,
                       const std::vector<std::int64_t>& right, const std::vector<bool>& reached,
                       AdmittedTree& out) {
  const std::size_t num_nodes = left.size();
  const json* weights = reader.optional_member(tree, "leaf_weights", where);
  if (weights == nullptr) {
    reader.fail(where, "the tree has vector leaves (size_leaf_vector=" +
                           std::to_string(out.leaf_size) +
                           ") in the layout of xgboost 2.0-3.1, without leaf_weights, which "
                           "libxgboost 3.2 and newer cannot load and inferloop does not admit; "
                           "re-train with xgboost 3.2 or newer, or " +
                           std::string(kVectorLeafHint));
  }
  const std::string weights_where = where + ".leaf_weights";
  const auto num_leaves = static_cast<std::size_t>(
      std::count(left.begin(), left.end(), std::int64_t{-1}));
  out.leaf_vectors = reader.reals(*weights, weights_where, num_leaves * out.leaf_size);
  std::vector<bool> owned(num_leaves, false);
  for (std::size_t i = 0; i < num_nodes; ++i) {
    if (!reached[i] || left[i] != -1) continue;
    if (right[i] < 0 || right[i] >= static_cast<std::int64_t>(num_leaves) ||
        owned[static_cast<std::size_t>(right[i])]) {
      reader.malformed(where + " node " + std::to_string(i),
                       "leaf vector " + std::to_string(right[i]) +
                           " (its right_children entry) is not one of the tree's " +
                           std::to_string(num_leaves) + " vectors in leaf_weights, or is "
                           "another leaf's");
    }
    owned[static_cast<std::size_t>(right[i])] = true;
  }
}

}  // namespace

AdmittedTree admit_tree(const DocumentReader& reader, const json& tree, const std::string& where,
                        std::size_t index, TreeContext& context) {
  reader.object(tree, where);
  if (const json* id = reader.optional_member(tree, "id", where)) {
    // libxgboost places each tree at trees[id]: a repeated id leaves a slot empty.
    const std::int64_t value = reader.index(*id, where + ".id");
    if (value != static_cast<std::int64_t>(index)) {
      reader.malformed(where + ".id", "is " + std::to_string(value) + ", expected " +
                                          std::to_string(index) + " (the tree's position)");
    }
  }
  const json& left_json = reader.array(reader.member(tree, "left_children", where),
                                       where + ".left_children");
  const std::size_t num_nodes = left_json.size();
  if (num_nodes == 0) reader.malformed(where + ".left_children", "the tree has no nodes");
  if (num_nodes > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    reader.malformed(where, "too many nodes");
  }
  AdmittedTree out;
  if (const json* param = reader.optional_member(tree, "tree_param", where)) {
    const std::string param_where = where + ".tree_param";
    if (const json* size = reader.optional_member(*param, "size_leaf_vector", param_where)) {
      const std::int64_t leaf_size = reader.integer(*size, param_where + ".size_leaf_vector");
      if (leaf_size < 0) reader.malformed(param_where + ".size_leaf_vector", "is negative");
      if (leaf_size > 1 && leaf_size != static_cast<std::int64_t>(context.num_groups)) {
        // libxgboost adds each leaf's values into the row's outputs unchecked.
        reader.malformed(param_where + ".size_leaf_vector",
                         "is " + std::to_string(leaf_size) + " but the model has " +
                             std::to_string(context.num_groups) +
                             (context.num_groups == 1 ? " output" : " outputs") +
                             " per row (num_class, num_target): each vector leaf holds one "
                             "value per output");
      }
      out.leaf_size = static_cast<std::size_t>(std::max<std::int64_t>(leaf_size, 1));
    }
    if (const json* declared = reader.optional_member(*param, "num_nodes", param_where)) {
      const std::int64_t count = reader.integer(*declared, param_where + ".num_nodes");
      if (count != static_cast<std::int64_t>(num_nodes)) {
        reader.malformed(param_where + ".num_nodes",
                         "is " + std::to_string(count) + " but left_children has " +
                             std::to_string(num_nodes) + " entries");
      }
    }
    if (const json* width = reader.optional_member(*param, "num_feature", param_where)) {
      (void)reader.integer_in(*width, param_where + ".num_feature", 0, kMaxFeatures);
    }
    if (const json* deleted = reader.optional_member(*param, "num_deleted", param_where)) {
      (void)reader.integer_in(*deleted, param_where + ".num_deleted", 0,
                              static_cast<std::int64_t>(num_nodes));
    }
  }

  const auto left = reader.integers(left_json, where + ".left_children", num_nodes);
  const auto right = reader.integers(reader.member(tree, "right_children", where),
                                     where + ".right_children", num_nodes);
  const auto feature = reader.integers(reader.member(tree, "split_indices", where),
                                       where + ".split_indices", num_nodes);
  const auto condition = reader.reals(reader.member(tree, "split_conditions", where),
                                      where + ".split_conditions", num_nodes);
  const auto default_left = reader.integers(reader.member(tree, "default_left", where),
                                            where + ".default_left", num_nodes,
                                            /*booleans_too=*/true);
  // libxgboost reads every node's parent (node 0's is a placeholder) and
  // then the parent's children: an out-of-range parent is a bad read.
  if (const json* parents = per_node(reader, tree, "parents", where, num_nodes)) {
    const auto parent = reader.integers(*parents, where + ".parents", num_nodes);
    for (std::size_t i = 1; i < num_nodes; ++i) {
      if (parent[i] < 0 || parent[i] >= static_cast<std::int64_t>(num_nodes)) {
        reader.malformed(path_of(where + ".parents", i),
                         std::to_string(parent[i]) + " is outside [0, " +
                             std::to_string(num_nodes - 1) + "]");
      }
    }
  }
  for (const std::string_view key : {"loss_changes", "sum_hessian"}) {
    if (const json* stats = per_node(reader, tree, key, where, num_nodes)) {
      for (std::size_t i = 0; i < num_nodes; ++i) {
        (void)reader.real((*stats)[i], path_of(where + "." + std::string(key), i));
      }
    }
  }
  if (out.leaf_size == 1) {
    if (const json* weights = per_node(reader, tree, "base_weights", where, num_nodes)) {
      (void)reader.reals(*weights, where + ".base_weights", num_nodes);
    }
  } else if (const json* weights = reader.optional_member(tree, "base_weights", where)) {
    // With vector leaves, libxgboost 3.2 takes base_weights' length over the
    // node count as the values per node (at least 1) and reads that many.
    const std::string weights_where = where + ".base_weights";
    const std::size_t count = reader.array(*weights, weights_where).size();
    if (count == 0 || count % num_nodes != 0 || count / num_nodes > out.leaf_size) {
      reader.malformed(weights_where, "has " + std::to_string(count) +
                                          " entries, expected 1 to " +
                                          std::to_string(out.leaf_size) + " per node (" +
                                          std::to_string(num_nodes) + " nodes)");
    }
    (void)reader.reals(*weights, weights_where, count);
  }
  std::vector<std::int64_t> split_type(num_nodes, 0);
  if (per_node(reader, tree, "split_type", where, num_nodes) != nullptr) {
    split_type = reader.integers(tree.at("split_type"), where + ".split_type", num_nodes);
    for (std::size_t i = 0; i < num_nodes; ++i) {
      if (split_type[i] != 0 && split_type[i] != 1) {
        reader.malformed(where + " node " + std::to_string(i),
                         "unknown split_type " + std::to_string(split_type[i]));
      }
    }
  }
  const bool any_categorical =
      std::any_of(split_type.begin(), split_type.end(), [](auto type) { return type == 1; });
  if (any_categorical && out.leaf_size > 1) {
    reader.fail(where, "the tree has vector leaves and categorical splits, which xgboost does "
                       "not train (3.2 refuses categorical features with multi_output_tree) and "
                       "inferloop does not admit; " + std::string(kVectorLeafHint));
  }
  if (any_categorical || tree.contains("categories_nodes")) {
    read_categories(reader, tree, where, split_type, context.bitset_budget, out);
  }

  // Walk from the root, breadth first: each node must be reached once, so
  // the walk is a tree (no cycle, self-loop or shared child), and only
  // reachable splits are walked by any predictor, so only their features
  // must lie in the row. Unreachable nodes (xgboost's pruner leaves deleted
  // ones behind) are kept but never visited.
  std::vector<bool> reached(num_nodes, false);
  std::vector<std::size_t> queue{0};
  reached[0] = true;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const std::size_t id = queue[head];
    if (left[id] == -1) continue;  // a leaf: libxgboost's IsLeaf() looks at the left child only
    const std::string node = where + " node " + std::to_string(id);
    for (const std::int64_t child : {left[id], right[id]}) {
      if (child <= 0 || child >= static_cast<std::int64_t>(num_nodes) ||
          reached[static_cast<std::size_t>(child)]) {
        reader.malformed(node, "child index " + std::to_string(child) +
                                   " is not a fresh node of this tree (the tree is not a tree)");
      }
      reached[static_cast<std::size_t>(child)] = true;
      queue.push_back(static_cast<std::size_t>(child));
    }
    if (feature[id] < 0 || feature[id] >= static_cast<std::int64_t>(context.num_features)) {
      reader.malformed(node, "split feature " + std::to_string(feature[id]) +
                                 " is not below the model's num_feature " +
                                 std::to_string(context.num_features));
    }
  }
  if (out.leaf_size > 1) read_leaf_vectors(reader, tree, where, left, right, reached, out);

  out.nodes.resize(num_nodes);
  const auto last_node = static_cast<std::int64_t>(num_nodes) - 1;
  for (std::size_t i = 0; i < num_nodes; ++i) {
    // Unreachable nodes keep whatever they hold; nothing walks them. Their
    // indices are clamped so that the admitted tree holds no wild value.
    const bool leaf = left[i] == -1;
    // A reachable vector leaf's `right` names its vector (checked above).
    const bool vector_leaf = leaf && out.leaf_size > 1 && reached[i];
    out.nodes[i] = AdmittedTree::Node{
        leaf ? -1 : static_cast<std::int32_t>(std::clamp<std::int64_t>(left[i], -1, last_node)),
        vector_leaf ? static_cast<std::int32_t>(right[i])
        : leaf      ? -1
                    : static_cast<std::int32_t>(std::clamp<std::int64_t>(right[i], -1, last_node)),
        static_cast<std::uint32_t>(std::clamp<std::int64_t>(feature[i], 0, kMaxFeatures)),
        condition[i], default_left[i] != 0, split_type[i] == 1};
  }
  return out;
}

}  // namespace inferloop::detail
