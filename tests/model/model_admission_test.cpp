// The model admission gate (src/model/admission.hpp) on damaged copies of a
// real trained model. Each damage here once reached libxgboost, which
// crashed (SIGSEGV, heap corruption), hung or predicted from past the row.
// Now each is refused at resolution with a message naming the file and the
// key, and XGBoostPredictor, ForestPredictor and ForestModel::load, given the
// same file without resolve_model() (as a LoopOptions::resolver would hand
// it over), refuse it with the very same message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>

#include "fixtures.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const std::string kTrees = "learner.gradient_booster.model.trees";
const std::string kResave =
    "; if the file was not written by xgboost's save_model, or is damaged, re-save the model "
    "with xgboost: booster.save_model(\"model.ubj\")";

template <typename Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string predictor_error(const std::string& predictor, const fs::path& file) {
  InferenceConfig config;
  config.model_uri = file.string();
  config.predictor_class_name = predictor;
  ResolvedModel by_hand;  // not through resolve_model(): no admission yet
  by_hand.uri = config.model_uri;
  by_hand.model_file = file;
  SharedPredictorState shared;
  return error_of([&] {
    (void)PredictorRegistry::global().create(predictor,
                                             PredictorContext{config, by_hand, 0, shared});
  });
}

// Every way in refuses `file` with one message, which contains `expected`.
void expect_refused_everywhere(const fs::path& file, const std::string& expected) {
  const std::string message = error_of([&] { (void)resolve_model(file.string()); });
  EXPECT_THAT(message, HasSubstr(expected));
  EXPECT_EQ(message.rfind("'" + file.string() + "': ", 0), 0u) << message;
  EXPECT_EQ(predictor_error("XGBoostPredictor", file), message);
  EXPECT_EQ(predictor_error("ForestPredictor", file), message);
  EXPECT_EQ(error_of([&] { (void)ForestModel::load(file); }), message);
}

// The fixture model to damage: the binary:logistic model of the first set
// the linked libxgboost can load (so that, undamaged, it is served).
struct Original {
  fs::path json_file;
  json document;
};

std::optional<Original> original_model(const std::vector<FixtureSet>& sets) {
  for (const FixtureSet& set : sets) {
    if (!set.representable()) continue;
    for (const FixtureModel& fixture : set.models) {
      if (fixture.name != "binary") continue;
      return Original{fixture.json, json::parse(std::ifstream(fixture.json))};
    }
  }
  return std::nullopt;
}

json& tree(json& document, std::size_t index) {
  return document["learner"]["gradient_booster"]["model"]["trees"][index];
}

// The first child of the root that is itself a split.
int internal_child_of_root(const json& document) {
  const json& first = document["learner"]["gradient_booster"]["model"]["trees"][0];
  for (const char* side : {"left_children", "right_children"}) {
    const int child = first[side][0].get<int>();
    if (first["left_children"][child].get<int>() != -1) return child;
  }
  ADD_FAILURE() << "tree 0 of the fixture has no split below its root";
  return 1;
}

struct Damage {
  std::string what;
  std::function<void(json&)> edit;
  std::function<std::string(const json&)> expected;  // from the undamaged document
};

