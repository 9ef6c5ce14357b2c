// LightGBMModel on tiny hand-written LightGBM text models: each split rule
// (numerical with missing types None, Zero and NaN; categorical bitsets)
// against values derived by hand from LightGBM's Tree::Decision code, and
// the admission gate's refusals of files LightGBM would misread or
// inferloop cannot reproduce. Needs nothing but the library.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/lightgbm.hpp"

namespace inferloop {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// One tree block as save_model writes it: "Tree=i", key=value lines, then
// an empty line.
std::string tree_block(std::size_t index, const std::string& lines) {
  return "Tree=" + std::to_string(index) + "\n" + lines + "\n\n";
}

// A one-split tree over feature 0: left leaf -1, right leaf 2.
std::string stump(const std::string& decision_type, const std::string& threshold = "0.5",
                  const std::string& extra = "") {
  return "num_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=" + threshold +
         "\ndecision_type=" + decision_type +
         "\nleft_child=-1\nright_child=-2\nleaf_value=-1 2\nleaf_weight=1 1\nleaf_count=1 1\n"
         "internal_value=0\ninternal_weight=1\ninternal_count=2\n" + extra + "shrinkage=1";
}

// A whole model file with `trees` (each tree's key=value lines), its
// tree_sizes computed as LightGBM writes them.
std::string model_text(const std::vector<std::string>& trees,
                       const std::string& objective = "binary sigmoid:1",
                       const std::string& header_extra = "") {
  std::string blocks;
  std::string sizes;
  for (std::size_t i = 0; i < trees.size(); ++i) {
    const std::string block = tree_block(i, trees[i]);
    sizes += (i == 0 ? "" : " ") + std::to_string(block.size());
    blocks += block;
  }
  return "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
         "max_feature_idx=1\nobjective=" + objective + "\nfeature_names=a b\n"
         "feature_infos=[-1:1] [-1:1]\n" + header_extra + "tree_sizes=" + sizes + "\n\n" + blocks +
         "end of trees\n\nparameters:\n[boosting: gbdt]\nend of parameters\n";
}

LightGBMModel parse(const std::string& text) {
  return LightGBMModel::parse(
      std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), "model.txt");
}

double raw(const LightGBMModel& model, float a, float b = 0.0F) {
  const std::vector<float> row{a, b};
  double out = 0.0;
  model.predict(row, 1, std::span(&out, 1), OutputKind::kMargin);
  return out;
}

