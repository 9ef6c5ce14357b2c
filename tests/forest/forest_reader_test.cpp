// ForestModel on tiny models written inline, whose outputs are checked by
// hand: split test, missing values, categorical sets, base_score forms, dart
// weights, node relayout; and precise errors for models it must refuse or
// that are damaged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"

namespace inferloop {
namespace {

using json = nlohmann::json;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Tree A: feature 0 < 1.0 ? 0.25 : -0.5; a missing value goes right.
// Its node ids are deliberately not breadth-first: the root's children are 2, 1.
json tree_numeric() {
  return {{"tree_param", {{"num_nodes", "3"}, {"size_leaf_vector", "1"}}},
          {"left_children", {2, -1, -1}},
          {"right_children", {1, -1, -1}},
          {"split_indices", {0, 0, 0}},
          {"split_conditions", {1.0, -0.5, 0.25}},
          {"default_left", {0, 0, 0}},
          {"split_type", {0, 0, 0}},
          {"categories", json::array()},
          {"categories_nodes", json::array()},
          {"categories_segments", json::array()},
          {"categories_sizes", json::array()}};
}

// Tree B: feature 1 in {1, 3} ? 2.0 : 1.0 (right is "in the set"); missing goes left.
json tree_categorical() {
  return {{"tree_param", {{"num_nodes", "3"}, {"size_leaf_vector", "1"}}},
          {"left_children", {1, -1, -1}},
          {"right_children", {2, -1, -1}},
          {"split_indices", {1, 0, 0}},
          {"split_conditions", {0.0, 1.0, 2.0}},
          {"default_left", {true, false, false}},
          {"split_type", {1, 0, 0}},
          {"categories", {3, 1}},
          {"categories_nodes", {0}},
          {"categories_segments", {0}},
          {"categories_sizes", {2}}};
}

// `trees` is a vector, not a json: a json initialised from {one_tree} is that
// tree itself under clang (nlohmann's brace-initialisation), not an array.
json model(const std::string& objective, const std::string& base_score,
           const std::vector<json>& trees,
           const std::string& booster = "gbtree", json weight_drop = nullptr) {
  json tree_info = json::array();
  for (std::size_t i = 0; i < trees.size(); ++i) tree_info.push_back(0);
  json gbtree_model = {{"gbtree_model_param", {{"num_trees", std::to_string(trees.size())}}},
                       {"trees", json(trees)},
                       {"tree_info", tree_info}};
  json gradient_booster = {{"name", booster}};
  if (booster == "dart") {
    gradient_booster["gbtree"] = {{"name", "gbtree"}, {"model", gbtree_model}};
    gradient_booster["weight_drop"] = weight_drop;
  } else {
    gradient_booster["model"] = gbtree_model;
  }
  return {{"version", {3, 2, 0}},
          {"learner",
           {{"learner_model_param",
             {{"base_score", base_score}, {"num_feature", "2"}, {"num_class", "0"},
              {"num_target", "1"}}},
            {"objective", {{"name", objective}}},
            {"feature_names", {"price", "venue"}},
            {"gradient_booster", gradient_booster}}}};
}

ForestModel parse_json(const json& document) {
  const std::string text = document.dump();
  return ForestModel::parse({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                            ModelFormat::kJson, "tiny.json");
}

float predict_one(const ForestModel& forest, std::vector<float> row,
                  OutputKind kind = OutputKind::kMargin) {
  float out = -12345.0F;
  forest.predict(row, 1, {&out, 1}, kind);
  return out;
}

std::string error_of(const json& document) {
  try {
    (void)parse_json(document);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ForestReader, NumericAndCategoricalSplitsByHand) {
  const ForestModel forest =
      parse_json(model("reg:squarederror", "5E-1", {tree_numeric(), tree_categorical()}));
  EXPECT_EQ(forest.num_features(), 2u);
  EXPECT_EQ(forest.num_trees(), 2u);
  EXPECT_EQ(forest.feature_names(), (std::vector<std::string>{"price", "venue"}));
  EXPECT_EQ(forest.saved_by_version(), (std::vector<int>{3, 2, 0}));
  // 0.5 + A + B
  EXPECT_EQ(predict_one(forest, {0.0F, 1.0F}), 0.5F + 0.25F + 2.0F);    // left; in set
  EXPECT_EQ(predict_one(forest, {1.0F, 3.0F}), 0.5F - 0.5F + 2.0F);     // 1.0 is not < 1.0
  EXPECT_EQ(predict_one(forest, {kNaN, kNaN}), 0.5F - 0.5F + 1.0F);     // defaults: right, left
  EXPECT_EQ(predict_one(forest, {0.0F, 3.7F}), 0.5F + 0.25F + 2.0F);    // 3.7 is category 3
  EXPECT_EQ(predict_one(forest, {0.0F, 2.0F}), 0.5F + 0.25F + 1.0F);    // not in the set
  EXPECT_EQ(predict_one(forest, {0.0F, -1.0F}), 0.5F + 0.25F + 1.0F);   // negative: left
  EXPECT_EQ(predict_one(forest, {0.0F, 3e7F}), 0.5F + 0.25F + 1.0F);    // >= 2^24: left
  EXPECT_EQ(predict_one(forest, {-std::numeric_limits<float>::infinity(), 1.0F}), 2.75F);
  EXPECT_EQ(predict_one(forest, {std::numeric_limits<float>::infinity(), 1.0F}), 2.0F);
}

// A numeric tree from (left, right, feature, condition, default_left) rows;
// a leaf has left -1 and its value as condition.
json tree_of(const std::vector<std::tuple<int, int, int, float, bool>>& nodes) {
  json left = json::array(), right = json::array(), feature = json::array(),
       condition = json::array(), default_left = json::array(), split_type = json::array();
  for (const auto& [l, r, f, c, d] : nodes) {
    left.push_back(l);
    right.push_back(r);
    feature.push_back(f);
    condition.push_back(c);
    default_left.push_back(d ? 1 : 0);
    split_type.push_back(0);
  }
  return {{"tree_param", {{"num_nodes", std::to_string(nodes.size())}, {"size_leaf_vector", "1"}}},
          {"left_children", left},
          {"right_children", right},
          {"split_indices", feature},
          {"split_conditions", condition},
          {"default_left", default_left},
          {"split_type", split_type},
          {"categories", json::array()},
          {"categories_nodes", json::array()},
          {"categories_segments", json::array()},
          {"categories_sizes", json::array()}};
}

// XGBoost's rule, node by node on the JSON: a missing value takes the
// default, a present one goes right iff !(value < condition).
float reference_leaf(const json& tree, const std::vector<float>& row) {
  int node = 0;
  while (tree["left_children"][node].get<int>() != -1) {
    const float value = row[tree["split_indices"][node].get<std::size_t>()];
    const float condition = tree["split_conditions"][node].is_null()
                                ? kNaN
                                : tree["split_conditions"][node].get<float>();
    const bool right = std::isnan(value) ? tree["default_left"][node].get<int>() == 0
                                         : !(value < condition);
    node = tree[right ? "right_children" : "left_children"][node].get<int>();
  }
  return tree["split_conditions"][node].get<float>();
}

TEST(ForestReader, ShallowAndDeepNumericTreesFollowXGBoostsRuleForEveryValue) {
  const float inf = std::numeric_limits<float>::infinity();
  const float max = std::numeric_limits<float>::max();
  // Leaves at several depths (a shallow leaf is padded in the compact
  // layout), both defaults, NaN conditions (every present value goes right).
  const std::vector<json> shapes = {
      tree_numeric(),
      tree_of({{1, 2, 1, -2.0F, true}, {-1, -1, 0, 1.0F, false}, {-1, -1, 0, 3.0F, false}}),
      tree_of({{1, 2, 0, 0.0F, false},
               {-1, -1, 0, 0.125F, false},
               {3, 4, 1, 5.0F, true},
               {5, 6, 0, 10.0F, false},
               {-1, -1, 0, 1.5F, false},
               {-1, -1, 0, 0.5F, false},
               {-1, -1, 0, 0.75F, false}}),
      tree_of({{1, 2, 1, kNaN, false}, {-1, -1, 0, -4.0F, false}, {-1, -1, 0, 8.0F, false}}),
      tree_of({{1, 2, 0, kNaN, true}, {-1, -1, 0, 16.0F, false}, {-1, -1, 0, -32.0F, false}}),
      tree_of({{-1, -1, 0, 0.0625F, false}}),
  };
  // A chain deeper than any compact layout, alone in the second block of 32.
  std::vector<std::tuple<int, int, int, float, bool>> chain;
  for (int depth = 0; depth < 14; ++depth) {
    const int next = 2 * depth + 2;
    chain.emplace_back(2 * depth + 1, next, depth % 2, static_cast<float>(depth - 7),
                       depth % 3 == 0);
    chain.emplace_back(-1, -1, 0, 0.5F * static_cast<float>(depth), false);
  }
  chain.emplace_back(-1, -1, 0, 100.0F, false);
  std::vector<json> trees;
  for (std::size_t t = 0; t < 32; ++t) trees.push_back(shapes[(t * 7) % shapes.size()]);
  trees.push_back(tree_of(chain));
  trees.push_back(shapes[2]);
  // UBJSON carries the NaN conditions (JSON text cannot).
  const std::vector<std::uint8_t> ubjson = json::to_ubjson(model("reg:squarederror", "5E-1", trees));
  const ForestModel forest = ForestModel::parse(ubjson, ModelFormat::kUbjson, "shapes.ubj");

  const std::vector<float> values = {kNaN, -inf, inf,  -max, max,  -7.0F, -2.0F, -0.0F,
                                     0.0F, 1.0F, 5.0F, 6.0F, 10.0F, 1.0000001F};
  std::vector<float> rows;
  std::vector<float> expected;
  for (const float a : values) {
    for (const float b : values) {
      const std::vector<float> row{a, b};
      float margin = 0.5F;
      for (const json& tree : trees) margin += reference_leaf(tree, row);
      rows.insert(rows.end(), row.begin(), row.end());
      expected.push_back(margin);
      EXPECT_EQ(predict_one(forest, row), margin) << "row " << a << ", " << b;
    }
  }
  std::vector<float> batch(expected.size());
  forest.predict(rows, expected.size(), batch, OutputKind::kMargin);
  EXPECT_EQ(batch, expected);
}

TEST(ForestReader, LogisticBaseScoreBecomesAMarginAndTheSigmoidIsXGBoosts) {
  // 3.1+ writes base_score as an array; earlier versions as a scalar.
  for (const char* base_score : {"[2.5E-1]", "2.5E-1"}) {
    SCOPED_TRACE(base_score);
    const ForestModel forest = parse_json(model("binary:logistic", base_score, {tree_numeric()}));
    const float base_margin = -std::log(1.0F / 0.25F - 1.0F);
    EXPECT_EQ(predict_one(forest, {0.0F, 0.0F}), base_margin + 0.25F);
    const float margin = base_margin - 0.5F;
    const float expected = 1.0F / (std::exp(std::min(-margin, 88.7F)) + 1.0F + 1e-16F);
    EXPECT_EQ(predict_one(forest, {2.0F, 0.0F}, OutputKind::kTransformed), expected);
  }
  const ForestModel poisson = parse_json(model("count:poisson", "[2E0]", {tree_numeric()}));
  EXPECT_EQ(predict_one(poisson, {0.0F, 0.0F}), std::log(2.0F) + 0.25F);
  EXPECT_EQ(predict_one(poisson, {0.0F, 0.0F}, OutputKind::kTransformed),
            std::exp(std::log(2.0F) + 0.25F));
}

TEST(ForestReader, DartScalesEachTreeByItsWeight) {
  const ForestModel forest = parse_json(
      model("reg:squarederror", "0E0", {tree_numeric(), tree_numeric()}, "dart", {0.5, 2.0}));
  EXPECT_EQ(predict_one(forest, {0.0F, 0.0F}), 0.25F * 0.5F + 0.25F * 2.0F);
}

TEST(ForestReader, UbjsonReadsTheSameModel) {
  json document = model("reg:squarederror", "5E-1", {tree_numeric(), tree_categorical()});
  // xgboost writes default_left as integers; a UBJSON false is refused (libxgboost 1.7
  // reads it as true).
  document["learner"]["gradient_booster"]["model"]["trees"][1]["default_left"] = {1, 0, 0};
  const std::vector<std::uint8_t> ubjson = json::to_ubjson(document);
  const ForestModel forest = ForestModel::parse(ubjson, ModelFormat::kUbjson, "tiny.ubj");
  EXPECT_EQ(predict_one(forest, {0.0F, 1.0F}), 2.75F);
  EXPECT_EQ(predict_one(forest, {kNaN, kNaN}), 1.0F);
}

TEST(ForestReader, MulticlassSoftmaxAndSoftprob) {
  json document = model("multi:softprob", "[0E0,1E0,0E0]", {tree_numeric(), tree_numeric(),
                                                            tree_numeric()});
  document["learner"]["learner_model_param"]["num_class"] = "3";
  document["learner"]["gradient_booster"]["model"]["tree_info"] = {0, 1, 1};
  const ForestModel softprob = parse_json(document);
  ASSERT_EQ(softprob.num_outputs(OutputKind::kMargin), 3u);
  std::vector<float> row{0.0F, 0.0F}, margin(3), probability(3);
  softprob.predict(row, 1, margin, OutputKind::kMargin);
  EXPECT_EQ(margin, (std::vector<float>{0.25F, 1.5F, 0.0F}));
  softprob.predict(row, 1, probability, OutputKind::kTransformed);
  double sum = 0;
  for (float m : margin) sum += std::exp(m - 1.5F);
  EXPECT_EQ(probability[1], std::exp(0.0F) / static_cast<float>(sum));

  document["learner"]["objective"]["name"] = "multi:softmax";
  const ForestModel softmax = parse_json(document);
  EXPECT_EQ(softmax.num_outputs(OutputKind::kTransformed), 1u);
  EXPECT_EQ(predict_one(softmax, {0.0F, 0.0F}, OutputKind::kTransformed), 1.0F);
}

TEST(ForestReader, RefusesWhatItCannotReproduceWithTheReasonAndWhatToDo) {
  const json good = model("reg:squarederror", "5E-1", {tree_numeric()});

  json unknown = good;
  // E.g. an objective from an xgboost plugin.
  unknown["learner"]["objective"]["name"] = "reg:my_plugin_loss";
  EXPECT_NE(error_of(unknown).find("'tiny.json': learner.objective.name: objective "
                                   "'reg:my_plugin_loss' "
                                   "is not one ForestPredictor can reproduce exactly"),
            std::string::npos)
      << error_of(unknown);

  json linear = good;
  // A valid gblinear model: (num_feature + 1) x 1 weights. The admission
  // gate accepts it (XGBoostPredictor serves it); ForestPredictor cannot.
  linear["learner"]["gradient_booster"] = {{"name", "gblinear"},
                                           {"model", {{"weights", {0.5, -0.25, 1.0}}}}};
  EXPECT_NE(error_of(linear).find("booster \"gblinear\" is not a tree ensemble"), std::string::npos);

  json vector_leaf = good;
  vector_leaf["learner"]["gradient_booster"]["model"]["trees"][0]["tree_param"]["size_leaf_vector"] =
      "3";
  EXPECT_NE(error_of(vector_leaf).find("learner.gradient_booster.model.trees[0].tree_param."
                                       "size_leaf_vector: is 3 but the model has 1 output"),
            std::string::npos)
      << error_of(vector_leaf);

  const std::string legacy = "binf\x01\x02";
  try {
    (void)ForestModel::parse({reinterpret_cast<const std::uint8_t*>(legacy.data()), legacy.size()},
                             ModelFormat::kLegacyBinary, "old.model");
    ADD_FAILURE() << "accepted the legacy binary format";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'old.model': not an XGBoost JSON or UBJSON model ("
                                             "its first bytes are 62 69 6e 66 01 02)"),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("If it is a legacy binary model, re-save it as UBJSON"),
              std::string::npos);
    EXPECT_NE(std::string(error.what()).find("booster.save_model(\"model.ubj\")"), std::string::npos);
  }
}

TEST(ForestReader, DamagedModelsAreErrorsNamingTheKey) {
  const json good = model("reg:squarederror", "5E-1", {tree_numeric(), tree_categorical()});
  const std::string trees = "learner.gradient_booster.model.trees";

  json cycle = good;
  cycle["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"] = {1, 0, -1};
  cycle["learner"]["gradient_booster"]["model"]["trees"][0]["right_children"] = {2, 2, -1};
  EXPECT_NE(error_of(cycle).find(trees + "[0] node 1: child index 0 is not a fresh node"),
            std::string::npos)
      << error_of(cycle);

  json feature = good;
  feature["learner"]["gradient_booster"]["model"]["trees"][1]["split_indices"] = {7, 0, 0};
  EXPECT_NE(error_of(feature).find(trees + "[1] node 0: split feature 7 is not below the model's "
                                   "num_feature 2"),
            std::string::npos)
      << error_of(feature);

  json group = good;
  group["learner"]["gradient_booster"]["model"]["tree_info"] = {0, 4};
  EXPECT_NE(error_of(group).find("learner.gradient_booster.model.tree_info[1]: output group 4"),
            std::string::npos)
      << error_of(group);

  json short_array = good;
  short_array["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"] = {1.0};
  EXPECT_NE(error_of(short_array).find(trees + "[0].split_conditions: has 1 entries, expected 3"),
            std::string::npos)
      << error_of(short_array);

  json categories = good;
  categories["learner"]["gradient_booster"]["model"]["trees"][1]["categories_sizes"] = {5};
  EXPECT_NE(error_of(categories).find("its categories_segments/categories_sizes run past"),
            std::string::npos)
      << error_of(categories);

  json base = good;
  base["learner"]["learner_model_param"]["base_score"] = "[0.5,x]";
  EXPECT_NE(error_of(base).find("learner.learner_model_param.base_score: cannot read base_score"),
            std::string::npos)
      << error_of(base);

  const std::string truncated = good.dump().substr(0, 100);
  try {
    (void)ForestModel::parse(
        {reinterpret_cast<const std::uint8_t*>(truncated.data()), truncated.size()},
        ModelFormat::kJson, "cut.json");
    ADD_FAILURE() << "accepted a truncated file";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'cut.json': not an XGBoost model: it does not parse "
                                             "as JSON ("),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("re-save the model"), std::string::npos);
  }
}

// Malformed files of the kinds the fuzzer produces: each must be an
// inferloop::Error naming the file, never a crash or a bad read.
TEST(ForestReader, MalformedFilesAreErrorsNotCrashes) {
  const json good = model("reg:squarederror", "5E-1", {tree_numeric(), tree_categorical()});
  const std::string trees = "learner.gradient_booster.model.trees";
  struct Case {
    const char* what;
    json document;
    std::string expected;  // a part of the message
  };
  std::vector<Case> cases;
  auto add = [&](const char* what, auto&& edit, std::string expected) {
    json document = good;
    edit(document);
    cases.push_back({what, std::move(document), std::move(expected)});
  };
  const auto first_tree = [](json& d) -> json& {
    return d["learner"]["gradient_booster"]["model"]["trees"][0];
  };
  add("self loop", [&](json& d) { first_tree(d)["left_children"] = {0, -1, -1}; },
      trees + "[0] node 0: child index 0 is not a fresh node");
  add("child past the end", [&](json& d) { first_tree(d)["right_children"] = {9, -1, -1}; },
      trees + "[0] node 0: child index 9 is not a fresh node");
  add("negative feature", [&](json& d) { first_tree(d)["split_indices"] = {-3, 0, 0}; },
      trees + "[0] node 0: split feature -3 is not below");
  add("trees not an array",
      [](json& d) { d["learner"]["gradient_booster"]["model"]["trees"] = "x"; },
      trees + ": expected an array, found string");
  add("tree_info shorter than trees",
      [](json& d) { d["learner"]["gradient_booster"]["model"]["tree_info"] = {0}; },
      "tree_info: has 1 entries, expected 2");
  add("empty tree", [&](json& d) {
        for (const char* key : {"left_children", "right_children", "split_indices",
                                "split_conditions", "default_left", "split_type"}) {
          first_tree(d)[key] = json::array();
        }
      },
      trees + "[0].left_children: the tree has no nodes");
  add("string where a number belongs",
      [&](json& d) { first_tree(d)["split_conditions"] = {"1.0", -0.5, 0.25}; },
      trees + "[0].split_conditions[0]: expected a number, found string");
  add("num_feature not a number",
      [](json& d) { d["learner"]["learner_model_param"]["num_feature"] = "many"; },
      "learner.learner_model_param.num_feature: expected an integer, found 'many'");
  add("negative num_feature",
      [](json& d) { d["learner"]["learner_model_param"]["num_feature"] = "-1"; },
      "learner.learner_model_param.num_feature: -1 is outside [1, 4194304]");
  add("category out of range",
      [](json& d) { d["learner"]["gradient_booster"]["model"]["trees"][1]["categories"] = {3, -1}; },
      trees + "[1].categories[1]: category -1 is outside [0, 2^24)");
  add("unknown split type",
      [](json& d) { d["learner"]["gradient_booster"]["model"]["trees"][1]["split_type"] = {7, 0, 0}; },
      trees + "[1] node 0: unknown split_type 7");
  add("logistic base_score outside (0, 1)", [](json& d) {
        d["learner"]["objective"]["name"] = "binary:logistic";
        d["learner"]["learner_model_param"]["base_score"] = "[1.5E0]";
      },
      "base_score 1.500000 of objective binary:logistic must lie strictly between 0 and 1");
  add("base_score vector of the wrong length",
      [](json& d) { d["learner"]["learner_model_param"]["base_score"] = "[1E0,2E0]"; },
      "base_score: has 2 values for 1 output groups");
  add("no learner", [](json& d) { d.erase("learner"); },
      "'tiny.json': not an XGBoost model: it is valid JSON but has no \"learner\" object");
  add("document not an object", [](json& d) { d = json::array({1, 2}); },
      "'tiny.json': not an XGBoost model: it is valid JSON but has no \"learner\" object");

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string message = error_of(c.document);
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_EQ(message.rfind("'tiny.json': ", 0), 0u) << message;
  }

