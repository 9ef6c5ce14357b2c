// Tests for InferenceConfig: both YAML file forms, every key, every kind of bad
// input with the exact message a user sees, validate() for configs built in
// C++, and that docs/configuration.md documents every key with its real default.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

const std::filesystem::path kConfigs = INFERLOOP_TEST_CONFIGS_DIR;

std::string config_path(std::string_view name) { return (kConfigs / name).string(); }

// The message parse_config throws for `yaml` (named "inline.yaml").
std::string parse_error(std::string_view yaml) {
  try {
    (void)parse_config(yaml, "inline.yaml");
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "parse_config accepted:\n" << yaml;
  return {};
}

std::string load_error(const std::filesystem::path& file) {
  try {
    (void)load_config(file);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "load_config accepted " << file;
  return {};
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

// One line of a config with a valid model_uri, so only `line` can be wrong.
InferenceConfig parse_with(std::string_view line) {
  return parse_config("model_uri: m.json\n" + std::string(line) + "\n", "inline.yaml");
}
std::string error_with(std::string_view line) {
  return parse_error("model_uri: m.json\n" + std::string(line) + "\n");
}

void expect_issue(const ConfigIssue& issue, const std::string& file, int line, int column,
                  std::string_view key, std::string_view message) {
  EXPECT_EQ(issue.file, file);
  EXPECT_EQ(issue.line, line);
  EXPECT_EQ(issue.column, column);
  EXPECT_EQ(issue.key, key);
  EXPECT_EQ(issue.message, message);
}

// Every field, so two configs can be compared whole.
void expect_same_config(const InferenceConfig& actual, const InferenceConfig& expected) {
  EXPECT_EQ(actual.deployment_name, expected.deployment_name);
  EXPECT_EQ(actual.model_uri, expected.model_uri);
  EXPECT_EQ(actual.predictor_class_name, expected.predictor_class_name);
  EXPECT_EQ(actual.num_replicas, expected.num_replicas);
  EXPECT_EQ(actual.device, expected.device);
  EXPECT_EQ(actual.num_features, expected.num_features);
  EXPECT_EQ(actual.max_rows, expected.max_rows);
  EXPECT_EQ(actual.wait_strategy, expected.wait_strategy);
  EXPECT_EQ(actual.spin_duration, expected.spin_duration);
  EXPECT_EQ(actual.interval, expected.interval);
  EXPECT_EQ(actual.startup_timeout, expected.startup_timeout);
  EXPECT_EQ(actual.history_capacity, expected.history_capacity);
  EXPECT_EQ(actual.output, expected.output);
  EXPECT_EQ(actual.share_booster, expected.share_booster);
  EXPECT_EQ(actual.predictor_threads, expected.predictor_threads);
  EXPECT_EQ(actual.endpoints, expected.endpoints);
  EXPECT_EQ(actual.mlflow_tracking_uri, expected.mlflow_tracking_uri);
  EXPECT_EQ(actual.model_cache_dir, expected.model_cache_dir);
  EXPECT_EQ(actual.model_refresh_interval, expected.model_refresh_interval);
  EXPECT_EQ(actual.use_cache_when_offline, expected.use_cache_when_offline);
  EXPECT_EQ(actual.max_artifact_bytes, expected.max_artifact_bytes);
}

const std::string kModelUriExpected =
    "expected a non-empty model URI: an MLflow URI (models:/name@alias, models:/name/3, "
    "runs:/<run_id>/model, ...), or a path or file:// URI of an XGBoost model file or an MLflow "
    "model folder, e.g. \"models/my-model.json\", found ";

const std::string kValidKeys =
    "deployment_name, model_uri, predictor_class_name, num_replicas, device, num_features, "
    "max_rows, wait_strategy, spin_duration, interval, startup_timeout, history_capacity, output, "
    "share_booster, predictor_threads, poller_cpu, replica_cpus, endpoints, mlflow_tracking_uri, model_cache_dir, "
    "model_refresh_interval, use_cache_when_offline, max_artifact_bytes, metrics_listen";

const std::string kMissingModelUri =
    "required key is missing; add it, e.g. \"model_uri: models/my-model.json\" (a model file: "
    ".json, .ubj or legacy binary, or an MLflow model folder)";

// --- the two file forms -------------------------------------------------------------

TEST(ConfigFile, BareMappingSetsEveryKey) {
  const InferenceConfig config = load_config(config_path("bare_all_keys.yaml"));
  EXPECT_EQ(config.deployment_name, "eurusd-momentum");
  EXPECT_EQ(config.model_uri, "models/momentum.ubj");
  EXPECT_EQ(config.predictor_class_name, "MyPredictor");
  EXPECT_EQ(config.num_replicas, 4);
  EXPECT_EQ(config.device, "cuda:1");
  EXPECT_EQ(config.num_features, 32u);
  EXPECT_EQ(config.max_rows, 500u);
  EXPECT_EQ(config.wait_strategy, WaitStrategy::kInterval);
  EXPECT_EQ(config.spin_duration, 20us);
  EXPECT_EQ(config.interval, 1500us);
  EXPECT_EQ(config.startup_timeout, 0s);
  EXPECT_EQ(config.history_capacity, 1024u);
  EXPECT_EQ(config.output, OutputKind::kMargin);
  EXPECT_TRUE(config.share_booster);
  EXPECT_EQ(config.predictor_threads, 8);
  EXPECT_TRUE(check_config_file(config_path("bare_all_keys.yaml")).empty());
  EXPECT_NO_THROW(config.validate());
}

TEST(ConfigFile, ApplicationFileReadsOnlyInferenceConfig) {
  // The file's own top-level model_uri and num_replicas belong to the
  // application and must neither be read nor reported.
  const InferenceConfig config = load_config(config_path("app_file.yaml"));
  EXPECT_EQ(config.deployment_name, "momentum-live");
  EXPECT_EQ(config.model_uri, "file:///srv/models/momentum");
  EXPECT_EQ(config.predictor_class_name, "XGBoostPredictor");
  EXPECT_EQ(config.num_replicas, 2);
  EXPECT_EQ(config.device, "cpu");
  EXPECT_TRUE(check_config_file(config_path("app_file.yaml")).empty());
}

TEST(ConfigFile, OnlyModelUriGivesEveryDefault) {
  const InferenceConfig config = parse_config("model_uri: m.json\n");
  InferenceConfig expected;
  expected.model_uri = "m.json";
  expect_same_config(config, expected);
  EXPECT_FALSE(config.deployment_name.has_value());
  EXPECT_EQ(config.predictor_class_name, "XGBoostPredictor");
  EXPECT_EQ(config.num_replicas, 1);
  EXPECT_EQ(config.wait_strategy, WaitStrategy::kSpinThenBlock);
  EXPECT_EQ(config.spin_duration, 1ms);
  EXPECT_EQ(config.interval, 1ms);
  EXPECT_EQ(config.startup_timeout, 10s);
}

TEST(ConfigFile, ExamplesLoad) {
  const std::filesystem::path examples = INFERLOOP_EXAMPLE_CONFIGS_DIR;
  const InferenceConfig demo = load_config(examples / "demo.yaml");
  EXPECT_EQ(demo.model_uri, "build/demo-model");
  EXPECT_EQ(demo.predictor_class_name, "XGBoostPredictor");
  const InferenceConfig minimal = load_config(examples / "minimal.yaml");
  EXPECT_FALSE(minimal.model_uri.empty());
}

// --- file-level problems ---------------------------------------------------------------

TEST(ConfigFile, MissingModelUriInBareMapping) {
  const std::string file = config_path("missing_model_uri.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 1, 1, "model_uri", kMissingModelUri);
  EXPECT_EQ(load_error(file), file + ":1:1: model_uri: " + kMissingModelUri);
}

TEST(ConfigFile, MissingModelUriPointsAtInferenceConfig) {
  const std::string file = config_path("app_missing_model_uri.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 2, 1, "model_uri", kMissingModelUri);
}

TEST(ConfigFile, KeyTypoSuggestsTheKey) {
  const std::string file = config_path("key_typo.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 2, 1, "predictor_clas_name",
               "unknown key 'predictor_clas_name'; did you mean 'predictor_class_name'?");
  EXPECT_EQ(load_error(file), file +
                                  ":2:1: predictor_clas_name: unknown key 'predictor_clas_name'; "
                                  "did you mean 'predictor_class_name'?");
}

TEST(ConfigFile, UnknownKeyFarFromAnyListsValidKeys) {
  const std::string file = config_path("unknown_key.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 3, 3, "colour",
               "unknown key 'colour'; valid keys are: " + kValidKeys);
}

TEST(ConfigFile, CloseTyposOfEveryKindAreSuggested) {
  EXPECT_EQ(error_with("num_replica: 2"),
            "inline.yaml:2:1: num_replica: unknown key 'num_replica'; did you mean "
            "'num_replicas'?");
  // A transposition is one edit.
  EXPECT_EQ(error_with("num_replcias: 2"),
            "inline.yaml:2:1: num_replcias: unknown key 'num_replcias'; did you mean "
            "'num_replicas'?");
  // Case and dashes are ignored when looking for the intended key.
  EXPECT_EQ(error_with("Share-Booster: true"),
            "inline.yaml:2:1: Share-Booster: unknown key 'Share-Booster'; did you mean "
            "'share_booster'?");
  // In a bare file, a misspelt inference_config is the likely intent.
  EXPECT_EQ(error_with("inference_cofig: {}"),
            "inline.yaml:2:1: inference_cofig: unknown key 'inference_cofig'; did you mean "
            "'inference_config'?");
}

TEST(ConfigFile, UnbalancedBracketIsAYamlError) {
  const std::string file = config_path("unbalanced_bracket.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 3, 13, "",
               "invalid YAML: end of sequence flow not found; fix the YAML syntax here (or just "
               "before)");
  EXPECT_EQ(load_error(file), file +
                                  ":3:13: invalid YAML: end of sequence flow not found; fix the "
                                  "YAML syntax here (or just before)");
}

TEST(ConfigFile, BadIndentationIsAYamlError) {
  const std::string file = config_path("bad_indentation.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 3, 16, "",
               "invalid YAML: illegal map value; fix the YAML syntax here (or just before)");
}

TEST(ConfigFile, MissingFile) {
  const std::string file = config_path("no_such_config.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 0, 0, "",
               "cannot open config file '" + file + "': No such file or directory");
  EXPECT_EQ(load_error(file),
            file + ": cannot open config file '" + file + "': No such file or directory");
}

TEST(ConfigFile, MissingRelativeFileNamesTheWorkingDirectory) {
  const std::vector<ConfigIssue> issues = check_config_file("no/such/config.yaml");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message,
            "cannot open config file 'no/such/config.yaml': No such file or directory (relative "
            "paths resolve against the working directory '" +
                std::filesystem::current_path().string() + "')");
}

TEST(ConfigFile, DirectoryIsNotAConfigFile) {
  const std::vector<ConfigIssue> issues = check_config_file(kConfigs);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].message,
            "cannot open config file '" + kConfigs.string() + "': Is a directory");
}

TEST(ConfigFile, EmptyFile) {
  const std::string expected =
      "the file holds no config; expected a mapping with at least \"model_uri: "
      "models/my-model.json\", either at the top level or under \"inference_config:\"";
  for (const char* name : {"empty.yaml", "comments_only.yaml"}) {
    const std::string file = config_path(name);
    const std::vector<ConfigIssue> issues = check_config_file(file);
    ASSERT_EQ(issues.size(), 1u) << name;
    expect_issue(issues[0], file, 0, 0, "", expected);
    EXPECT_EQ(load_error(file), file + ": " + expected);
  }
}

TEST(ConfigFile, TopLevelListIsNotAConfig) {
  const std::string file = config_path("top_level_list.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 1, 1, "",
               "expected a mapping of config keys (key: value), e.g. \"model_uri: "
               "models/my-model.json\", found a sequence");
  EXPECT_EQ(parse_error("just some text\n"),
            "inline.yaml:1:1: expected a mapping of config keys (key: value), e.g. \"model_uri: "
            "models/my-model.json\", found string 'just some text'");
}

TEST(ConfigFile, InferenceConfigMustBeAMapping) {
  const std::string file = config_path("inference_config_not_mapping.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 2, 19, "inference_config",
               "expected a mapping of config keys, e.g. \"inference_config: {model_uri: "
               "models/my-model.json}\", found string 'models/momentum.json'");
  EXPECT_EQ(parse_error("app: 1\ninference_config:\n"),
            "inline.yaml:2:1: inference_config: expected a mapping of config keys, e.g. "
            "\"inference_config: {model_uri: models/my-model.json}\", found an empty value");
}

TEST(ConfigFile, EveryIssueIsReportedTogether) {
  const std::string file = config_path("many_errors.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 7u);
  expect_issue(issues[0], file, 3, 17, "num_replicas",
               "expected a positive integer (1..64), found string 'two'");
  expect_issue(issues[1], file, 4, 3, "num_replica",
               "unknown key 'num_replica'; did you mean 'num_replicas'?");
  expect_issue(issues[2], file, 5, 18, "spin_duration",
               "expected a duration with a unit (ns, us, ms, s) up to 1s, e.g. \"1ms\", found "
               "50; add a unit, e.g. '50ms'");
  expect_issue(issues[3], file, 6, 18, "wait_strategy",
               "expected one of spin, spin_then_block, block, interval, continuous, found "
               "'spinning'; did you mean 'spin'?");
  expect_issue(issues[4], file, 7, 18, "share_booster",
               "expected true or false, found string 'yes'");
  expect_issue(issues[5], file, 8, 13, "max_rows",
               "expected a positive integer (1..1000000), found 0");
  expect_issue(issues[6], file, 9, 13, "interval",
               "expected a positive duration with a unit (ns, us, ms, s) up to 86400s, e.g. "
               "\"1ms\", found '0ms'");

  std::string joined;
  for (const ConfigIssue& issue : issues) {
    joined += (joined.empty() ? "" : "\n") + issue.to_string();
  }
  EXPECT_EQ(load_error(file), joined);
  EXPECT_EQ(std::count(joined.begin(), joined.end(), '\n'), 6);
}

TEST(ConfigFile, DuplicateKeyIsReported) {
  const std::string file = config_path("duplicate_key.yaml");
  const std::vector<ConfigIssue> issues = check_config_file(file);
  ASSERT_EQ(issues.size(), 1u);
  expect_issue(issues[0], file, 3, 1, "num_replicas",
               "expected each key at most once, found it again (first at line 2, column 1); "
               "remove one of them");
}

// --- values -----------------------------------------------------------------------------

TEST(ConfigValues, NumReplicasOutOfRangeOrWrongType) {
  const std::string expected = "inline.yaml:2:15: num_replicas: expected a positive integer "
                               "(1..64), found ";
  EXPECT_EQ(error_with("num_replicas: 0"), expected + "0");
  EXPECT_EQ(error_with("num_replicas: -3"), expected + "-3");
  EXPECT_EQ(error_with("num_replicas: 65"), expected + "65");
  EXPECT_EQ(error_with("num_replicas: two"), expected + "string 'two'");
  EXPECT_EQ(error_with("num_replicas: 2.5"), expected + "2.5");
  EXPECT_EQ(error_with("num_replicas: \"2\""), expected + "string '2'");
  EXPECT_EQ(error_with("num_replicas: true"), expected + "true");
  EXPECT_EQ(error_with("num_replicas: [2]"), expected + "a sequence");
  EXPECT_EQ(error_with("num_replicas: {n: 2}"), expected + "a mapping");
  EXPECT_EQ(error_with("num_replicas: 99999999999999999999"),
            expected + "99999999999999999999, which is out of range");
  EXPECT_EQ(error_with("num_replicas:"),
            "inline.yaml:2:1: num_replicas: expected a positive integer (1..64), found an empty "
            "value");
  EXPECT_EQ(parse_with("num_replicas: 1").num_replicas, 1);
  EXPECT_EQ(parse_with("num_replicas: 64").num_replicas, 64);
  EXPECT_EQ(parse_with("num_replicas: +7").num_replicas, 7);
}

TEST(ConfigValues, NanAndInfinityAreErrors) {
  EXPECT_EQ(error_with("max_rows: .nan"),
            "inline.yaml:2:11: max_rows: expected a positive integer (1..1000000), found .nan "
            "(not a number)");
  EXPECT_EQ(error_with("num_features: -.inf"),
            "inline.yaml:2:15: num_features: expected a non-negative integer (0..10000000; 0 = "
            "take it from the model), found -.inf (infinity)");
  EXPECT_EQ(error_with("interval: .inf"),
            "inline.yaml:2:11: interval: expected a positive duration with a unit (ns, us, ms, s) "
            "up to 86400s, e.g. \"1ms\", found .inf (infinity)");
}

TEST(ConfigValues, IntegerRanges) {
  EXPECT_EQ(parse_with("max_rows: 1000000").max_rows, 1'000'000u);
  EXPECT_EQ(error_with("max_rows: 1000001"),
            "inline.yaml:2:11: max_rows: expected a positive integer (1..1000000), found 1000001");
  EXPECT_EQ(parse_with("predictor_threads: 256").predictor_threads, 256);
  EXPECT_EQ(error_with("predictor_threads: 0"),
            "inline.yaml:2:20: predictor_threads: expected a positive integer (1..256), found 0");
  EXPECT_EQ(error_with("predictor_threads: 257"),
            "inline.yaml:2:20: predictor_threads: expected a positive integer (1..256), found 257");
  EXPECT_EQ(parse_with("num_features: 0").num_features, 0u);
  EXPECT_EQ(parse_with("num_features: 7").num_features, 7u);
  EXPECT_EQ(error_with("num_features: -1"),
            "inline.yaml:2:15: num_features: expected a non-negative integer (0..10000000; 0 = "
            "take it from the model), found -1");
  EXPECT_EQ(parse_with("history_capacity: 100000").history_capacity, 100'000u);
  EXPECT_EQ(error_with("history_capacity: -5"),
            "inline.yaml:2:19: history_capacity: expected a non-negative integer (0..100000000; 0 "
            "= no history), found -5");
}

TEST(ConfigValues, Strings) {
  EXPECT_EQ(error_with("predictor_class_name: ''"),
            "inline.yaml:2:23: predictor_class_name: expected a non-empty registered predictor "
            "name, e.g. \"XGBoostPredictor\", found ''");
  EXPECT_EQ(parse_error("model_uri: \"\"\n"),
            "inline.yaml:1:12: model_uri: " + kModelUriExpected + "''");
  EXPECT_EQ(parse_error("model_uri:\n"),
            "inline.yaml:1:1: model_uri: " + kModelUriExpected + "an empty value");
  EXPECT_EQ(parse_error("model_uri: [a.json]\n"),
            "inline.yaml:1:12: model_uri: " + kModelUriExpected + "a sequence");
  EXPECT_EQ(parse_with("deployment_name: live").deployment_name, "live");
  EXPECT_FALSE(parse_with("deployment_name:").deployment_name.has_value());
  EXPECT_EQ(parse_with("predictor_class_name: Custom").predictor_class_name, "Custom");
}

TEST(ConfigValues, Devices) {
  EXPECT_EQ(parse_with("device: cpu").device, "cpu");
  EXPECT_EQ(parse_with("device: cuda").device, "cuda");
  EXPECT_EQ(parse_with("device: cuda:0").device, "cuda:0");
  EXPECT_EQ(parse_with("device: \"cuda:3\"").device, "cuda:3");
  const std::string expected =
      "inline.yaml:2:9: device: expected \"cpu\", \"cuda\" or \"cuda:N\" (N = GPU ordinal, e.g. "
      "\"cuda:0\"), found ";
  EXPECT_EQ(error_with("device: gpu"), expected + "'gpu'");
  EXPECT_EQ(error_with("device: 'cuda:'"), expected + "'cuda:'");
  EXPECT_EQ(error_with("device: cuda:-1"), expected + "'cuda:-1'");
  EXPECT_EQ(error_with("device: cuda:x"), expected + "'cuda:x'");
  EXPECT_EQ(error_with("device: CPU"), expected + "'CPU'");
}

TEST(ConfigValues, EveryWaitStrategy) {
  const std::vector<std::pair<std::string_view, WaitStrategy>> all = {
      {"spin", WaitStrategy::kSpin},
      {"spin_then_block", WaitStrategy::kSpinThenBlock},
      {"block", WaitStrategy::kBlock},
      {"interval", WaitStrategy::kInterval},
      {"continuous", WaitStrategy::kContinuous}};
  for (const auto& [name, value] : all) {
    EXPECT_EQ(parse_with("wait_strategy: " + std::string(name)).wait_strategy, value) << name;
    EXPECT_EQ(to_string(value), name);
  }
  EXPECT_EQ(error_with("wait_strategy: blocking"),
            "inline.yaml:2:16: wait_strategy: expected one of spin, spin_then_block, block, "
            "interval, continuous, found 'blocking'; did you mean 'block'?");
  EXPECT_EQ(error_with("wait_strategy: 3"),
            "inline.yaml:2:16: wait_strategy: expected one of spin, spin_then_block, block, "
            "interval, continuous, found '3'");
  EXPECT_EQ(error_with("wait_strategy: [spin]"),
            "inline.yaml:2:16: wait_strategy: expected one of spin, spin_then_block, block, "
            "interval, continuous, found a sequence");
}

TEST(ConfigValues, EveryOutputKind) {
  EXPECT_EQ(parse_with("output: transformed").output, OutputKind::kTransformed);
  EXPECT_EQ(parse_with("output: margin").output, OutputKind::kMargin);
  EXPECT_EQ(to_string(OutputKind::kTransformed), "transformed");
  EXPECT_EQ(to_string(OutputKind::kMargin), "margin");
  EXPECT_EQ(error_with("output: raw"),
            "inline.yaml:2:9: output: expected one of transformed, margin, found 'raw'");
  EXPECT_EQ(error_with("output: Margin"),
            "inline.yaml:2:9: output: expected one of transformed, margin, found 'Margin'; did "
            "you mean 'margin'?");
}

TEST(ConfigValues, BooleansAreTrueOrFalseOnly) {
  EXPECT_TRUE(parse_with("share_booster: true").share_booster);
  EXPECT_TRUE(parse_with("share_booster: True").share_booster);
  EXPECT_FALSE(parse_with("share_booster: false").share_booster);
  EXPECT_FALSE(parse_with("share_booster: FALSE").share_booster);
  const std::string expected = "inline.yaml:2:16: share_booster: expected true or false, found ";
  EXPECT_EQ(error_with("share_booster: yes"), expected + "string 'yes'");
  EXPECT_EQ(error_with("share_booster: on"), expected + "string 'on'");
  EXPECT_EQ(error_with("share_booster: 1"), expected + "1");
  EXPECT_EQ(error_with("share_booster: \"true\""), expected + "string 'true'");
}

// --- durations ----------------------------------------------------------------------------

TEST(Durations, ParseDurationAcceptsEveryUnit) {
  EXPECT_EQ(parse_duration("1500ns"), 1500ns);
  EXPECT_EQ(parse_duration("250us"), 250us);
  EXPECT_EQ(parse_duration("10ms"), 10ms);
  EXPECT_EQ(parse_duration("2s"), 2s);
  EXPECT_EQ(parse_duration("0s"), 0ns);
  EXPECT_EQ(parse_duration("1.5ms"), 1'500'000ns);
  EXPECT_EQ(parse_duration("0.25s"), 250ms);
  EXPECT_EQ(parse_duration(".5us"), 500ns);
  EXPECT_EQ(parse_duration("0.000000001s"), 1ns);
  EXPECT_EQ(parse_duration("2.000s"), 2s);
  EXPECT_EQ(parse_duration("10 ms"), 10ms);
  EXPECT_EQ(parse_duration("9223372036854775807ns"), std::chrono::nanoseconds::max());
}

TEST(Durations, ParseDurationRejectsBadText) {
  auto error_of = [](std::string_view text) -> std::string {
    try {
      (void)parse_duration(text);
    } catch (const Error& error) {
      return error.what();
    }
    ADD_FAILURE() << "parse_duration accepted \"" << text << "\"";
    return {};
  };
  const std::string expected =
      "invalid duration: expected a duration with a unit (ns, us, ms, s), e.g. \"250us\", found ";
  EXPECT_EQ(error_of("250"), expected + "'250'; add a unit, e.g. '250ms'");
  EXPECT_EQ(error_of("5m"), expected + "'5m'; the unit must be one of ns, us, ms, s");
  EXPECT_EQ(error_of("5 sec"), expected + "'5 sec'; the unit must be one of ns, us, ms, s");
  EXPECT_EQ(error_of("-1s"), expected + "'-1s'; a duration cannot be negative");
  EXPECT_EQ(error_of("1.5ns"), expected + "'1.5ns'; that is not a whole number of nanoseconds");
  EXPECT_EQ(error_of("1.0000000005s"),
            expected + "'1.0000000005s'; that is not a whole number of nanoseconds");
  EXPECT_EQ(error_of("ms"), expected + "'ms'; write a number followed by a unit (ns, us, ms, s)");
  EXPECT_EQ(error_of(""), expected + "''");
  EXPECT_EQ(error_of("9223372036854775808ns"),
            expected + "'9223372036854775808ns'; too large (the limit is about 292 years)");
  EXPECT_EQ(error_of("300years"), expected + "'300years'; the unit must be one of ns, us, ms, s");
}

TEST(Durations, InConfig) {
  const InferenceConfig config =
      parse_with("spin_duration: 0ns\ninterval: 250us\nstartup_timeout: \"2s\"");
  EXPECT_EQ(config.spin_duration, 0ns);
  EXPECT_EQ(config.interval, 250us);
  EXPECT_EQ(config.startup_timeout, 2s);
  // A bare number gets a hint in the key's own default unit.
  EXPECT_EQ(error_with("startup_timeout: 30"),
            "inline.yaml:2:18: startup_timeout: expected a duration with a unit (ns, us, ms, s) "
            "up to 86400s, e.g. \"10s\" (\"0s\" = do not wait), found 30; add a unit, e.g. '30s'");
  EXPECT_EQ(error_with("interval: 1.5"),
            "inline.yaml:2:11: interval: expected a positive duration with a unit (ns, us, ms, s) "
            "up to 86400s, e.g. \"1ms\", found 1.5; add a unit, e.g. '1.5ms'");
  EXPECT_EQ(error_with("interval: 0s"),
            "inline.yaml:2:11: interval: expected a positive duration with a unit (ns, us, ms, s) "
            "up to 86400s, e.g. \"1ms\", found '0s'");
  EXPECT_EQ(error_with("spin_duration: fast"),
            "inline.yaml:2:16: spin_duration: expected a duration with a unit (ns, us, ms, s) up "
            "to 1s, e.g. \"1ms\", found 'fast'; write a number followed by a unit (ns, us, ms, "
            "s)");
  EXPECT_EQ(error_with("spin_duration: -5us"),
            "inline.yaml:2:16: spin_duration: expected a duration with a unit (ns, us, ms, s) up "
            "to 1s, e.g. \"1ms\", found '-5us'; a duration cannot be negative");
}

TEST(Durations, SpinDurationWithoutSpinThenBlockIsAccepted) {
  // spin_duration only matters to spin_then_block; setting it for another
  // strategy is harmless, so it is not an error.
  const InferenceConfig config = parse_with("wait_strategy: block\nspin_duration: 10us");
  EXPECT_EQ(config.wait_strategy, WaitStrategy::kBlock);
  EXPECT_EQ(config.spin_duration, 10us);
  EXPECT_NO_THROW(config.validate());
}

// --- configs built in C++ ------------------------------------------------------------------

TEST(Validate, ValidConfigPasses) {
  InferenceConfig config;
  config.model_uri = "models/m.json";
  EXPECT_NO_THROW(config.validate());
  config.num_replicas = 64;
  config.device = "cuda:2";
  config.wait_strategy = WaitStrategy::kInterval;
  config.interval = 1ns;
  config.startup_timeout = 0s;
  EXPECT_NO_THROW(config.validate());
}

TEST(Validate, ReportsEveryProblem) {
  InferenceConfig config;  // model_uri left empty
  config.predictor_class_name = "";
  config.num_replicas = 0;
  config.device = "tpu";
  config.max_rows = 0;
  config.wait_strategy = static_cast<WaitStrategy>(42);
  config.spin_duration = -5us;
  config.interval = 0ns;
  config.startup_timeout = -1s;
  config.output = static_cast<OutputKind>(7);
  config.predictor_threads = 300;
  EXPECT_EQ(
      validate_error(config),
      "<C++>: model_uri: " + kModelUriExpected + "''\n"
      "<C++>: predictor_class_name: expected a non-empty registered predictor name, e.g. "
      "\"XGBoostPredictor\", found ''\n"
      "<C++>: num_replicas: expected a positive integer (1..64), found 0\n"
      "<C++>: device: expected \"cpu\", \"cuda\" or \"cuda:N\" (N = GPU ordinal, e.g. "
      "\"cuda:0\"), found 'tpu'\n"
      "<C++>: max_rows: expected a positive integer (1..1000000), found 0\n"
      "<C++>: wait_strategy: expected one of spin, spin_then_block, block, interval, continuous, "
      "found enumerator value 42\n"
      "<C++>: spin_duration: expected a duration with a unit (ns, us, ms, s) up to 1s, e.g. "
      "\"1ms\", "
      "found '-5us'\n"
      "<C++>: interval: expected a positive duration with a unit (ns, us, ms, s) up to 86400s, "
      "e.g. \"1ms\", "
      "found '0s'\n"
      "<C++>: startup_timeout: expected a duration with a unit (ns, us, ms, s) up to 86400s, e.g. "
      "\"10s\" "
      "(\"0s\" = do not wait), found '-1s'\n"
      "<C++>: output: expected one of transformed, margin, found enumerator value 7\n"
      "<C++>: predictor_threads: expected a positive integer (1..256), found 300");
}

TEST(Validate, HugeSizeIsOutOfRange) {
  InferenceConfig config;
  config.model_uri = "m.json";
  config.max_rows = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(validate_error(config),
            "<C++>: max_rows: expected a positive integer (1..1000000), found " +
                std::to_string(std::numeric_limits<std::size_t>::max()));
}

TEST(ConfigValues, MlflowKeys) {
  const InferenceConfig config = parse_with(
      "mlflow_tracking_uri: http://127.0.0.1:5000\n"
      "model_cache_dir: /var/cache/models\n"
      "model_refresh_interval: 30s\n"
      "use_cache_when_offline: true\n"
      "max_artifact_bytes: 1048576");
  EXPECT_EQ(config.mlflow_tracking_uri, "http://127.0.0.1:5000");
  EXPECT_EQ(config.model_cache_dir, "/var/cache/models");
  EXPECT_EQ(config.model_refresh_interval, std::chrono::seconds(30));
  EXPECT_TRUE(config.use_cache_when_offline);
  EXPECT_EQ(config.max_artifact_bytes, 1048576U);
  EXPECT_EQ(error_with("mlflow_tracking_uri: localhost:5000"),
            "inline.yaml:2:22: mlflow_tracking_uri: expected an http:// or https:// URL of an "
            "MLflow "
            "tracking server, e.g. \"http://mlflow.internal:5000\" (empty = MLFLOW_TRACKING_URI), "
            "found 'localhost:5000'");
  EXPECT_EQ(error_with("max_artifact_bytes: 0"),
            "inline.yaml:2:21: max_artifact_bytes: expected a positive integer number of bytes "
            "(1..1099511627776, the largest model file downloaded), found 0");
  EXPECT_NE(error_with("model_refresh_intervall: 5s")
                .find("did you mean 'model_refresh_interval'?"),
            std::string::npos);
}

TEST(ConfigValues, EndpointsAreAListOfHttpUrls) {
  EXPECT_EQ(parse_with("endpoints: [\"http://10.0.0.5:8080\", https://h/serve]").endpoints,
            (std::vector<std::string>{"http://10.0.0.5:8080", "https://h/serve"}));
  EXPECT_TRUE(parse_with("endpoints: []").endpoints.empty());
  const std::string expected =
      "expected a list of http:// or https:// base URLs, e.g. [\"http://10.0.0.5:8080\"], found ";
  EXPECT_EQ(error_with("endpoints: http://h:1"),
            "inline.yaml:2:12: endpoints: " + expected + "string 'http://h:1'");
  EXPECT_EQ(error_with("endpoints: [http://h:1, h:2]"),
            "inline.yaml:2:12: endpoints: " + expected + "'h:2'");
  EXPECT_EQ(error_with("endpoints: [[http://h:1]]"),
            "inline.yaml:2:12: endpoints: " + expected + "an item that is a sequence");
  InferenceConfig config;
  config.model_uri = "m.json";
  config.endpoints = {"ftp://h"};
  EXPECT_EQ(validate_error(config), "<C++>: endpoints: " + expected + "'ftp://h'");
}

// --- keys and docs ------------------------------------------------------------------------

TEST(ConfigFile, CpuAffinityKeysAreReadAndRangeChecked) {
  const InferenceConfig config = parse_with("poller_cpu: 1\nreplica_cpus: [0, 1, 1]");
  EXPECT_EQ(config.poller_cpu, 1);
  EXPECT_EQ(config.replica_cpus, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(error_with("poller_cpu: 1024"),
            "inline.yaml:2:13: poller_cpu: expected a CPU number (0..1023) to pin the poller "
            "thread to, or -1 (not pinned), found 1024");
  EXPECT_EQ(error_with("replica_cpus: [2, -3]"),
            "inline.yaml:2:15: replica_cpus: expected a list of at most 64 CPU numbers (0..1023) "
            "for the replica threads, e.g. [2, 3] (empty = not pinned), found an item '-3'");
  EXPECT_EQ(error_with("replica_cpus: 3"),
            "inline.yaml:2:15: replica_cpus: expected a list of at most 64 CPU numbers (0..1023) "
            "for the replica threads, e.g. [2, 3] (empty = not pinned), found 3");
  InferenceConfig in_cpp;
  in_cpp.model_uri = "m.json";
  in_cpp.replica_cpus = {5000};
  try {
    in_cpp.validate();
    ADD_FAILURE() << "validate() accepted CPU 5000";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("replica_cpus: expected a list"), std::string::npos)
        << error.what();
  }
}

TEST(ConfigKeys, DocumentationOrder) {
  const std::vector<std::string> expected = {
      "deployment_name", "model_uri",       "predictor_class_name", "num_replicas",
      "device",          "num_features",    "max_rows",             "wait_strategy",
      "spin_duration",   "interval",        "startup_timeout",      "history_capacity",
      "output",          "share_booster",   "predictor_threads",    "poller_cpu",
      "replica_cpus",    "endpoints",       "mlflow_tracking_uri",  "model_cache_dir",
      "model_refresh_interval", "use_cache_when_offline", "max_artifact_bytes",
      "metrics_listen"};
  EXPECT_EQ(config_keys(), expected);
}

TEST(ConfigIssueFormat, ToString) {
  EXPECT_EQ((ConfigIssue{"a.yaml", 3, 7, "num_replicas", "expected x, found y"}.to_string()),
            "a.yaml:3:7: num_replicas: expected x, found y");
  EXPECT_EQ((ConfigIssue{"a.yaml", 2, 1, "", "invalid YAML"}.to_string()), "a.yaml:2:1: invalid "
      "YAML");
  EXPECT_EQ((ConfigIssue{"<C++>", 0, 0, "device", "expected x"}.to_string()), "<C++>: device: "
      "expected x");
}

// The row of docs/configuration.md's key table for `key`, split into cells.
std::vector<std::string> doc_row(const std::string& docs, const std::string& key) {
  const std::string start = "| `" + key + "` |";
  std::istringstream lines(docs);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(start)) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    return cells;
  }
  return {};
}

TEST(ConfigDocs, EveryKeyIsDocumentedWithItsRealDefault) {
  std::ifstream in(INFERLOOP_CONFIGURATION_DOC);
  ASSERT_TRUE(in) << "cannot read " << INFERLOOP_CONFIGURATION_DOC;
  const std::string docs{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  InferenceConfig defaults;
  defaults.model_uri = "m.json";
  for (const std::string& key : config_keys()) {
    SCOPED_TRACE(key);
    // | `key` | type | default | allowed values | what it does |
    const std::vector<std::string> cells = doc_row(docs, key);
    ASSERT_GE(cells.size(), 5u) << "docs/configuration.md has no table row for `" << key << "`";
    EXPECT_FALSE(cells[4].empty()) << "no description";
    const std::string& default_cell = cells[2];
    if (default_cell.size() < 2 || default_cell.front() != '`' || default_cell.back() != '`') {
      // deployment_name and model_uri have none.
      EXPECT_TRUE(key == "deployment_name" || key == "model_uri") << default_cell;
      continue;
    }
    // The documented default, written into a config, must change nothing.
    const std::string value = default_cell.substr(1, default_cell.size() - 2);
    expect_same_config(parse_with(key + ": " + value), defaults);
  }
}

// The range problem parse_config reports for `key: value`, or "" when it
// reports none for that key (another problem, such as memory, may remain).
std::string range_problem(const std::string& key, const std::string& value) {
  try {
    (void)parse_config("model_uri: m.json\n" + key + ": " + value + "\n", "inline.yaml");
  } catch (const Error& error) {
    const std::string message = error.what();
    if (message.find(key + ": expected") != std::string::npos) return message;
  }
  return "";
}

TEST(ConfigDocs, EveryDocumentedRangeIsTheParsersRange) {
  std::ifstream in(INFERLOOP_CONFIGURATION_DOC);
  ASSERT_TRUE(in) << "cannot read " << INFERLOOP_CONFIGURATION_DOC;
  const std::string docs{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  for (const std::string& key : config_keys()) {
    SCOPED_TRACE(key);
    const std::vector<std::string> cells = doc_row(docs, key);
    ASSERT_GE(cells.size(), 5u);
    const std::string& type = cells[1];
    if (type != "integer" && type != "duration") continue;
    // "1..64", "0s..86400s", "1..1099511627776 (1 TiB)": the range comes first.
    const std::string range = cells[3].substr(0, cells[3].find(' '));
    const std::size_t dots = range.find("..");
    ASSERT_NE(dots, std::string::npos) << "no LOW..HIGH range in \"" << cells[3] << "\"";
    const std::string low = range.substr(0, dots);
    const std::string high = range.substr(dots + 2);
    EXPECT_EQ(range_problem(key, low), "");
    EXPECT_EQ(range_problem(key, high), "");
    if (type == "integer") {
      EXPECT_NE(range_problem(key, std::to_string(std::stoll(low) - 1)), "");
      EXPECT_NE(range_problem(key, std::to_string(std::stoll(high) + 1)), "");
    } else {
      const std::int64_t low_ns = parse_duration(low).count();
      const std::int64_t high_ns = parse_duration(high).count();
      if (low_ns > 0) {
        EXPECT_NE(range_problem(key, std::to_string(low_ns - 1) + "ns"), "");
      }
      EXPECT_NE(range_problem(key, std::to_string(high_ns + 1) + "ns"), "");
    }
  }
}

}  // namespace
}  // namespace inferloop
