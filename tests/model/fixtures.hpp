// Shared helpers of the model tests: the trained fixture models written by
// tests/python/make_models.py, and scratch folders for hand-made bad inputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "csv.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::testing {

namespace fs = std::filesystem;

inline std::string version_text(const std::vector<int>& version) {
  std::string text;
  for (int part : version) text += (text.empty() ? "" : ".") + std::to_string(part);
  return text;
}

// A fresh folder under the test temp dir, removed again by the destructor.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) /
            ("inferloop-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }
  fs::path write(const fs::path& relative, const std::string& content) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  fs::path path_;
};

// The smallest model the admission gate accepts: one tree that is a single
// leaf (value 0.5) over one feature, saved "by" xgboost `version`. For tests
// about resolution, where what the model predicts does not matter.
inline std::string tiny_model_json(const std::string& version = "1, 7, 4") {
  return R"({"version": [)" + version + R"(], "learner": {
    "learner_model_param": {"base_score": "5E-1", "num_feature": "1", "num_class": "0",
                            "num_target": "1"},
    "objective": {"name": "reg:squarederror"},
    "gradient_booster": {"name": "gbtree", "model": {
      "gbtree_model_param": {"num_trees": "1", "num_parallel_tree": "1"},
      "tree_info": [0],
      "trees": [{"id": 0, "left_children": [-1], "right_children": [-1], "parents": [2147483647],
                 "split_indices": [0], "split_conditions": [0.5], "default_left": [0],
                 "split_type": [0], "categories": [], "categories_nodes": [],
                 "categories_segments": [], "categories_sizes": [],
                 "loss_changes": [0], "sum_hessian": [1], "base_weights": [0.5],
                 "tree_param": {"num_nodes": "1", "num_deleted": "0", "num_feature": "1",
                                "size_leaf_vector": "0"}}]}}}})";
}

struct FixtureModel {
  std::string name;  // binary, regression, multiclass
  std::size_t num_outputs = 0;
  fs::path json, ubj, mlflow;
  std::optional<fs::path> legacy_binary;
  fs::path transformed, margin;  // expected predictions (hex float32 bits)
};

struct FixtureSet {
  fs::path root;
  std::vector<int> xgboost_version;  // the python xgboost that trained them
  std::size_t num_features = 0;
  std::size_t rows = 0;
  fs::path features_csv;
  std::vector<FixtureModel> models;

  // Whether the linked libxgboost can represent models saved by this version.
  [[nodiscard]] bool representable() const {
    const std::vector<int> linked = linked_xgboost_version();
    return std::vector<int>(xgboost_version.begin(), xgboost_version.begin() + 2) <=
           std::vector<int>(linked.begin(), linked.begin() + 2);
  }
};

inline std::vector<FixtureSet> fixture_sets() {
  std::vector<FixtureSet> sets;
  const fs::path root = INFERLOOP_MODEL_FIXTURES;
  if (!fs::is_directory(root)) return sets;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path manifest_file = entry.path() / "manifest.json";
    if (!fs::is_regular_file(manifest_file)) continue;
    const nlohmann::json manifest = nlohmann::json::parse(std::ifstream(manifest_file));
    FixtureSet set;
    set.root = entry.path();
    set.xgboost_version = manifest.at("xgboost_version").get<std::vector<int>>();
    set.num_features = manifest.at("num_features").get<std::size_t>();
    set.rows = manifest.at("rows").get<std::size_t>();
    set.features_csv = set.root / manifest.at("features_csv").get<std::string>();
    for (const auto& model : manifest.at("models")) {
      FixtureModel m;
      m.name = model.at("name").get<std::string>();
      m.num_outputs = model.at("num_outputs").get<std::size_t>();
      m.json = set.root / model.at("json").get<std::string>();
      m.ubj = set.root / model.at("ubj").get<std::string>();
      m.mlflow = set.root / model.at("mlflow").get<std::string>();
      if (model.contains("legacy_binary") && model.at("legacy_binary").is_string()) {
        m.legacy_binary = set.root / model.at("legacy_binary").get<std::string>();
      }
      m.transformed = set.root / model.at("transformed").get<std::string>();
      m.margin = set.root / model.at("margin").get<std::string>();
      set.models.push_back(m);
    }
    sets.push_back(set);
  }
  std::sort(sets.begin(), sets.end(),
            [](const FixtureSet& a, const FixtureSet& b) { return a.root < b.root; });
  return sets;
}

// A build configured with the venv's python trains the models in a ctest
// fixture, so their absence there is a failure (a broken fixture must not
// pass as a skip); without that python the test skips, saying why.
#define INFERLOOP_REQUIRE_FIXTURES(sets)                                                   \
  if ((sets).empty()) {                                                                    \
    if (INFERLOOP_EXPECT_CURRENT_MODELS) {                                                 \
      FAIL() << "no trained models in " INFERLOOP_MODEL_FIXTURES                           \
             " although this build trains them: did the model_fixtures_* tests run?";     \
    }                                                                                      \
    GTEST_SKIP() << "no trained models in " INFERLOOP_MODEL_FIXTURES                       \
                    " (configure with -DINFERLOOP_PYTHON=... and run through ctest)";      \
  }

// Row-major float32 bit patterns from a .hex file.
inline std::vector<std::uint32_t> read_expected_bits(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::uint32_t> bits;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) bits.push_back(std::stoul(cell, nullptr, 16));
  }
  return bits;
}

inline std::vector<std::uint32_t> to_bits(const std::vector<float>& values) {
  std::vector<std::uint32_t> bits(values.size());
  std::memcpy(bits.data(), values.data(), values.size() * sizeof(float));
  return bits;
}

}  // namespace inferloop::testing