  // Bytes that are not a model at all, in either format.
  for (const auto& [bytes, format] :
       {std::pair{std::string("\x5b\x24\x69\x23\x4c\x7f\xff\xff\xff\xff\xff\xff\xff"),
                  ModelFormat::kUbjson},  // a typed array claiming 2^63 entries
        std::pair{std::string("{\"learner\": NaN"), ModelFormat::kJson},
        std::pair{std::string(""), ModelFormat::kJson},
        std::pair{std::string(""), ModelFormat::kUbjson}}) {
    SCOPED_TRACE(bytes);
    try {
      (void)ForestModel::parse({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()},
                               format, "junk.bin");
      ADD_FAILURE() << "accepted junk";
    } catch (const Error& error) {
      EXPECT_EQ(std::string(error.what()).rfind("'junk.bin': ", 0), 0u) << error.what();
    }
  }
}

// The admission gate's checks that only a hand-made forest shows; each
// guards a read libxgboost makes without checking (src/model/admission.hpp).
TEST(ForestReader, TheGateRefusesInconsistentCategoriesCountsAndVectorLeaves) {
  const json good = model("reg:squarederror", "5E-1", {tree_numeric(), tree_categorical()});
  const std::string trees = "learner.gradient_booster.model.trees";
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    std::string expected;
  };
  const auto second_tree = [](json& d) -> json& {
    return d["learner"]["gradient_booster"]["model"]["trees"][1];
  };
  const std::vector<Case> cases = {
      {"categorical split without categories",
       [&](json& d) {
         second_tree(d)["categories_nodes"] = json::array();
         second_tree(d)["categories_segments"] = json::array();
         second_tree(d)["categories_sizes"] = json::array();
       },
       trees + "[1] node 0: has split_type 1 (categorical) but no entry in categories_nodes"},
      {"categories on a numeric node",
       [&](json& d) { second_tree(d)["split_type"] = {0, 0, 0}; },
       trees + "[1].categories_nodes[0]: node 0 has categories but its split_type is not 1"},
      {"categories_nodes out of order",
       [&](json& d) {
         second_tree(d)["split_type"] = {1, 1, 0};
         second_tree(d)["categories_nodes"] = {1, 0};
         second_tree(d)["categories_segments"] = {0, 1};
         second_tree(d)["categories_sizes"] = {1, 1};
       },
       trees + "[1].categories_nodes[1]: node 0 is not above the previous entry"},
      {"an empty category run",
       [&](json& d) { second_tree(d)["categories_sizes"] = {0}; },
       trees + "[1].categories_nodes[0]: its categories_segments/categories_sizes run past "
               "categories (or name no category)"},
      {"iteration_indptr past the trees",
       [](json& d) { d["learner"]["gradient_booster"]["model"]["iteration_indptr"] = {0, 1, 3}; },
       "learner.gradient_booster.model.iteration_indptr: does not end at the model's 2 trees"},
      {"num_parallel_tree zero",
       [](json& d) {
         d["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_parallel_tree"] = "0";
       },
       "gbtree_model_param.num_parallel_tree: 0 is outside [1, 2]"},
      {"vector leaves in a model of one output",
       [&](json& d) { second_tree(d)["tree_param"]["size_leaf_vector"] = "2"; },
       trees + "[1].tree_param.size_leaf_vector: is 2 but the model has 1 output per row "
               "(num_class, num_target): each vector leaf holds one value per output"},
      {"feature_names of another width",
       [](json& d) { d["learner"]["feature_names"] = {"only_one"}; },
       "learner.feature_names: has 1 entries for the model's num_feature 2"},
      {"gblinear with too few weights",
       [](json& d) {
         d["learner"]["gradient_booster"] = {{"name", "gblinear"},
                                             {"model", {{"weights", {0.5, -0.25}}}}};
       },
       "learner.gradient_booster.model.weights: has 2 entries, expected 3"},
      {"an unknown booster",
       [](json& d) { d["learner"]["gradient_booster"]["name"] = "gbforest"; },
       "learner.gradient_booster.name: booster 'gbforest' is not one xgboost writes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    json document = good;
    c.edit(document);
    EXPECT_THAT(error_of(document), ::testing::HasSubstr(c.expected));
  }

  // libxgboost allocates a bitset up to each categorical split's largest
  // category: 2 MiB for 2^24 - 1, from a file of a few hundred bytes.
  json wide_categories = tree_categorical();
  wide_categories["categories"] = {16777215};
  wide_categories["categories_sizes"] = {1};
  std::vector<json> many(12, wide_categories);
  EXPECT_THAT(error_of(model("reg:squarederror", "5E-1", many)),
              ::testing::HasSubstr("categories_nodes[0]: its categories (up to 16777215) and "
                                   "those before it would need more bitset memory than a model "
                                   "of this size can"));
}