TEST(ModelAdmission, DamagedModelsAreRefusedWithOneMessageByEveryPredictor) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const auto original = original_model(sets);
  ASSERT_TRUE(original.has_value());
  const std::size_t num_trees = original->document["learner"]["gradient_booster"]["model"]["trees"].size();
  const std::size_t num_nodes = tree(const_cast<json&>(original->document), 0)["left_children"].size();
  const auto text = [](std::string message) {
    return [message](const json&) { return message; };
  };

  const std::vector<Damage> damages = {
      {"negative child", [](json& d) { tree(d, 0)["left_children"][0] = -5; },
       text(kTrees + "[0] node 0: child index -5 is not a fresh node of this tree (the tree is "
                     "not a tree)" + kResave)},
      {"child past the last node", [](json& d) { tree(d, 0)["right_children"][0] = 100000; },
       text(kTrees + "[0] node 0: child index 100000 is not a fresh node")},
      {"cycle back to the root",
       [](json& d) { tree(d, 0)["left_children"][internal_child_of_root(d)] = 0; },
       [](const json& d) {
         return kTrees + "[0] node " + std::to_string(internal_child_of_root(d)) +
                ": child index 0 is not a fresh node";
       }},
      {"self-loop",
       [](json& d) {
         const int node = internal_child_of_root(d);
         tree(d, 0)["right_children"][node] = node;
       },
       [](const json& d) {
         const std::string node = std::to_string(internal_child_of_root(d));
         return kTrees + "[0] node " + node + ": child index " + node + " is not a fresh node";
       }},
      {"two parents share a child",
       [](json& d) { tree(d, 0)["right_children"][0] = tree(d, 0)["left_children"][0]; },
       [](const json& d) {
         const json& first = d["learner"]["gradient_booster"]["model"]["trees"][0];
         return kTrees + "[0] node 0: child index " +
                std::to_string(first["left_children"][0].get<int>()) + " is not a fresh node";
       }},
      {"split feature beyond num_feature", [](json& d) { tree(d, 0)["split_indices"][0] = 5; },
       text(kTrees + "[0] node 0: split feature 5 is not below the model's num_feature 5" +
            kResave)},
      {"num_trees says one more tree",
       [&](json& d) {
         d["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] =
             std::to_string(num_trees + 1);
       },
       text("learner.gradient_booster.model.gbtree_model_param.num_trees: is " +
            std::to_string(num_trees + 1) + " but the model has " + std::to_string(num_trees) +
            " trees")},
      {"tree_info one entry short",
       [](json& d) { d["learner"]["gradient_booster"]["model"]["tree_info"].erase(0); },
       text("learner.gradient_booster.model.tree_info: has " + std::to_string(num_trees - 1) +
            " entries, expected " + std::to_string(num_trees))},
      {"tree_info names an output the model does not have",
       [](json& d) { d["learner"]["gradient_booster"]["model"]["tree_info"][3] = 7; },
       text("learner.gradient_booster.model.tree_info[3]: output group 7 is not below 1")},
      {"negative num_feature",
       [](json& d) { d["learner"]["learner_model_param"]["num_feature"] = "-1"; },
       text("learner.learner_model_param.num_feature: -1 is outside [1, 4194304]")},
      {"huge num_feature",
       [](json& d) { d["learner"]["learner_model_param"]["num_feature"] = "4294967295"; },
       text("learner.learner_model_param.num_feature: 4294967295 is outside [1, 4194304]")},
      {"huge num_class",
       [](json& d) { d["learner"]["learner_model_param"]["num_class"] = "2000000000"; },
       text("learner.learner_model_param.num_class: 2000000000 is outside [0, 65536]")},
      {"huge num_nodes",
       [](json& d) { tree(d, 0)["tree_param"]["num_nodes"] = "2147483647"; },
       text(kTrees + "[0].tree_param.num_nodes: is 2147483647 but left_children has " +
            std::to_string(num_nodes) + " entries")},
      {"parent out of range", [](json& d) { tree(d, 0)["parents"][1] = 99999; },
       text(kTrees + "[0].parents[1]: 99999 is outside [0, " + std::to_string(num_nodes - 1) +
            "]")},
      {"an array shorter than the tree",
       [](json& d) { tree(d, 0)["split_conditions"].erase(0); },
       text(kTrees + "[0].split_conditions: has " + std::to_string(num_nodes - 1) +
            " entries, expected " + std::to_string(num_nodes))},
      {"two trees with one id", [](json& d) { tree(d, 1)["id"] = 0; },
       text(kTrees + "[1].id: is 0, expected 1 (the tree's position)")},
  };

  ScratchDir dir;
  // Undamaged, the copy is served: the refusals below are the damage's.
  const fs::path intact = dir.write("intact.json", original->document.dump());
  EXPECT_NO_THROW((void)resolve_model(intact.string()));
  for (std::size_t i = 0; i < damages.size(); ++i) {
    const Damage& damage = damages[i];
    SCOPED_TRACE(damage.what);
    json document = original->document;
    damage.edit(document);
    // Both formats: UBJSON is what MLflow saves, JSON what people edit.
    const fs::path as_json = dir.write("damaged" + std::to_string(i) + ".json", document.dump());
    expect_refused_everywhere(as_json, damage.expected(original->document));
    const std::vector<std::uint8_t> ubjson = json::to_ubjson(document);
    const fs::path as_ubjson =
        dir.write("damaged" + std::to_string(i) + ".ubj", std::string(ubjson.begin(), ubjson.end()));
    expect_refused_everywhere(as_ubjson, damage.expected(original->document));
  }
}

