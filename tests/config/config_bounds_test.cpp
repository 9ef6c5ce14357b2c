// Tests for what the config loader refuses because of its size rather than
// its meaning: huge scalars, deep nesting, oversized files, a second section
// or document, floods of problems, and configs too large for the machine's
// memory. Each case here once crashed the process, was silently ignored, or
// was accepted and failed later in start().
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/loop_memory.hpp"
#include "config/yaml_text.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/prediction.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

// A message this long or longer echoes input it should have bounded.
constexpr std::size_t kLongestReasonableMessage = 1000;

std::string parse_error(std::string_view yaml) {
  try {
    (void)parse_config(yaml, "inline.yaml");
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "parse_config accepted:\n" << yaml.substr(0, 200);
  return {};
}

std::string error_with(std::string_view line) {
  return parse_error("model_uri: m.json\n" + std::string(line) + "\n");
}

std::string validate_error(const InferenceConfig& config) {
  try {
    config.validate();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "validate() accepted the config";
  return {};
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// --- huge scalars ----------------------------------------------------------------------

TEST(ConfigBounds, AFiftyThousandDigitIntegerIsOutOfRangeWithABoundedMessage) {
  // The scalar classifier used std::regex, whose recursive match overflowed
  // the stack on this input.
  const std::string digits(50'000, '7');
  const std::string message = error_with("num_replicas: " + digits);
  EXPECT_TRUE(contains(message, "inline.yaml:2:15: num_replicas: expected a positive integer "
                                "(1..64), found '77777"))
      << message.substr(0, 300);
  EXPECT_TRUE(contains(message, "...' (50000 bytes), which is out of range")) << message;
  EXPECT_LT(message.size(), kLongestReasonableMessage);
}

TEST(ConfigBounds, EveryKindOfValueQuotesAHugeScalarBounded) {
  const std::string huge(50'000, '9');
  const std::string huge_word(50'000, 'x');
  const std::vector<std::string> lines = {
      "max_rows: " + huge,
      "num_features: -" + huge,
      "spin_duration: " + huge,
      "interval: " + huge + "ms",
      "startup_timeout: " + huge + "." + huge + "s",
      "interval: 1" + huge_word,
      "share_booster: " + huge_word,
      "wait_strategy: " + huge_word,
      "output: \"" + huge_word + "\"",
      "device: " + huge_word,
      "endpoints: [" + huge_word + "]",
      "mlflow_tracking_uri: " + huge_word,
      "max_artifact_bytes: " + huge + ".5",
      "? " + huge_word + "\n: 1",  // an explicit key: an implicit one is at most 1024 chars
  };
  for (const std::string& line : lines) {
    const std::string message = error_with(line);
    EXPECT_LT(message.size(), kLongestReasonableMessage) << line.substr(0, 40);
    EXPECT_TRUE(contains(message, "bytes)")) << message.substr(0, 300);
  }
}

TEST(ConfigBounds, AHugeKeyIsNotComparedWithEveryKey) {
  const std::string message = error_with("? " + std::string(1'000'000, 'k') + "\n: 1");
  EXPECT_TRUE(contains(message, "unknown key 'kkkk")) << message.substr(0, 200);
  EXPECT_TRUE(contains(message, "(1000000 bytes); valid keys are: deployment_name, "))
      << message.substr(0, 300);
}

// --- nesting -----------------------------------------------------------------------------

std::string repeat(std::string_view text, std::size_t count) {
  std::string out;
  out.reserve(text.size() * count);
  for (std::size_t i = 0; i < count; ++i) out += text;
  return out;
}

TEST(ConfigBounds, DeepNestingIsRefusedBeforeYamlCppRecurses) {
  const std::string too_deep =
      "collections nest more than 64 levels deep here; a config needs only a few levels: "
      "flatten this part of the file";
  const std::vector<std::string> documents = {
      repeat("[", 100'000),
      repeat("{", 100'000),
      "endpoints: " + repeat("[", 100'000) + repeat("]", 100'000),
      "app: " + repeat("{a: ", 100'000) + "1" + repeat("}", 100'000),
      repeat("- ", 100'000) + "x",
      repeat("? ", 100'000) + "x",
      "app: " + repeat("[\"]\", ", 100'000),
  };
  for (const std::string& document : documents) {
    const std::string message = parse_error(document);
    EXPECT_TRUE(contains(message, too_deep)) << message.substr(0, 300);
    EXPECT_LT(message.size(), kLongestReasonableMessage);
  }
  // Block mappings, one more space of indentation per level.
  std::string block;
  for (int level = 0; level < 200; ++level) block += std::string(level, ' ') + "k:\n";
  EXPECT_TRUE(contains(parse_error(block), too_deep));
}

TEST(ConfigBounds, NestingErrorPointsAtTheLevelThatIsTooDeep) {
  // "endpoints: " is 11 columns; the line's own mapping, its indentation
  // and the last node's room take 3 of the 64 levels, so the 62nd bracket
  // (column 12 + 61) is the first one too many.
  EXPECT_EQ(error_with("endpoints: " + repeat("[", 1000)),
            "inline.yaml:2:73: collections nest more than 64 levels deep here; a config needs only "
            "a few levels: flatten this part of the file");
}

TEST(ConfigBounds, ModeratelyNestedApplicationSectionsAreRead) {
  const std::string yaml = "app:\n  matrix: " + repeat("[", 30) + "1" + repeat("]", 30) +
                           "\n  text: \"" + repeat("[", 70) + "\"\n  literal: |\n    " +
                           repeat("{", 70) + "\ninference_config:\n  model_uri: m.json\n";
  EXPECT_EQ(parse_config(yaml).model_uri, "m.json");
}

TEST(YamlText, NestingScanFollowsQuotesCommentsAndBlockScalars) {
  using detail::find_excess_nesting;
  // Brackets that do not nest: in quotes, comments, block scalars, plain text.
  EXPECT_FALSE(find_excess_nesting("a: '[[[[[[[[[['\nb: \"[[[[[[[[[[\\\"\"\n", 4));
  EXPECT_FALSE(find_excess_nesting("a: 1 # [[[[[[[[[[[[\n", 4));
  EXPECT_FALSE(find_excess_nesting("a: |\n  [[[[[[[[[[[[\n  {{{{{{{{{\nb: 1\n", 4));
  EXPECT_FALSE(find_excess_nesting("a: x[[[[[[[[[[[[\n", 4));
  EXPECT_FALSE(find_excess_nesting("a: 'it''s [[[[[[[['\n", 4));
  // Brackets that do, on one line or across lines.
  const auto excess = find_excess_nesting("a: [[[[x]]]]\n", 4);
  ASSERT_TRUE(excess);
  EXPECT_EQ(excess->line, 1);
  // Two levels for the line's indentation, one for its last node, and the
  // second bracket makes 5.
  EXPECT_EQ(excess->column, 5);
  EXPECT_TRUE(find_excess_nesting("a: [\n[\n[\n[\n[\n", 4));
  // A closing quote inside a quoted scalar does not end the flow collection.
  EXPECT_TRUE(find_excess_nesting("a: [['x]]]]', [[", 6));
  // A document marker ends everything before it.
  EXPECT_FALSE(find_excess_nesting("a: [[\n---\nb: [[\n", 6));
}

TEST(YamlText, PlainScalarsFollowTheCoreSchema) {
  using detail::classify_plain_scalar;
  using detail::ScalarKind;
  for (const char* text : {"true", "True", "TRUE", "false", "False", "FALSE"}) {
    EXPECT_EQ(classify_plain_scalar(text), ScalarKind::kBool) << text;
  }
  for (const char* text : {"0", "42", "+7", "-3", "007"}) {
    EXPECT_EQ(classify_plain_scalar(text), ScalarKind::kInt) << text;
  }
  for (const char* text : {"2.5", ".5", "5.", "-1e3", "1E+5", "+.inf", "-.Inf", ".INF", ".nan",
                           ".NaN", "1.5e-3"}) {
    EXPECT_EQ(classify_plain_scalar(text), ScalarKind::kFloat) << text;
  }
  for (const char* text : {"", "+", "-", ".", "e5", "1e", "1.5.5", "yes", "tRUE", "-.nan",
                           "0x1F", "1_000", "12ms", ".infinity"}) {
    EXPECT_EQ(classify_plain_scalar(text), ScalarKind::kString) << text;
  }
  // A loop, not a recursive match: any length is fine.
  EXPECT_EQ(classify_plain_scalar(std::string(10'000'000, '1')), ScalarKind::kInt);
  EXPECT_EQ(classify_plain_scalar(std::string(10'000'000, '1') + "x"), ScalarKind::kString);
}

// --- size, sections, documents, issue floods --------------------------------------------

TEST(ConfigBounds, AConfigLargerThanTheLimitIsRefusedUnread) {
  const std::string huge = "model_uri: m.json\n# " + std::string(2u << 20, 'x') + "\n";
  EXPECT_EQ(parse_error(huge), "inline.yaml: the config is " + std::to_string(huge.size()) +
                                   " bytes, more than the 1048576 a config may be; is this the "
                                   "right file?");
  const std::filesystem::path file =
      std::filesystem::path(::testing::TempDir()) /
      ("inferloop-huge-config-" + std::to_string(std::random_device{}()) + ".yaml");
  std::ofstream(file) << huge;
  const std::vector<ConfigIssue> issues = check_config_file(file);
  std::filesystem::remove(file);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message,
            "the file is more than 1048576 bytes, the most a config may be; is this the right "
            "file?");
}

TEST(ConfigBounds, ASecondInferenceConfigSectionIsAnError) {
  const std::string yaml =
      "inference_config:\n  model_uri: a.json\napp: 1\ninference_config:\n  model_uri: b.json\n";
  EXPECT_EQ(parse_error(yaml),
            "inline.yaml:4:1: inference_config: expected one inference_config section, found "
            "another (the first is at line 1, column 1); merge them into one");
}

TEST(ConfigBounds, ASecondYamlDocumentIsAnError) {
  const std::string expected_tail =
      "expected one YAML document, found a second one here (the first begins at line 1, column "
      "1); inferloop reads only one, so remove the '---' line and what follows, or move it to its "
      "own file";
  EXPECT_EQ(parse_error("model_uri: a.json\n---\nmodel_uri: b.json\n"),
            "inline.yaml:2:1: " + expected_tail);
  // Even an empty one: the separator says something was meant to follow.
  EXPECT_EQ(parse_error("model_uri: a.json\n---\n"), "inline.yaml:2:1: " + expected_tail);
  EXPECT_EQ(parse_error("model_uri: a.json\n...\nnum_replicas: 2\n"),
            "inline.yaml:2:1: " + expected_tail);
  // One document that starts with "---" (or a directive) is one document.
  EXPECT_EQ(parse_config("---\nmodel_uri: a.json\n").model_uri, "a.json");
  EXPECT_EQ(parse_config("%YAML 1.2\n---\nmodel_uri: a.json\n...\n").model_uri, "a.json");
}

TEST(ConfigBounds, TextAfterTheDocumentIsAnErrorNotALoop) {
  // A stray ',' made yaml-cpp's LoadAll "read" empty documents forever,
  // allocating until the process died (fuzz/corpus/config/
  // timeout-stray-comma.yaml); YAML::Load alone drops what follows silently.
  const std::string tail =
      "expected one YAML document, found text here that is not part of it (the document begins "
      "at line 1, column 1); remove it or fix the YAML syntax here";
  EXPECT_EQ(parse_error(","), "inline.yaml:1:1: " + tail);
  EXPECT_EQ(parse_error(", model_uri: m.json"), "inline.yaml:1:1: " + tail);
  EXPECT_EQ(parse_error("- a\n,\n"), "inline.yaml:2:1: " + tail);
}

TEST(ConfigBounds, AFloodOfProblemsIsListedUpToALimit) {
  std::string yaml = "model_uri: m.json\n";
  for (int i = 0; i < 40'000; ++i) yaml += "unknown_" + std::to_string(i) + ": 1\n";
  const std::string message = parse_error(yaml);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 50);
  EXPECT_TRUE(contains(message, "inline.yaml: and 39950 more problems not listed; fix the ones "
                                "above first"))
      << message.substr(message.size() - 200);
}

// --- limits of the key table ---------------------------------------------------------------

TEST(ConfigBounds, DurationsAreBoundedFarBelowInt64) {
  // A deadline of now + startup_timeout (or + interval) must not overflow.
  EXPECT_EQ(error_with("startup_timeout: 9223372036854775807ns"),
            "inline.yaml:2:18: startup_timeout: expected a duration with a unit (ns, us, ms, s) "
            "up to 86400s, e.g. \"10s\" (\"0s\" = do not wait), found '9223372036854775807ns'");
  EXPECT_TRUE(contains(error_with("interval: 86401s"), "found '86401s'"));
  EXPECT_TRUE(contains(error_with("spin_duration: 2s"), "found '2s'"));
  EXPECT_TRUE(contains(error_with("model_refresh_interval: 100000s"), "found '100000s'"));
  InferenceConfig config;
  config.model_uri = "m.json";
  config.interval = std::chrono::nanoseconds::max();
  EXPECT_TRUE(contains(validate_error(config), "<C++>: interval: expected a positive duration"));
}

TEST(ConfigBounds, SizesHaveExplicitMaxima) {
  EXPECT_TRUE(contains(error_with("history_capacity: 100000001"),
                       "history_capacity: expected a non-negative integer (0..100000000; 0 = no "
                       "history), found 100000001"));
  EXPECT_TRUE(contains(error_with("num_features: 10000001"), "found 10000001"));
  EXPECT_TRUE(contains(error_with("max_artifact_bytes: 1099511627777"), "found 1099511627777"));
  InferenceConfig config;
  config.model_uri = "m.json";
  config.history_capacity = std::numeric_limits<std::size_t>::max();
  EXPECT_TRUE(contains(validate_error(config), "<C++>: history_capacity: expected a non-negative "
                                               "integer (0..100000000; 0 = no history), found "
                                               "18446744073709551615"));
}

TEST(ConfigBounds, StringsHaveExplicitLengths) {
  // Each string key at its documented limit is read, one byte more is not.
  const std::vector<std::pair<std::string, std::string>> at_limit = {
      {"deployment_name", std::string(256, 'd')},
      {"model_uri", std::string(4096, 'm')},
      {"predictor_class_name", std::string(256, 'P')},
      {"device", "cuda:" + std::string(27, '0')},
      {"mlflow_tracking_uri", "http://" + std::string(2041, 'h')},
      {"model_cache_dir", "/" + std::string(4095, 'c')},
      {"endpoints", "[http://" + std::string(2041, 'e') + "]"},
  };
  for (const auto& [key, value] : at_limit) {
    const std::string head = key == "model_uri" ? "" : "model_uri: m.json\n";
    EXPECT_NO_THROW((void)parse_config(head + key + ": " + value + "\n")) << key;
    // One more byte inside the value (before the closing bracket of a list).
    std::string longer = value;
    const bool list = longer.back() == ']';
    longer.insert(longer.size() - (list ? 1 : 0), 1, '0');
    const std::string message = parse_error(head + key + ": " + longer + "\n");
    const std::size_t limit = value.size() - (list ? 2 : 0);
    EXPECT_TRUE(contains(message, ", longer than the " + std::to_string(limit) + " bytes allowed"))
        << key << ": " << message;
    EXPECT_LT(message.size(), kLongestReasonableMessage);
  }
  InferenceConfig config;
  config.model_uri = "m.json";
  config.deployment_name = std::string(257, 'd');
  EXPECT_TRUE(contains(validate_error(config), "<C++>: deployment_name: expected a string (a "
                                               "label for logs and status lines), found 'ddd"));
  // A NUL byte, spelled "\0" in a double-quoted scalar, would cut a path short.
  EXPECT_EQ(parse_error("model_uri: \"/models/a.json\\0.evil\"\n"),
            "inline.yaml:1:12: model_uri: expected a non-empty model URI: an MLflow URI "
            "(models:/name@alias, models:/name/3, runs:/<run_id>/model, ...), or a path or file:// "
            "URI of an XGBoost model file or an MLflow model folder, e.g. "
            "\"models/my-model.json\", found '/models/a.json\\x00.evil', which holds a NUL byte");
  EXPECT_TRUE(contains(error_with("endpoints: [\"http://h\\0:1\"]"), "which holds a NUL byte"));
  std::string endpoints = "endpoints: [";
  for (int i = 0; i < 1025; ++i) endpoints += "http://h:" + std::to_string(i) + ", ";
  EXPECT_TRUE(contains(error_with(endpoints + "]"), "found 1025 of them, more than the 1024 "
                                                    "allowed"));
}

// --- memory admission --------------------------------------------------------------------

TEST(LoopMemory, HistoryTooLargeForThisMachineIsRefusedByValidateAndTheParser) {
  // 10^8 results of 10^6 rows: hundreds of TiB, more than any machine has.
  InferenceConfig config;
  config.model_uri = "m.json";
  config.history_capacity = 100'000'000;
  config.max_rows = 1'000'000;
  const std::string message = validate_error(config);
  EXPECT_TRUE(contains(message, "<C++>: history_capacity: the loop needs at least ")) << message;
  EXPECT_TRUE(contains(message, "(history: history_capacity 100000000 x (max_rows 1000000 x 1 "
                                "output x 4 bytes + "))
      << message;
  EXPECT_TRUE(contains(message, "and this machine has ")) << message;
  EXPECT_TRUE(contains(message, "; lower history_capacity")) << message;

  const std::string parsed =
      parse_error("model_uri: m.json\nhistory_capacity: 100000000\nmax_rows: 1000000\n");
  EXPECT_TRUE(contains(parsed, "inline.yaml:2:1: history_capacity: the loop needs at least "))
      << parsed;
}

TEST(LoopMemory, ReplicaBuffersTooLargeNameMaxRows) {
  InferenceConfig config;
  config.model_uri = "m.json";
  config.max_rows = 1'000'000;
  config.num_features = 10'000'000;
  config.num_replicas = 64;
  const std::string message = validate_error(config);
  EXPECT_TRUE(contains(message, "<C++>: max_rows: the loop needs at least ")) << message;
  EXPECT_TRUE(contains(message, "replica buffers: num_replicas 64 x max_rows 1000000 x "
                                "(num_features 10000000 + 1 output) x 4 bytes = "))
      << message;
  EXPECT_TRUE(contains(message, "; lower max_rows or num_replicas")) << message;
}

TEST(LoopMemory, TheBoundIsTheSumOfHistoryAndReplicaBuffers) {
  InferenceConfig config;
  config.model_uri = "m.json";
  config.history_capacity = 1000;
  config.max_rows = 50;
  config.num_replicas = 3;
  const std::uint64_t history = 1000 * (50 * 2 * sizeof(float) + sizeof(Prediction));
  const std::uint64_t replicas = 3 * 50 * (7 + 2) * sizeof(float);
  EXPECT_EQ(detail::loop_memory_lower_bound(config, 7, 2), history + replicas);
  // num_outputs counts as at least one; unknown num_features as none.
  EXPECT_EQ(detail::loop_memory_lower_bound(config, 0, 0),
            1000 * (50 * sizeof(float) + sizeof(Prediction)) + 3 * 50 * sizeof(float));
}

TEST(LoopMemory, TheMessageNamesEveryTermAndTheMachine) {
  InferenceConfig config;
  config.model_uri = "m.json";
  config.history_capacity = 100'000'000;
  config.max_rows = 1000;
  constexpr std::uint64_t kEightGiB = std::uint64_t{8} << 30;
  const auto problem = detail::loop_memory_problem(config, 0, 1, kEightGiB);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->key, "history_capacity");
  const std::string entry = std::to_string(sizeof(Prediction));
  EXPECT_TRUE(contains(problem->message,
                       "(history: history_capacity 100000000 x (max_rows 1000 x 1 output x 4 bytes "
                       "+ " + entry + " bytes per entry) = "))
      << problem->message;
  EXPECT_TRUE(contains(problem->message, "replica buffers: num_replicas 1 x max_rows 1000 x (1 "
                                         "output) x 4 bytes = 3.9 KiB), and this machine has 8.0 "
                                         "GiB; lower history_capacity (feature buffers are not "
                                         "counted until the model gives num_features)"))
      << problem->message;
  // The same config fits a machine large enough, and an unknown machine.
  const std::uint64_t needed = detail::loop_memory_lower_bound(config, 0, 1);
  EXPECT_FALSE(detail::loop_memory_problem(config, 0, 1, needed));
  EXPECT_TRUE(detail::loop_memory_problem(config, 0, 1, needed - 1));
  EXPECT_FALSE(detail::loop_memory_problem(config, 0, 1, 0));
}

TEST(LoopMemory, HugeModelShapesSaturateInsteadOfWrapping) {
  InferenceConfig config;
  config.model_uri = "m.json";
  config.history_capacity = 100'000'000;
  config.max_rows = 1'000'000;
  const std::size_t huge = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(detail::loop_memory_lower_bound(config, huge, huge),
            std::numeric_limits<std::uint64_t>::max());
  try {
    detail::check_loop_memory(config, huge, huge);
    ADD_FAILURE() << "check_loop_memory accepted a model of SIZE_MAX outputs";
  } catch (const Error& error) {
    EXPECT_TRUE(contains(error.what(), "the loop needs more than 16 EiB of memory"))
        << error.what();
  }
  // The defaults fit anywhere.
  EXPECT_NO_THROW(detail::check_loop_memory(InferenceConfig{}, 100, 1));
}

}  // namespace
}  // namespace inferloop