// Tree V, vector leaves of two outputs in xgboost 3.2's layout: feature 0 <
// 1.0 ? {0.25, -1} : {-0.5, 2}; a missing value goes right. Each leaf's
// right_children entry names its vector in leaf_weights (node 1 owns vector
// 1, node 2 vector 0); the leaves' split_conditions are not values (xgboost
// writes 1e-45 there). `scale` multiplies the leaf values.
json tree_vector(float scale = 1.0F) {
  return {{"tree_param", {{"num_nodes", "3"}, {"size_leaf_vector", "2"}}},
          {"left_children", {1, -1, -1}},
          {"right_children", {2, 1, 0}},
          {"split_indices", {0, 0, 0}},
          {"split_conditions", {1.0, 1e-45, 1e-45}},
          {"default_left", {0, 0, 0}},
          {"split_type", {0, 0, 0}},
          {"categories", json::array()},
          {"categories_nodes", json::array()},
          {"categories_segments", json::array()},
          {"categories_sizes", json::array()},
          {"base_weights", {0.0, 0.0, 0.25 * scale, -1.0 * scale, -0.5 * scale, 2.0 * scale}},
          {"leaf_weights", {-0.5 * scale, 2.0 * scale, 0.25 * scale, -1.0 * scale}}};
}

// A model of two targets (multi_strategy="multi_output_tree") over `trees`.
json vector_model(const std::string& objective, const std::vector<json>& trees,
                  const std::string& base_score = "[5E-1,1E0]") {
  json document = model(objective, base_score, trees);
  document["learner"]["learner_model_param"]["num_target"] = "2";
  return document;
}