TEST(ModelAdmission, DeepJsonAndUbjsonAreRefusedBeforeTheParserRecurses) {
  ScratchDir dir;
  // 100,000 levels: nlohmann's UBJSON reader recursed once per level and
  // overflowed the stack.
  const std::string deep_json = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_ubjson = "{i\x01" "a" + std::string(100000, '[') +
                                  std::string(100000, ']') + "}";
  const std::string limit = "not an XGBoost model: it nests deeper than 64 levels, which no "
                            "XGBoost model does" + kResave;
  expect_refused_everywhere(dir.write("deep.json", deep_json), limit);
  expect_refused_everywhere(dir.write("deep.ubj", deep_ubjson), limit);
}

TEST(ModelAdmission, CountsLargerThanTheFileAreRefusedBeforeAnythingIsAllocated) {
  ScratchDir dir;
  // An optimized UBJSON array of null ('Z') entries, which take no bytes,
  // claiming 2^40 of them: each would become a DOM node.
  const std::string claims = std::string("[$Z#L") + std::string("\x00\x00\x01\x00\x00\x00\x00\x00", 8);
  expect_refused_everywhere(dir.write("claims.ubj", claims),
                            "not an XGBoost model: an array claims 1099511627776 entries, more "
                            "than the file's 13 bytes");
}

TEST(ModelAdmission, ADuplicatedKeyIsRefusedBecauseXGBoostWouldReadTheOtherValue) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const auto original = original_model(sets);
  ASSERT_TRUE(original.has_value());
  // xgboost's UBJSON reader keeps a key's first value, nlohmann its last: the
  // gate would check split feature 0 while libxgboost walked feature 4000.
  json document = original->document;
  json& first = tree(document, 0);
  first["split_indiceX"] = first["split_indices"];
  first["split_indiceX"][0] = 4000;
  std::vector<std::uint8_t> ubjson = json::to_ubjson(document);
  const std::string bytes(ubjson.begin(), ubjson.end());
  std::string duplicated = bytes;
  const std::size_t key = duplicated.find("split_indiceX");
  ASSERT_NE(key, std::string::npos);
  duplicated[key + 12] = 's';
  ScratchDir dir;
  expect_refused_everywhere(dir.write("duplicate.ubj", duplicated),
                            "not an XGBoost model: the key 'split_indices' appears twice in one "
                            "object");
}

