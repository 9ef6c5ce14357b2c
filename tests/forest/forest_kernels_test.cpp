// The kernel sets (src/forest/forest_kernels.hpp) at the limits of the bins,
// on inline models whose outputs the test derives from XGBoost's split rule:
// a feature with the most distinct thresholds one bin column holds (255, so
// every 16-ary bin search reaches its last block), one more (a second column
// for the 256th), several columns per feature and several features, and a
// model whose columns no tile holds (the row walk only), each on every set
// this CPU runs, with each set's own walk, with the tile walk forced and
// with the row walk in C++ alone (what CPUs other than x86-64 run).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "forest/forest_model.hpp"
#include "inferloop/forest.hpp"

namespace inferloop {
namespace {

using json = nlohmann::json;

constexpr float kBaseScore = 0.5F;  // reg:squarederror: the base margin as it is

// `count` stumps with distinct thresholds spread over negative and positive
// values, distinct leaves and alternating missing defaults; stump i splits
// on feature i % features.
struct Stump {
  float threshold;
  float left;
  float right;
  bool default_left;
  std::size_t feature = 0;
};

std::vector<Stump> stumps(std::size_t count, std::size_t features = 1) {
  std::vector<Stump> result;
  for (std::size_t i = 0; i < count; ++i) {
    const auto position = static_cast<float>(i);
    result.push_back(Stump{position * 0.75F - 90.0F, -position / 1024.0F,
                           (position + 1.0F) / 512.0F, i % 2 == 0, i % features});
  }
  return result;
}

json model_document(const std::vector<Stump>& trees, std::size_t features = 1) {
  json list = json::array(), tree_info = json::array();
  for (const Stump& stump : trees) {
    list.push_back({{"tree_param", {{"num_nodes", "3"}, {"size_leaf_vector", "1"}}},
                    {"left_children", {1, -1, -1}},
                    {"right_children", {2, -1, -1}},
                    {"split_indices", {stump.feature, 0, 0}},
                    {"split_conditions", {stump.threshold, stump.left, stump.right}},
                    {"default_left", {stump.default_left ? 1 : 0, 0, 0}},
                    {"split_type", {0, 0, 0}},
                    {"categories", json::array()},
                    {"categories_nodes", json::array()},
                    {"categories_segments", json::array()},
                    {"categories_sizes", json::array()}});
    tree_info.push_back(0);
  }
  const json document = {
      {"version", {3, 2, 0}},
      {"learner",
       {{"learner_model_param",
         {{"base_score", "5E-1"},
          {"num_feature", std::to_string(features)},
          {"num_class", "0"},
          {"num_target", "1"}}},
        {"objective", {{"name", "reg:squarederror"}}},
        {"gradient_booster",
         {{"name", "gbtree"},
          {"model",
           {{"gbtree_model_param", {{"num_trees", std::to_string(trees.size())}}},
            {"trees", list},
            {"tree_info", tree_info}}}}}}}};
  return document;
}

std::string model_json(const std::vector<Stump>& trees, std::size_t features = 1) {
  return model_document(trees, features).dump();
}

ForestModel parse(const std::string& text) {
  return ForestModel::parse({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                            ModelFormat::kJson, "stumps.json");
}

// Every threshold, the float just below it, both infinities, NaN, -0 and
// values past either end: each lands on a bin edge or outside the table.
std::vector<float> edge_values(const std::vector<Stump>& trees) {
  std::vector<float> values;
  for (const Stump& stump : trees) {
    values.push_back(stump.threshold);
    values.push_back(std::nextafter(stump.threshold, -std::numeric_limits<float>::infinity()));
  }
  for (const float value : {std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), -0.0F, 1e30F, -1e30F}) {
    values.push_back(value);
  }
  return values;
}

// Rows of `features` features: row i holds value i of `values` in feature
// 0, and in feature f the value `f` places further on (so every feature
// sees every value, in different rows).
std::vector<float> rows_of(const std::vector<float>& values, std::size_t features) {
  std::vector<float> rows(values.size() * features);
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (std::size_t f = 0; f < features; ++f) {
      rows[i * features + f] = values[(i + 7 * f) % values.size()];
    }
  }
  return rows;
}

// XGBoost's rule, summed in tree order in float32 from the base margin.
float expected_margin(const std::vector<Stump>& trees, const float* row) {
  float margin = kBaseScore;
  for (const Stump& stump : trees) {
    const float value = row[stump.feature];
    const bool right = std::isnan(value) ? !stump.default_left : !(value < stump.threshold);
    margin += right ? stump.right : stump.left;
  }
  return margin;
}

std::uint32_t bits(float value) {
  std::uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  return word;
}

void expect_every_set_agrees(const ForestModel& model, const std::vector<Stump>& trees,
                             const std::vector<float>& rows, std::size_t features) {
  const std::size_t count = rows.size() / features;
  for (const detail::ForestIsa isa : detail::supported_forest_isas()) {
    for (const detail::ForestWalks walks :
             {detail::ForestWalks::kBySize, detail::ForestWalks::kTileEveryBatch,
              detail::ForestWalks::kPortableRowWalk}) {
      SCOPED_TRACE("kernels " + std::string(detail::to_string(isa)) +
                   ", " + std::string(detail::to_string(walks)));
      const ForestModel on_isa = detail::ForestModelAccess::with_isa(model, isa, walks);
      std::vector<float> margins(count, -1.0F);
      on_isa.predict(rows, count, margins, OutputKind::kMargin);
      for (std::size_t row = 0; row < count; ++row) {
        ASSERT_EQ(bits(margins[row]), bits(expected_margin(trees, rows.data() + row * features)))
            << "row " << row << ", feature 0 value " << rows[row * features];
      }
    }
  }
}

void expect_every_set_agrees(const std::vector<Stump>& trees, std::size_t features = 1) {
  expect_every_set_agrees(parse(model_json(trees, features)), trees,
                          rows_of(edge_values(trees), features), features);
}

const detail::ForestLayout& layout_of(const ForestModel& model) {
  return detail::ForestModelAccess::engine_of(model).layout;
}

TEST(ForestKernels, TheMostThresholdsOneBinColumnHoldsGiveXGBoostsSumsOnEverySetAndWalk) {
  const std::vector<Stump> trees = stumps(detail::kMaxBins - 1);
  const ForestModel model = parse(model_json(trees));
  const detail::ForestLayout& layout = layout_of(model);
  ASSERT_TRUE(layout.binned) << "255 distinct thresholds on a feature must still have bins";
  EXPECT_EQ(layout.bin_columns, 1u);
  expect_every_set_agrees(trees);
}

TEST(ForestKernels, OneThresholdMoreTakesASecondBinColumnAndTheSameSums) {
  const std::vector<Stump> trees = stumps(detail::kMaxBins);
  const ForestModel model = parse(model_json(trees));
  const detail::ForestLayout& layout = layout_of(model);
  ASSERT_TRUE(layout.binned);
  EXPECT_EQ(layout.bin_columns, 2u) << "the 256th threshold opens a second column";
  expect_every_set_agrees(trees);
}

TEST(ForestKernels, SeveralColumnsPerFeatureOnSeveralFeaturesGiveXGBoostsSums) {
  // 3 features with 334 thresholds each (the loop benchmarks' demo model has
  // 281-334): two columns per feature.
  const std::vector<Stump> trees = stumps(3 * 334, 3);
  const ForestModel model = parse(model_json(trees, 3));
  const detail::ForestLayout& layout = layout_of(model);
  ASSERT_TRUE(layout.binned);
  EXPECT_EQ(layout.bin_columns, 6u);
  EXPECT_EQ(layout.bin_column_feature, (std::vector<std::uint32_t>{0, 0, 1, 1, 2, 2}));
  expect_every_set_agrees(trees, 3);
  // 700 thresholds on one feature: three columns (255, 255, 190).
  const std::vector<Stump> many = stumps(700);
  EXPECT_EQ(layout_of(parse(model_json(many))).bin_columns, 3u);
  expect_every_set_agrees(many);
}

TEST(ForestKernels, ColumnsNoTileHoldsTakeTheRowWalkOnEverySet) {
  // 257 features, one column each: one more than a tile holds.
  const std::vector<Stump> trees = stumps(detail::kMaxBinColumns + 1, detail::kMaxBinColumns + 1);
  ASSERT_FALSE(layout_of(parse(model_json(trees, detail::kMaxBinColumns + 1))).binned)
      << "more bin columns than a tile holds: the row walk only";
  expect_every_set_agrees(trees, detail::kMaxBinColumns + 1);
  // 256 features fit.
  const std::vector<Stump> fitting = stumps(detail::kMaxBinColumns, detail::kMaxBinColumns);
  EXPECT_TRUE(layout_of(parse(model_json(fitting, detail::kMaxBinColumns))).binned);
}

TEST(ForestKernels, SignedZerosInfinitiesAndSubnormalsAsThresholdsSplitAsXGBoostSplits) {
  // The row walk compares integer keys (detail::walk_key): -0 and +0 must be
  // one threshold, the infinities and the subnormals in their places. JSON
  // text has no infinities, so the model travels as UBJSON, as XGBoost
  // writes it.
  constexpr float inf = std::numeric_limits<float>::infinity();
  constexpr float tiny = std::numeric_limits<float>::denorm_min();
  constexpr float max = std::numeric_limits<float>::max();
  std::vector<Stump> trees;
  float leaf = 1.0F;
  for (const float threshold : {-0.0F, 0.0F, -inf, inf, tiny, -tiny, max, -max, 1.0F}) {
    for (const bool default_left : {true, false}) {
      trees.push_back(Stump{threshold, leaf, -2.0F * leaf, default_left});
      leaf *= 0.5F;
    }
  }
  const std::string text = model_json(trees);
  ASSERT_NE(text.find("null"), std::string::npos) << "JSON text cannot carry the infinities";
  const std::vector<std::uint8_t> ubjson = json::to_ubjson(model_document(trees));
  const ForestModel model = ForestModel::parse(ubjson, ModelFormat::kUbjson, "zeros.ubj");
  std::vector<float> values = edge_values(trees);
  for (const float value : {0.0F, tiny, -tiny, 2 * tiny, -2 * tiny, max, -max}) values.push_back(value);
  expect_every_set_agrees(model, trees, rows_of(values, 1), 1);
}

}  // namespace
}  // namespace inferloop