TEST(ForestReader, VectorLeavesAddOneValueToEachOutputInTreeOrder) {
  const ForestModel forest =
      parse_json(vector_model("reg:squarederror", {tree_vector(), tree_vector(0.125F)}));
  EXPECT_EQ(forest.num_trees(), 2u);
  EXPECT_EQ(forest.num_outputs(OutputKind::kMargin), 2u);
  std::vector<float> out(2);
  const auto predict = [&](float price) {
    const std::vector<float> row = {price, 0.0F};
    forest.predict(row, 1, out, OutputKind::kMargin);
    return out;
  };
  EXPECT_EQ(predict(0.0F), (std::vector<float>{0.5F + 0.25F + 0.03125F, 1.0F - 1.0F - 0.125F}));
  EXPECT_EQ(predict(1.0F), (std::vector<float>{0.5F - 0.5F - 0.0625F, 1.0F + 2.0F + 0.25F}));
  EXPECT_EQ(predict(kNaN), (std::vector<float>{0.5F - 0.5F - 0.0625F, 1.0F + 2.0F + 0.25F}));

  // binary:logistic: one sigmoid per output (a multi-label model).
  const ForestModel labels = parse_json(vector_model("binary:logistic", {tree_vector()}, "[5E-1,2.5E-1]"));
  const std::vector<float> row = {0.0F, 0.0F};
  std::vector<float> margin(2), probability(2);
  labels.predict(row, 1, margin, OutputKind::kMargin);
  labels.predict(row, 1, probability, OutputKind::kTransformed);
  EXPECT_EQ(margin[0], 0.25F);                                // logit(0.5) + 0.25
  EXPECT_EQ(margin[1], -std::log(1.0F / 0.25F - 1.0F) - 1.0F);  // logit(0.25) - 1
  EXPECT_EQ(probability[0], 1.0F / (1.0F + std::exp(-margin[0])));
  EXPECT_EQ(probability[1], 1.0F / (1.0F + std::exp(-margin[1])));
}