std::string error_of(const std::string& text) {
  try {
    (void)parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(LightGBMReader, NumericalSplitGoesLeftIffValueAtMostThresholdInDouble) {
  const LightGBMModel model = parse(model_text({stump("2")}));
  EXPECT_EQ(model.num_features(), 2U);
  EXPECT_EQ(model.num_outputs(), 1U);
  EXPECT_EQ(model.objective(), "binary sigmoid:1");
  EXPECT_EQ(raw(model, 0.5F), -1.0);
  EXPECT_EQ(raw(model, 0.50000006F), 2.0);
  EXPECT_EQ(raw(model, -INFINITY), -1.0);
  // Missing type None: NaN reads as 0.0, which is <= 0.5.
  EXPECT_EQ(raw(model, kNaN), -1.0);
  // Transformed: binary's sigmoid of the raw score, 1 / (1 + exp(-1 * x)).
  const std::vector<float> row{1.0F, 0.0F};
  double out = 0.0;
  model.predict(row, 1, std::span(&out, 1), OutputKind::kTransformed);
  EXPECT_EQ(out, 1.0 / (1.0 + std::exp(-2.0)));
}

TEST(LightGBMReader, MissingTypeNaNSendsNaNToTheDefaultSide) {
  // decision_type 8: missing type NaN, default right; 10: default left.
  EXPECT_EQ(raw(parse(model_text({stump("8")})), kNaN), 2.0);
  EXPECT_EQ(raw(parse(model_text({stump("10", "-3")})), kNaN), -1.0);
  // Zero is an ordinary value under missing type NaN.
  EXPECT_EQ(raw(parse(model_text({stump("8", "-3")})), 0.0F), 2.0);
}

TEST(LightGBMReader, MissingTypeZeroSendsZeroTheZeroBandAndNaNToTheDefaultSide) {
  // decision_type 4: missing type Zero, default right, threshold 0.5 (so
  // without the rule 0 would go left).
  const LightGBMModel model = parse(model_text({stump("4")}));
  EXPECT_EQ(raw(model, 0.0F), 2.0);
  EXPECT_EQ(raw(model, -0.0F), 2.0);
  EXPECT_EQ(raw(model, 1e-36F), 2.0);   // |x| <= 1e-35f: LightGBM drops it as zero
  EXPECT_EQ(raw(model, kNaN), 2.0);     // NaN reads as 0.0 first
  EXPECT_EQ(raw(model, 1e-34F), -1.0);  // outside the band: an ordinary value
}

TEST(LightGBMReader, CategoricalSplitLooksTheTruncatedValueUpInTheBitset) {
  // Bitset word 10 = 0b1010: categories 1 and 3 go left.
  const std::string categorical =
      "num_leaves=2\nnum_cat=1\nsplit_feature=1\nsplit_gain=1\nthreshold=0\ndecision_type=1\n"
      "left_child=-1\nright_child=-2\nleaf_value=-1 2\nleaf_weight=1 1\nleaf_count=1 1\n"
      "internal_value=0\ninternal_weight=1\ninternal_count=2\ncat_boundaries=0 1\n"
      "cat_threshold=10\nis_linear=0\nshrinkage=1";
  const LightGBMModel model = parse(model_text({categorical}));
  EXPECT_EQ(raw(model, 0.0F, 1.0F), -1.0);
  EXPECT_EQ(raw(model, 0.0F, 3.0F), -1.0);
  EXPECT_EQ(raw(model, 0.0F, 1.9F), -1.0);   // truncated to 1
  EXPECT_EQ(raw(model, 0.0F, 2.0F), 2.0);
  EXPECT_EQ(raw(model, 0.0F, -0.5F), 2.0);   // truncated to 0, not in the set
  EXPECT_EQ(raw(model, 0.0F, -1.0F), 2.0);   // negative: right
  EXPECT_EQ(raw(model, 0.0F, kNaN), 2.0);    // NaN: right
  EXPECT_EQ(raw(model, 0.0F, 33.0F), 2.0);   // past the bitset's one word
  EXPECT_EQ(raw(model, 0.0F, 1e10F), 2.0);   // past int's range
}

TEST(LightGBMReader, SumsTreesInOrderAndARandomForestAveragesTheTransformedOutput) {
  const std::string two_trees = model_text({stump("2"), stump("2", "-0.5")}, "regression",
                                           "average_output\n");
  const LightGBMModel model = parse(two_trees);
  EXPECT_EQ(model.num_trees(), 2U);
  EXPECT_EQ(raw(model, 0.0F), -1.0 + 2.0);
  const std::vector<float> row{0.0F, 0.0F};
  double out = 0.0;
  model.predict(row, 1, std::span(&out, 1), OutputKind::kTransformed);
  EXPECT_EQ(out, (-1.0 + 2.0) / 2.0);
}

// What a model file looks like after a Windows checkout: every "\n" a
// "\r\n", tree_sizes counting the extra bytes (LightGBM reads such a file).
std::string with_crlf(const std::vector<std::string>& trees) {
  auto crlf = [](std::string text) {
    std::string out;
    for (const char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
  };
  std::string text = crlf(model_text(trees));
  std::string sizes;
  for (std::size_t i = 0; i < trees.size(); ++i) {
    sizes += (i == 0 ? "" : " ") + std::to_string(crlf(tree_block(i, trees[i])).size());
  }
  const std::size_t at = text.find("tree_sizes=") + 11;
  text.replace(at, text.find('\r', at) - at, sizes);
  return text;
}

TEST(LightGBMReader, ReadsWindowsLineEndingsAsLightGBMDoes) {
  const LightGBMModel model = parse(with_crlf({stump("2"), stump("8", "-0.5")}));
  EXPECT_EQ(model.num_trees(), 2U);
  EXPECT_EQ(raw(model, 0.0F), -1.0 + 2.0);
  EXPECT_EQ(raw(model, kNaN), -1.0 + 2.0);
  EXPECT_EQ(raw(model, -1.0F), -1.0 + -1.0);
}

TEST(LightGBMReader, RefusesAnUnknownObjectiveNamingIt) {
  const std::string message = error_of(model_text({stump("2")}, "my_loss"));
  EXPECT_NE(message.find("'model.txt': line 7: objective 'my_loss' is not one LightGBM knows"),
            std::string::npos)
      << message;
}

TEST(LightGBMReader, RefusesALinearTree) {
  const std::string message = error_of(model_text({stump("2", "0.5", "is_linear=1\n")}));
  EXPECT_NE(message.find("Tree 0 is a linear tree"), std::string::npos) << message;
}

TEST(LightGBMReader, RefusesAChildCycleInsteadOfWalkingItForever) {
  std::string tree = stump("2");
  tree.replace(tree.find("left_child=-1"), 13, "left_child=0");
  const std::string message = error_of(model_text({tree}));
  EXPECT_NE(message.find("reached twice"), std::string::npos) << message;
}

TEST(LightGBMReader, RefusesASplitFeatureBeyondMaxFeatureIdx) {
  std::string tree = stump("2");
  tree.replace(tree.find("split_feature=0"), 15, "split_feature=2");
  const std::string message = error_of(model_text({tree}));
  EXPECT_NE(message.find("split_feature[0]: expected an integer in [0, 1], found '2'"),
            std::string::npos)
      << message;
}

TEST(LightGBMReader, RefusesTreeSizesThatPointPastTheFile) {
  std::string text = model_text({stump("2")});
  const std::size_t sizes = text.find("tree_sizes=");
  // The first size is the whole file: the second tree would start past its end.
  text.replace(sizes, text.find('\n', sizes) - sizes,
               "tree_sizes=" + std::to_string(text.size()) + " 1");
  const std::string message = error_of(text);
  EXPECT_NE(message.find("line 10: tree_sizes puts tree 1 past the end of the file"),
            std::string::npos)
      << message;
}

TEST(LightGBMReader, RefusesANulByteAndADuplicateKey) {
  std::string with_nul = model_text({stump("2")});
  with_nul[with_nul.find("label_index")] = '\0';
  EXPECT_NE(error_of(with_nul).find("NUL byte"), std::string::npos) << error_of(with_nul);
  const std::string twice = model_text({stump("2")}, "binary sigmoid:1", "num_class=1\n");
  EXPECT_NE(error_of(twice).find("key 'num_class' appears twice"), std::string::npos)
      << error_of(twice);
}

TEST(LightGBMReader, RefusesBinaryWithoutAPositiveSigmoid) {
  const std::string message = error_of(model_text({stump("2")}, "binary sigmoid:0"));
  EXPECT_NE(message.find("needs a sigmoid"), std::string::npos) << message;
}

}  // namespace
}  // namespace inferloop