// libxgboost's readers differ from nlohmann's in places; wherever the two
// would read the same bytes differently, the gate refuses the file rather
// than check something other than what libxgboost will load.
TEST(ModelAdmission, BytesLibxgboostWouldReadDifferentlyAreRefused) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const auto original = original_model(sets);
  ASSERT_TRUE(original.has_value());
  ScratchDir dir;
  const std::string text = original->document.dump();

  // xgboost's JSON reader keeps "\u005f" as six characters, nlohmann decodes
  // it to "_": the gate would see split_type, libxgboost an unknown key.
  std::string escaped = text;
  const std::size_t key = escaped.find("\"split_type\"");
  ASSERT_NE(key, std::string::npos);
  escaped.replace(key, 12, "\"split\\u005ftype\"");
  expect_refused_everywhere(dir.write("escaped.json", escaped),
                            "\\u escape in a string, which xgboost's JSON reader does not decode");

  // From memory, libxgboost takes a file that does not start with '{' for
  // its legacy binary format, whatever the extension says.
  expect_refused_everywhere(dir.write("blank_first.json", "\n" + text),
                            "libxgboost tells JSON from UBJSON by the first bytes ('{' then '\"' "
                            "is JSON, '{' then a letter UBJSON), and these (it starts with "
                            "'\\n{");

  // libxgboost 1.7's UBJSON reader returns true for 'F'.
  json with_false = original->document;
  json& defaults = tree(with_false, 0)["default_left"];
  for (json& entry : defaults) entry = false;
  const std::vector<std::uint8_t> false_bytes = json::to_ubjson(with_false);
  expect_refused_everywhere(
      dir.write("false.ubj", std::string(false_bytes.begin(), false_bytes.end())),
      "not an XGBoost model: it holds a UBJSON false, which libxgboost 1.7 reads as true");

  // A one-character UBJSON string is an integer to libxgboost ('C' '7' is
  // 55), so node indices must be numbers.
  json with_char = original->document;
  tree(with_char, 0)["left_children"][0] = "7";
  const std::vector<std::uint8_t> char_bytes = json::to_ubjson(with_char);
  std::string bytes(char_bytes.begin(), char_bytes.end());
  const std::size_t children = bytes.find("left_children");
  const std::size_t seven = bytes.find(std::string("Si\x01" "7"), children);
  ASSERT_NE(seven, std::string::npos);
  bytes.replace(seven, 4, "C7");
  expect_refused_everywhere(dir.write("char.ubj", bytes),
                            kTrees + "[0].left_children[0]: expected an integer, found string");
}

TEST(ModelAdmission, APipeOrAFolderIsRefusedWithoutBeingRead) {
  ScratchDir dir;
  // Reading a FIFO would block resolution (and start()) forever.
  const fs::path pipe = dir.path() / "model.json";
  ASSERT_EQ(::mkfifo(pipe.c_str(), 0600), 0);
  const std::string message = error_of([&] { (void)resolve_model(pipe.string()); });
  EXPECT_EQ(message, "'" + pipe.string() + "': not a regular file (a folder, device or pipe); a "
                     "model is a file saved by xgboost's save_model (.json or .ubj)");
  EXPECT_EQ(predictor_error("XGBoostPredictor", pipe), message);
  EXPECT_EQ(predictor_error("ForestPredictor", pipe), message);
}

// The bytes libxgboost loads are the bytes the gate validated: a file
// replaced by a damaged one after resolve_model() cannot reach it, and
// neither predictor reads the file again.
TEST(ModelAdmission, PredictorsLoadTheValidatedBytesNotTheFileAsItIsLater) {
  const std::vector<FixtureSet> sets = fixture_sets();
  INFERLOOP_REQUIRE_FIXTURES(sets);
  const auto original = original_model(sets);
  ASSERT_TRUE(original.has_value());
  ScratchDir dir;
  const fs::path file = dir.write("model.json", original->document.dump());
  const ResolvedModel model = resolve_model(file.string());
  json damaged = original->document;
  tree(damaged, 0)["left_children"][0] = 0;  // a self-loop: libxgboost would hang
  dir.write("model.json", damaged.dump());

  std::vector<float> row(5, 0.25F);
  std::vector<std::vector<float>> outputs;
  for (const std::string predictor : {"XGBoostPredictor", "ForestPredictor"}) {
    SCOPED_TRACE(predictor);
    InferenceConfig config;
    config.model_uri = file.string();
    SharedPredictorState shared;
    const auto serving =
        PredictorRegistry::global().create(predictor, PredictorContext{config, model, 0, shared});
    std::vector<float> out(serving->num_outputs());
    serving->predict(row, 1, out);
    outputs.push_back(out);
  }
  EXPECT_EQ(to_bits(outputs[0]), to_bits(outputs[1]));  // both are the intact model
  // A fresh resolution reads the damaged file and refuses it.
  EXPECT_THAT(error_of([&] { (void)resolve_model(file.string()); }),
              HasSubstr(kTrees + "[0] node 0: child index 0 is not a fresh node"));
}

}  // namespace
}  // namespace inferloop::testing