TEST(ForestReader, TheGateRefusesVectorLeavesItCannotCheckOrXGBoostDoesNotPredict) {
  const std::string trees = "learner.gradient_booster.model.trees";
  const std::string resave = "if the file was not written by xgboost's save_model";
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    std::string expected;
  };
  const auto first_tree = [](json& d) -> json& {
    return d["learner"]["gradient_booster"]["model"]["trees"][0];
  };
  const std::vector<Case> cases = {
      {"a leaf's vector past leaf_weights",
       [&](json& d) { first_tree(d)["right_children"][1] = 2; },
       trees + "[0] node 1: leaf vector 2 (its right_children entry) is not one of the tree's 2 "
               "vectors in leaf_weights, or is another leaf's; " + resave},
      {"a negative vector index",
       [&](json& d) { first_tree(d)["right_children"][2] = -1; },
       trees + "[0] node 2: leaf vector -1"},
      {"two leaves share a vector",
       [&](json& d) { first_tree(d)["right_children"][2] = 1; },
       trees + "[0] node 2: leaf vector 1 (its right_children entry) is not one of the tree's "
               "2 vectors in leaf_weights, or is another leaf's"},
      {"leaf_weights one value short",
       [&](json& d) { first_tree(d)["leaf_weights"].erase(3); },
       trees + "[0].leaf_weights: has 3 entries, expected 4"},
      {"base_weights not a whole number of values per node",
       [&](json& d) { first_tree(d)["base_weights"].erase(5); },
       trees + "[0].base_weights: has 5 entries, expected 1 to 2 per node (3 nodes)"},
      {"more values per leaf than outputs",
       [&](json& d) { first_tree(d)["tree_param"]["size_leaf_vector"] = "3"; },
       trees + "[0].tree_param.size_leaf_vector: is 3 but the model has 2 outputs per row"},
      {"the layout before xgboost 3.2",
       [&](json& d) { first_tree(d).erase("leaf_weights"); },
       trees + "[0]: the tree has vector leaves (size_leaf_vector=2) in the layout of xgboost "
               "2.0-3.1, without leaf_weights, which libxgboost 3.2 and newer cannot load and "
               "inferloop does not admit; re-train with xgboost 3.2 or newer, or train with the "
               "default multi_strategy=\"one_output_per_tree\""},
      {"a scalar tree after a vector one",
       [&](json& d) {
         json scalar = tree_numeric();
         d["learner"]["gradient_booster"]["model"]["trees"].push_back(scalar);
         d["learner"]["gradient_booster"]["model"]["tree_info"].push_back(0);
         d["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "2";
       },
       trees + "[1].tree_param.size_leaf_vector: is 1 but tree 0's is 2 (xgboost gives every "
               "tree of a model the same kind of leaves)"},
      {"a categorical split",
       [&](json& d) {
         first_tree(d)["split_type"] = {1, 0, 0};
         first_tree(d)["categories"] = {1};
         first_tree(d)["categories_nodes"] = {0};
         first_tree(d)["categories_segments"] = {0};
         first_tree(d)["categories_sizes"] = {1};
       },
       trees + "[0]: the tree has vector leaves and categorical splits, which xgboost does not "
               "train"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    json document = vector_model("reg:squarederror", {tree_vector()});
    c.edit(document);
    EXPECT_THAT(error_of(document), ::testing::HasSubstr(c.expected));
  }

  json dart = model("reg:squarederror", "[5E-1,1E0]", {tree_vector()}, "dart", {1.0});
  dart["learner"]["learner_model_param"]["num_target"] = "2";
  EXPECT_THAT(error_of(dart),
              ::testing::HasSubstr("learner.gradient_booster: a dart booster with vector leaves, "
                                   "which xgboost neither trains nor predicts"));
}

// xgboost 3.1+'s "cats" container is read by index on load: each part must
// fit the others.
TEST(ForestReader, TheGateChecksXGBoost31CategoryContainer) {
  json document = model("reg:squarederror", "5E-1", {tree_numeric()});
  json& ensemble = document["learner"]["gradient_booster"]["model"];
  ensemble["cats"] = {{"enc", {json::object({{"offsets", json::array()}, {"values", json::array()}}),
                               json::object({{"type", 15}, {"values", {0, 1, 2}}})}},
                      {"feature_segments", {0, 0, 3}},
                      {"sorted_idx", {0, 1, 2}}};
  EXPECT_EQ(error_of(document), "(no error)");
  const std::string cats = "learner.gradient_booster.model.cats";
  json wrong_segments = document;
  wrong_segments["learner"]["gradient_booster"]["model"]["cats"]["feature_segments"] = {0, 0, 5};
  EXPECT_THAT(error_of(wrong_segments),
              ::testing::HasSubstr(cats + ".feature_segments[2]: does not delimit the 3 categories "
                                          "of feature 1"));
  json huge_segments = document;
  huge_segments["learner"]["gradient_booster"]["model"]["cats"]["feature_segments"] = {
      0, -9223372036854775807LL, 3};
  EXPECT_THAT(error_of(huge_segments),
              ::testing::HasSubstr(cats + ".feature_segments[1]: is outside [0, 2^31)"));
  json wrong_index = document;
  wrong_index["learner"]["gradient_booster"]["model"]["cats"]["sorted_idx"] = {0, 1, 7};
  EXPECT_THAT(error_of(wrong_index),
              ::testing::HasSubstr(cats + ".sorted_idx[2]: is not an index into feature 1's "
                                          "categories"));
}

// A JSON number beyond float32's range becomes infinity, as xgboost reads
// it, rather than an undefined conversion.
TEST(ForestReader, ANumberBeyondFloat32IsInfinity) {
  json tree = tree_numeric();
  tree["split_conditions"] = {1.0, -1e300, 1e300};
  const ForestModel forest = parse_json(model("reg:squarederror", "0E0", {tree}));
  EXPECT_EQ(predict_one(forest, {0.0F, 0.0F}), std::numeric_limits<float>::infinity());
  EXPECT_EQ(predict_one(forest, {2.0F, 0.0F}), -std::numeric_limits<float>::infinity());
}

// xgboost's JSON writer emits NaN and Infinity as bare literals; they are
// read as the float values, in a split condition and in a leaf.
TEST(ForestReader, NaNAndInfinityLiteralsAreReadAsXGBoostReadsThem) {
  json tree = tree_numeric();
  tree["split_conditions"] = {"NaN-placeholder", "Infinity-placeholder", 0.25};
  std::string text = model("reg:squarederror", "0E0", {tree}).dump();
  for (const auto& [placeholder, literal] : {std::pair{"\"NaN-placeholder\"", "NaN"},
                                             std::pair{"\"Infinity-placeholder\"", "-Infinity"}}) {
    text.replace(text.find(placeholder), std::string(placeholder).size(), literal);
  }
  ASSERT_NE(text.find("[NaN,-Infinity,"), std::string::npos) << text;
  const ForestModel forest = ForestModel::parse(
      {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, ModelFormat::kJson,
      "literals.json");
  // A NaN threshold sends every present value right (node 1, -inf); a
  // missing one takes the default (right).
  EXPECT_EQ(predict_one(forest, {-5.0F, 0.0F}), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(predict_one(forest, {kNaN, 0.0F}), -std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace inferloop
