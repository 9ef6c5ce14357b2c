// The kernel sets (src/forest/forest_kernels.hpp) at the limits of the bins,
// on inline models whose outputs the test derives from XGBoost's split rule:
// a feature with the most distinct thresholds that still has bins (255, so
// every 16-ary bin search reaches its last block) and one more (no bins, the
// row walk only), each on every set this CPU runs, with each set's own walk
// and with the tile walk forced.
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

struct Stump {
  float threshold;
  float left;
  float right;
  bool default_left;
};

// `count` stumps on feature 0 with distinct thresholds spread over negative
// and positive values, distinct leaves and alternating missing defaults.
std::vector<Stump> stumps(std::size_t count) {
  std::vector<Stump> result;
  for (std::size_t i = 0; i < count; ++i) {
    const auto position = static_cast<float>(i);
    result.push_back(Stump{position * 0.75F - 90.0F, -position / 1024.0F,
                           (position + 1.0F) / 512.0F, i % 2 == 0});
  }
  return result;
}

std::string model_json(const std::vector<Stump>& trees) {
  json list = json::array(), tree_info = json::array();
  for (const Stump& stump : trees) {
    list.push_back({{"tree_param", {{"num_nodes", "3"}, {"size_leaf_vector", "1"}}},
                    {"left_children", {1, -1, -1}},
                    {"right_children", {2, -1, -1}},
                    {"split_indices", {0, 0, 0}},
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
         {{"base_score", "5E-1"}, {"num_feature", "1"}, {"num_class", "0"}, {"num_target", "1"}}},
        {"objective", {{"name", "reg:squarederror"}}},
        {"gradient_booster",
         {{"name", "gbtree"},
          {"model",
           {{"gbtree_model_param", {{"num_trees", std::to_string(trees.size())}}},
            {"trees", list},
            {"tree_info", tree_info}}}}}}}};
  return document.dump();
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

// XGBoost's rule, summed in tree order in float32 from the base margin.
float expected_margin(const std::vector<Stump>& trees, float value) {
  float margin = kBaseScore;
  for (const Stump& stump : trees) {
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

void expect_every_set_agrees(const std::vector<Stump>& trees) {
  const ForestModel model = parse(model_json(trees));
  const std::vector<float> values = edge_values(trees);
  for (const detail::ForestIsa isa : detail::supported_forest_isas()) {
    for (const bool tile_every_batch : {false, true}) {
      SCOPED_TRACE("kernels " + std::string(detail::to_string(isa)) +
                   (tile_every_batch ? ", tile walk for every batch" : ""));
      const ForestModel on_isa = detail::ForestModelAccess::with_isa(model, isa, tile_every_batch);
      std::vector<float> margins(values.size(), -1.0F);
      on_isa.predict(values, values.size(), margins, OutputKind::kMargin);
      for (std::size_t row = 0; row < values.size(); ++row) {
        ASSERT_EQ(bits(margins[row]), bits(expected_margin(trees, values[row])))
            << "value " << values[row] << " (row " << row << ")";
      }
    }
  }
}

TEST(ForestKernels, TheMostThresholdsThatHaveBinsGiveXGBoostsSumsOnEverySetAndWalk) {
  const std::vector<Stump> trees = stumps(detail::kMaxBins - 1);
  ASSERT_TRUE(detail::ForestModelAccess::engine_of(parse(model_json(trees))).layout.binned)
      << "255 distinct thresholds on a feature must still have bins";
  expect_every_set_agrees(trees);
}

TEST(ForestKernels, OneThresholdTooManyForBinsTakesTheRowWalkOnEverySet) {
  const std::vector<Stump> trees = stumps(detail::kMaxBins);
  ASSERT_FALSE(detail::ForestModelAccess::engine_of(parse(model_json(trees))).layout.binned)
      << "256 distinct thresholds on a feature cannot have one-byte bins";
  expect_every_set_agrees(trees);
}

}  // namespace
}  // namespace inferloop
