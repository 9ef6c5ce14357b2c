// InferenceConfig from YAML, and the checks shared with configs built in C++.
//
// Everything about a key lives in one row of kKeys below: its name, the
// InferenceConfig member it sets, its type, its default as written in YAML,
// its range, and the "expected ..." text of its error messages. Parsing,
// validate(), config_keys() and docs/configuration.md all follow that table
// (a test reads the docs and feeds every documented default and limit back
// through the parser).
//
// Parsing never stops at the first problem: every key is read, every issue is
// collected with its file, 1-based line:column and key, and the caller gets
// them all at once (up to kMaxIssues), so a user fixes a config in one round
// trip. Every piece of input a message shows goes through detail::quote(),
// so a message stays short whatever the file holds.
//
// Input is bounded before yaml-cpp sees it (config/yaml_text.hpp): at most
// kMaxConfigBytes, nested at most kMaxConfigNesting levels, since yaml-cpp
// recurses once per level. A file holds one YAML document and at most one
// inference_config section; anything more is an error rather than ignored.
// An application file may instead name the config's own file with
// `inference_config_path:` (relative to the naming file's folder); that file
// is read by this same parser, so its issues carry its own path, line and
// column. References are followed at most kMaxConfigReferences deep, and a
// file that names one already being read (itself, or A -> B -> A) is a
// cycle, reported with the whole chain.
// After the keys, the config is checked against this machine's memory
// (config/loop_memory.hpp), so a config that can never start is refused here.
//
// yaml-cpp resolves no scalar types itself (it hands back text plus a tag of
// "?" for plain scalars and "!" for quoted ones), so the YAML 1.2 core schema
// rules that matter here (null, true/false, integers, floats) are applied in
// classify() below. That is also what makes `num_replicas: "2"` an error: a
// quoted scalar is a string, whatever it spells.
//
// One file of ~1250 lines: the key table, the value readers it drives and the
// document parser (with the inference_config_path reference, which feeds the
// same issue list) share private types (KeySpec, Location, Parser) that no
// other file needs; the parts that stand alone live in src/config/.
#include "inferloop/config.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "config/loop_memory.hpp"
#include "config/yaml_text.hpp"
#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/did_you_mean.hpp"
#include "util/listen_address.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

using std::chrono::nanoseconds;

// --- the key table ----------------------------------------------------------

// The InferenceConfig member a key sets; its type picks how the YAML value is
// read and checked.
using Field = std::variant<std::optional<std::string> InferenceConfig::*,
                           std::string InferenceConfig::*,
                           int InferenceConfig::*,
                           std::size_t InferenceConfig::*,
                           nanoseconds InferenceConfig::*,
                           bool InferenceConfig::*,
                           WaitStrategy InferenceConfig::*,
                           OutputKind InferenceConfig::*,
                           std::vector<std::string> InferenceConfig::*,
                           std::vector<int> InferenceConfig::*>;

// Extra rule for string keys.
enum class TextRule { kAny, kNonEmpty, kDevice, kHttpUrlOrEmpty, kListenAddressOrEmpty };

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
// The longest a duration key may be: every duration is added to a clock
// reading somewhere (a deadline, a timer), so none may come near int64's
// ~292 years; a day is far longer than any sensible value.
constexpr std::int64_t kOneDayNs = std::int64_t{86'400} * 1'000'000'000;

struct KeySpec {
  std::string_view name;
  Field field;
  // As written in YAML; empty for keys with no default (required or unset).
  std::string_view default_value;
  // Completes "expected ..." in every message about this key.
  std::string_view expected;
  // Inclusive bounds: the value for integers, nanoseconds for durations;
  // for strings (and each string in a list) max is the longest, in bytes.
  std::int64_t min = 0;
  std::int64_t max = kInt64Max;
  TextRule text_rule = TextRule::kAny;
  bool required = false;
};

// Documentation order. docs/configuration.md lists the same keys in the same
// order, with the same defaults and constraints.
const std::array<KeySpec, 24> kKeys{{
    {.name = "deployment_name",
     .field = &InferenceConfig::deployment_name,
     .default_value = "",
     .expected = "a string (a label for logs and status lines)",
     .max = 256},
    {.name = "model_uri",
     .field = &InferenceConfig::model_uri,
     .default_value = "",
     .expected = "a non-empty model URI: an MLflow URI (models:/name@alias, models:/name/3, "
                 "runs:/<run_id>/model, ...), or a path or file:// URI of an XGBoost model file "
                 "or an MLflow model folder, e.g. \"models/my-model.json\"",
     .max = 4096,
     .text_rule = TextRule::kNonEmpty,
     .required = true},
    {.name = "predictor_class_name",
     .field = &InferenceConfig::predictor_class_name,
     .default_value = "XGBoostPredictor",
     .expected = "a non-empty registered predictor name, e.g. \"XGBoostPredictor\"",
     .max = 256,
     .text_rule = TextRule::kNonEmpty},
    {.name = "num_replicas",
     .field = &InferenceConfig::num_replicas,
     .default_value = "1",
     .expected = "a positive integer (1..64)",
     .min = 1,
     .max = 64},
    {.name = "device",
     .field = &InferenceConfig::device,
     .default_value = "cpu",
     .expected = "\"cpu\", \"cuda\" or \"cuda:N\" (N = GPU ordinal, e.g. \"cuda:0\")",
     .max = 32,
     .text_rule = TextRule::kDevice},
    {.name = "num_features",
     .field = &InferenceConfig::num_features,
     .default_value = "0",
     .expected = "a non-negative integer (0..10000000; 0 = take it from the model)",
     .max = 10'000'000},
    {.name = "max_rows",
     .field = &InferenceConfig::max_rows,
     .default_value = "1",
     .expected = "a positive integer (1..1000000)",
     .min = 1,
     .max = 1'000'000},
    {.name = "wait_strategy",
     .field = &InferenceConfig::wait_strategy,
     .default_value = "spin_then_block",
     .expected = "one of spin, spin_then_block, block, interval, continuous"},
    {.name = "spin_duration",
     .field = &InferenceConfig::spin_duration,
     .default_value = "1ms",
     .expected = "a duration with a unit (ns, us, ms, s) up to 1s, e.g. \"1ms\"",
     .max = 1'000'000'000},
    {.name = "interval",
     .field = &InferenceConfig::interval,
     .default_value = "1ms",
     .expected = "a positive duration with a unit (ns, us, ms, s) up to 86400s, e.g. \"1ms\"",
     .min = 1,
     .max = kOneDayNs},
    {.name = "startup_timeout",
     .field = &InferenceConfig::startup_timeout,
     .default_value = "10s",
     .expected = "a duration with a unit (ns, us, ms, s) up to 86400s, e.g. \"10s\" (\"0s\" = do "
                 "not wait)",
     .max = kOneDayNs},
    {.name = "history_capacity",
     .field = &InferenceConfig::history_capacity,
     .default_value = "0",
     .expected = "a non-negative integer (0..100000000; 0 = no history)",
     .max = 100'000'000},
    {.name = "output",
     .field = &InferenceConfig::output,
     .default_value = "transformed",
     .expected = "one of transformed, margin"},
    {.name = "share_booster",
     .field = &InferenceConfig::share_booster,
     .default_value = "false",
     .expected = "true or false"},
    {.name = "predictor_threads",
     .field = &InferenceConfig::predictor_threads,
     .default_value = "1",
     .expected = "a positive integer (1..256)",
     .min = 1,
     .max = 256},
    {.name = "poller_cpu",
     .field = &InferenceConfig::poller_cpu,
     .default_value = "-1",
     .expected = "a CPU number (0..1023) to pin the poller thread to, or -1 (not pinned)",
     .min = -1,
     .max = 1023},
    {.name = "replica_cpus",
     .field = &InferenceConfig::replica_cpus,
     .default_value = "[]",
     .expected = "a list of at most 64 CPU numbers (0..1023) for the replica threads, e.g. "
                 "[2, 3] (empty = not pinned)",
     .min = 0,
     .max = 1023},
    {.name = "endpoints",
     .field = &InferenceConfig::endpoints,
     .default_value = "[]",
     .expected = "a list of http:// or https:// base URLs, e.g. [\"http://10.0.0.5:8080\"]",
     .max = 2048},
    {.name = "mlflow_tracking_uri",
     .field = &InferenceConfig::mlflow_tracking_uri,
     .default_value = "",
     .expected = "an http:// or https:// URL of an MLflow tracking server, e.g. "
                 "\"http://mlflow.internal:5000\" (empty = MLFLOW_TRACKING_URI)",
     .max = 2048,
     .text_rule = TextRule::kHttpUrlOrEmpty},
    {.name = "model_cache_dir",
     .field = &InferenceConfig::model_cache_dir,
     .default_value = "",
     .expected = "a folder path (empty = $XDG_CACHE_HOME/inferloop, else ~/.cache/inferloop)",
     .max = 4096},
    {.name = "model_refresh_interval",
     .field = &InferenceConfig::model_refresh_interval,
     .default_value = "0s",
     .expected = "a duration with a unit (ns, us, ms, s) up to 86400s, e.g. \"30s\" (\"0s\" = "
                 "never poll MLflow for a new version)",
     .max = kOneDayNs},
    {.name = "use_cache_when_offline",
     .field = &InferenceConfig::use_cache_when_offline,
     .default_value = "false",
     .expected = "true or false"},
    {.name = "max_artifact_bytes",
     .field = &InferenceConfig::max_artifact_bytes,
     .default_value = "2147483648",
     .expected = "a positive integer number of bytes (1..1099511627776, the largest model file "
                 "downloaded)",
     .min = 1,
     .max = std::int64_t{1} << 40},
    {.name = "metrics_listen",
     .field = &InferenceConfig::metrics_listen,
     .default_value = "",
     .expected = "empty (no metrics server) or HOST:PORT with HOST an IPv4 address or localhost "
                 "and PORT 0..65535 (0 = any free port), e.g. \"127.0.0.1:9464\"",
     .max = 256,
     .text_rule = TextRule::kListenAddressOrEmpty},
}};

constexpr std::string_view kInferenceConfigKey = "inference_config";
constexpr std::string_view kInferenceConfigPathKey = "inference_config_path";
// How many files one config may pass through (app.yaml -> inference.yaml is
// one hop). Real layouts need one or two; the bound keeps a generated chain
// of files from being followed without end.
constexpr std::size_t kMaxConfigReferences = 8;
// The longest inference_config_path accepted (PATH_MAX on Linux).
constexpr std::size_t kMaxConfigPathBytes = 4096;
constexpr std::string_view kModelUriExample = "model_uri: models/my-model.json";

template <typename Enum>
struct EnumName {
  std::string_view name;
  Enum value;
};

constexpr std::array<EnumName<WaitStrategy>, 5> kWaitStrategyNames{{
    {"spin", WaitStrategy::kSpin},
    {"spin_then_block", WaitStrategy::kSpinThenBlock},
    {"block", WaitStrategy::kBlock},
    {"interval", WaitStrategy::kInterval},
    {"continuous", WaitStrategy::kContinuous},
}};

constexpr std::array<EnumName<OutputKind>, 2> kOutputNames{{
    {"transformed", OutputKind::kTransformed},
    {"margin", OutputKind::kMargin},
}};

template <typename Enum>
constexpr auto enum_names() {
  if constexpr (std::is_same_v<Enum, WaitStrategy>) {
    return std::span{kWaitStrategyNames};
  } else {
    return std::span{kOutputNames};
  }
}

// --- small text helpers -------------------------------------------------------

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

// --- reading YAML scalars (YAML 1.2 core schema) --------------------------------

using detail::ScalarKind;

bool is_quoted_or_str(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

ScalarKind classify(const YAML::Node& node) {
  if (node.IsNull()) return ScalarKind::kNull;
  if (is_quoted_or_str(node)) return ScalarKind::kString;
  return detail::classify_plain_scalar(node.Scalar());
}

// A number as written, when it is short enough to show whole ("2.5",
// "-3"); a longer one bounded like any other input.
std::string number_text(const std::string& text) {
  constexpr std::size_t kLongestShownNumber = 32;
  return text.size() <= kLongestShownNumber ? text : detail::quote(text);
}

// What a value is, for "found ...": `string "two"`, `2.5`, `a sequence`.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
    default:
      return "an empty value";
  }
  switch (classify(node)) {
    case ScalarKind::kString:
      return "string " + detail::quote(node.Scalar());
    case ScalarKind::kFloat: {
      const std::string& text = node.Scalar();
      if (text.find_first_of("iI") != std::string::npos) return text + " (infinity)";
      if (text.find_first_of("nN") != std::string::npos) return text + " (not a number)";
      return number_text(text);
    }
    default:
      return number_text(node.Scalar());
  }
}

std::string expected_found(const KeySpec& spec, std::string_view found) {
  return "expected " + std::string(spec.expected) + ", found " + std::string(found);
}

// Range check shared by YAML values and C++-built configs.
template <typename Integer>
std::optional<std::string> check_integer(const KeySpec& spec, Integer value) {
  if (std::cmp_less(value, spec.min) || std::cmp_greater(value, spec.max)) {
    return expected_found(spec, std::to_string(value));
  }
  return std::nullopt;
}

std::optional<std::string> check_duration(const KeySpec& spec, nanoseconds value) {
  if (value.count() < spec.min || value.count() > spec.max) {
    return expected_found(spec, detail::quote(detail::duration_text(value)));
  }
  return std::nullopt;
}

bool is_device(std::string_view text) {
  if (text == "cpu" || text == "cuda") return true;
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (!text.starts_with(kCudaPrefix)) return false;
  const std::string_view ordinal = text.substr(kCudaPrefix.size());
  int parsed = 0;
  const auto [end, error] =
      std::from_chars(ordinal.data(), ordinal.data() + ordinal.size(), parsed);
  return !ordinal.empty() && error == std::errc{} && end == ordinal.data() + ordinal.size() &&
         parsed >= 0;
}

// Remote predictors join paths onto these, so only a scheme + authority
// (+ optional path prefix) makes sense; anything else is a typo.
// Every string a config holds ends up in a path, a URL, a log line or a
// message: none needs more than its row's max bytes.
// Nor may any hold a NUL byte (a double-quoted YAML scalar can spell one as
// "\0"): a path or URL with one names a shorter one than it shows.
std::optional<std::string> check_length(const KeySpec& spec, const std::string& value) {
  if (std::cmp_greater(value.size(), spec.max)) {
    return expected_found(spec, detail::quote(value) + ", longer than the " +
                                    std::to_string(spec.max) + " bytes allowed");
  }
  if (value.find('\0') != std::string::npos) {
    return expected_found(spec, detail::quote(value) + ", which holds a NUL byte");
  }
  return std::nullopt;
}

// More endpoints than this cannot be meant: 64 replicas use one each, and
// the rest are only failover targets.
constexpr std::size_t kMaxEndpoints = 1024;

// A list of CPU numbers: each in the key's range, at most one per replica.
std::optional<std::string> check_cpu_list(const KeySpec& spec, const std::vector<int>& cpus) {
  constexpr std::size_t kMaxCpus = 64;  // num_replicas' maximum
  if (cpus.size() > kMaxCpus) {
    return expected_found(spec, "a list of " + std::to_string(cpus.size()) + " CPUs");
  }
  for (int cpu : cpus) {
    if (cpu < spec.min || cpu > spec.max) return expected_found(spec, "an item " + std::to_string(cpu));
  }
  return std::nullopt;
}

std::optional<std::string> check_endpoints(const KeySpec& spec,
                                           const std::vector<std::string>& urls) {
  if (urls.size() > kMaxEndpoints) {
    return expected_found(spec, std::to_string(urls.size()) + " of them, more than the " +
                                    std::to_string(kMaxEndpoints) + " allowed");
  }
  for (const std::string& url : urls) {
    if (auto problem = check_length(spec, url)) return problem;
    const bool http = url.starts_with("http://") && url.size() > 7;
    const bool https = url.starts_with("https://") && url.size() > 8;
    if (!http && !https) return expected_found(spec, detail::quote(url));
  }
  return std::nullopt;
}

std::optional<std::string> check_text(const KeySpec& spec, const std::string& value) {
  if (auto problem = check_length(spec, value)) return problem;
  switch (spec.text_rule) {
    case TextRule::kAny:
      return std::nullopt;
    case TextRule::kNonEmpty:
      if (value.empty()) return expected_found(spec, detail::quote(value));
      return std::nullopt;
    case TextRule::kDevice:
      if (!is_device(value)) return expected_found(spec, detail::quote(value));
      return std::nullopt;
    case TextRule::kHttpUrlOrEmpty:
      if (value.empty()) return std::nullopt;
      return check_endpoints(spec, {value});
    case TextRule::kListenAddressOrEmpty:
      if (value.empty() || detail::to_listen_address(value)) return std::nullopt;
      return expected_found(spec, detail::quote(value));
  }
  return std::nullopt;
}

template <typename Enum>
std::optional<std::string> check_enum(const KeySpec& spec, Enum value) {
  for (const auto& entry : enum_names<Enum>()) {
    if (entry.value == value) return std::nullopt;
  }
  return expected_found(spec,
                        "enumerator value " + std::to_string(static_cast<int>(value)));
}

// Parses "<number><unit>" exactly (no floating point: "1.5ms" is 1'500'000ns).
// On failure returns what follows "found " in the message, hint included.
struct DurationResult {
  std::optional<nanoseconds> value;
  std::string found;  // set when value is not
};

DurationResult read_duration_text(std::string_view text, std::string_view hint_unit) {
  auto fail = [&](std::string why) {
    return DurationResult{std::nullopt, detail::quote(text) + (why.empty() ? "" : "; " + why)};
  };
  std::string_view rest = text;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return fail("");
  if (rest.front() == '-') return fail("a duration cannot be negative");
  if (rest.front() == '+') rest.remove_prefix(1);

  auto take_digits = [&rest] {
    std::size_t count = 0;
    while (count < rest.size() && rest[count] >= '0' && rest[count] <= '9') ++count;
    const std::string_view digits = rest.substr(0, count);
    rest.remove_prefix(count);
    return digits;
  };
  const std::string_view whole = take_digits();
  std::string_view fraction;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    fraction = take_digits();
  }
  if (whole.empty() && fraction.empty()) {
    return fail("write a number followed by a unit (ns, us, ms, s)");
  }
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) {
    return fail("add a unit, e.g. " + detail::quote(std::string(whole.empty() ? "0" : whole) +
                                             (fraction.empty() ? "" : "." + std::string(fraction)) +
                                             std::string(hint_unit)));
  }
  std::int64_t unit_ns = 0;
  if (rest == "ns") {
    unit_ns = 1;
  } else if (rest == "us") {
    unit_ns = 1'000;
  } else if (rest == "ms") {
    unit_ns = 1'000'000;
  } else if (rest == "s") {
    unit_ns = 1'000'000'000;
  } else {
    return fail("the unit must be one of ns, us, ms, s");
  }

  constexpr std::string_view kTooLarge = "too large (the limit is about 292 years)";
  std::int64_t whole_value = 0;
  if (!whole.empty()) {
    const auto [end, error] =
        std::from_chars(whole.data(), whole.data() + whole.size(), whole_value);
    if (error != std::errc{}) return fail(std::string(kTooLarge));
  }
  std::int64_t total = 0;
  if (__builtin_mul_overflow(whole_value, unit_ns, &total)) return fail(std::string(kTooLarge));

  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (!fraction.empty()) {
    // A unit is at most 10^9 ns, so a fraction with more than 9 significant
    // digits can never be a whole number of nanoseconds.
    if (fraction.size() > 9) return fail("that is not a whole number of nanoseconds");
    std::int64_t fraction_value = 0;
    std::from_chars(fraction.data(), fraction.data() + fraction.size(), fraction_value);
    std::int64_t scale = 1;
    for (std::size_t i = 0; i < fraction.size(); ++i) scale *= 10;
    const std::int64_t scaled = fraction_value * unit_ns;  // < 10^9 * 10^9: no overflow
    if (scaled % scale != 0) return fail("that is not a whole number of nanoseconds");
    if (__builtin_add_overflow(total, scaled / scale, &total)) return fail(std::string(kTooLarge));
  }
  return DurationResult{nanoseconds(total), {}};
}

// The unit of a key's default ("50us" -> "us"), for "add a unit" hints.
std::string_view unit_of(std::string_view default_value) {
  const std::size_t digits_end = default_value.find_first_not_of("0123456789.");
  return digits_end == std::string_view::npos ? std::string_view("ms")
                                              : default_value.substr(digits_end);
}

// Reads `value` into the member `spec` names. Returns the problem, if any.
std::optional<std::string> read_value(const KeySpec& spec, const YAML::Node& value,
                                      InferenceConfig& config) {
  if (const auto* list = std::get_if<std::vector<std::string> InferenceConfig::*>(&spec.field)) {
    if (!value.IsSequence()) return expected_found(spec, describe(value));
    std::vector<std::string> items;
    for (const YAML::Node& item : value) {
      if (!item.IsScalar()) return expected_found(spec, "an item that is " + describe(item));
      items.push_back(item.Scalar());
    }
    if (auto problem = check_endpoints(spec, items)) return problem;
    config.*(*list) = std::move(items);
    return std::nullopt;
  }
  if (const auto* list = std::get_if<std::vector<int> InferenceConfig::*>(&spec.field)) {
    if (!value.IsSequence()) return expected_found(spec, describe(value));
    std::vector<int> items;
    for (const YAML::Node& item : value) {
      if (!item.IsScalar() || classify(item) != ScalarKind::kInt) {
        return expected_found(spec, "an item that is " + describe(item));
      }
      const std::optional<std::int64_t> number = detail::to_integer(item.Scalar());
      if (!number || *number < spec.min || *number > spec.max) {
        return expected_found(spec, "an item " + detail::quote(item.Scalar()));
      }
      items.push_back(static_cast<int>(*number));
    }
    if (auto problem = check_cpu_list(spec, items)) return problem;
    config.*(*list) = std::move(items);
    return std::nullopt;
  }
  if (value.IsSequence() || value.IsMap()) return expected_found(spec, describe(value));

  auto read_text = [&]() -> std::optional<std::string> {
    if (value.IsNull()) return std::nullopt;
    return value.Scalar();
  };

  auto visitor = [&](auto member) -> std::optional<std::string> {
    using Member = std::remove_cvref_t<decltype(config.*member)>;
    if constexpr (std::is_same_v<Member, std::optional<std::string>>) {
      // An empty value leaves an optional key unset.
      std::optional<std::string> text = read_text();
      if (text) {
        if (auto problem = check_length(spec, *text)) return problem;
      }
      config.*member = std::move(text);
      return std::nullopt;
    } else if constexpr (std::is_same_v<Member, std::string>) {
      const std::optional<std::string> text = read_text();
      if (!text) return expected_found(spec, describe(value));
      if (auto problem = check_text(spec, *text)) return problem;
      config.*member = *text;
      return std::nullopt;
    } else if constexpr (std::is_same_v<Member, int> || std::is_same_v<Member, std::size_t>) {
      if (classify(value) != ScalarKind::kInt) return expected_found(spec, describe(value));
      const std::optional<std::int64_t> parsed = detail::to_integer(value.Scalar());
      if (!parsed) return expected_found(spec, describe(value) + ", which is out of range");
      if (auto problem = check_integer(spec, *parsed)) return problem;
      // In [spec.min, spec.max], which every row keeps inside its member's type.
      config.*member = static_cast<Member>(*parsed);
      return std::nullopt;
    } else if constexpr (std::is_same_v<Member, nanoseconds>) {
      const ScalarKind kind = classify(value);
      if (kind == ScalarKind::kInt || kind == ScalarKind::kFloat) {
        const std::string& text = value.Scalar();
        if (kind == ScalarKind::kFloat && text.find_first_of("nNiI") != std::string::npos) {
          return expected_found(spec, describe(value));
        }
        const std::string with_unit = text + std::string(unit_of(spec.default_value));
        return expected_found(spec,
                              number_text(text) + "; add a unit, e.g. " + detail::quote(with_unit));
      }
      if (kind != ScalarKind::kString) return expected_found(spec, describe(value));
      const DurationResult result =
          read_duration_text(value.Scalar(), unit_of(spec.default_value));
      if (!result.value) return expected_found(spec, result.found);
      // Out of range: echo the value as written ("0ms"), not as normalised.
      if (check_duration(spec, *result.value)) {
        return expected_found(spec, detail::quote(value.Scalar()));
      }
      config.*member = *result.value;
      return std::nullopt;
    } else if constexpr (std::is_same_v<Member, std::vector<std::string>> ||
                         std::is_same_v<Member, std::vector<int>>) {
      return std::nullopt;  // read above, before the scalar checks
    } else if constexpr (std::is_same_v<Member, bool>) {
      if (classify(value) != ScalarKind::kBool) return expected_found(spec, describe(value));
      config.*member = value.Scalar().front() != 'f' && value.Scalar().front() != 'F';
      return std::nullopt;
    } else {
      // WaitStrategy, OutputKind: plain or quoted, spelled exactly.
      const std::optional<std::string> text = read_text();
      if (!text) return expected_found(spec, describe(value));
      std::vector<std::string_view> names;
      for (const auto& entry : enum_names<Member>()) {
        if (entry.name == *text) {
          config.*member = entry.value;
          return std::nullopt;
        }
        names.push_back(entry.name);
      }
      std::string problem = expected_found(spec, detail::quote(*text));
      if (auto suggestion = detail::closest(*text, names)) {
        problem += "; did you mean " + detail::quote(*suggestion) + "?";
      }
      return problem;
    }
  };
  return std::visit(visitor, spec.field);
}

// Checks the member `spec` names in a config built in C++.
std::optional<std::string> check_value(const KeySpec& spec, const InferenceConfig& config) {
  auto visitor = [&](auto member) -> std::optional<std::string> {
    using Member = std::remove_cvref_t<decltype(config.*member)>;
    const Member& value = config.*member;
    if constexpr (std::is_same_v<Member, std::optional<std::string>>) {
      return value ? check_length(spec, *value) : std::nullopt;
    } else if constexpr (std::is_same_v<Member, bool>) {
      return std::nullopt;
    } else if constexpr (std::is_same_v<Member, std::string>) {
      return check_text(spec, value);
    } else if constexpr (std::is_same_v<Member, int> || std::is_same_v<Member, std::size_t>) {
      return check_integer(spec, value);
    } else if constexpr (std::is_same_v<Member, nanoseconds>) {
      return check_duration(spec, value);
    } else if constexpr (std::is_same_v<Member, std::vector<std::string>>) {
      return check_endpoints(spec, value);
    } else if constexpr (std::is_same_v<Member, std::vector<int>>) {
      return check_cpu_list(spec, value);
    } else {
      return check_enum(spec, value);
    }
  };
  return std::visit(visitor, spec.field);
}

// --- parsing a document -----------------------------------------------------------

struct Location {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

Location location_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

// Where to point for a key's value. yaml-cpp places an empty value at the
// start of whatever follows it, often the next line, so point at the key.
Location value_location(const YAML::Node& key, const YAML::Node& value) {
  const Location key_at = location_of(key);
  const Location value_at = location_of(value);
  if (value.IsNull() && (value_at.line == 0 || value_at.line != key_at.line)) return key_at;
  return value_at.line == 0 ? key_at : value_at;
}

// At most this many issues are listed; the rest are only counted, so a file
// of a million unknown keys still gives a message a person can read.
constexpr std::size_t kMaxIssues = 50;

// The line (1-based) of the "---" or "..." marker that ends the document
// before `line` (1-based), if there is one.
std::optional<int> separator_line_before(std::string_view text, int line) {
  std::optional<int> found;
  int number = 1;
  std::size_t start = 0;
  while (number <= line && start <= text.size()) {
    const std::string_view rest = text.substr(start);
    if (rest.starts_with("---") || rest.starts_with("...")) found = number;
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;
    start = end + 1;
    ++number;
  }
  return found;
}

// Records where each document yaml-cpp reads begins; ignores the rest.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<Location> starts;

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark.line < 0 ? Location{} : Location{mark.line + 1, mark.column + 1});
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Where the first `most` documents of `text` begin. Not YAML::LoadAll: on a
// stray ',' it "reads" a document without consuming anything, forever,
// allocating as it goes (yaml-cpp 0.7; found by fuzz/config_fuzzer.cpp).
// Throws what yaml-cpp throws.
std::vector<Location> document_starts(std::string_view text, std::size_t most) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts handler;
  while (handler.starts.size() < most && parser.HandleNextDocument(handler)) {
  }
  return std::move(handler.starts);
}

std::string line_column_text(Location at) {
  return "line " + std::to_string(at.line) + ", column " + std::to_string(at.column);
}

std::string too_deep_message() {
  return "collections nest more than " + std::to_string(detail::kMaxConfigNesting) +
         " levels deep here; a config needs only a few levels: flatten this part of the file";
}

// A config being read: what it is on disk (to notice a cycle; empty for a
// config given as text) and how it was named (for messages, and as the base
// of the paths it names).
struct OpenFile {
  std::filesystem::path identity;
  std::filesystem::path named;
};
// The configs being read, outermost first, the one being parsed last: one
// more than the inference_config_path references followed so far.
using FileChain = std::vector<OpenFile>;

struct ParseResult {
  InferenceConfig config;
  std::vector<ConfigIssue> issues;
};

ParseResult parse_file(const std::filesystem::path& file, const FileChain& outer);

// The same file however it is named ("a.yaml", "./a.yaml", a symlink to
// it), as far as the file system can tell.
std::filesystem::path file_identity(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::path identity = std::filesystem::weakly_canonical(file, ec);
  if (!ec) return identity;
  identity = std::filesystem::absolute(file, ec);
  return ec ? file.lexically_normal() : identity.lexically_normal();
}

// "app.yaml -> inference.yaml -> app.yaml" for messages.
std::string chain_text(const FileChain& chain, const std::filesystem::path& next) {
  std::string text;
  for (const OpenFile& file : chain) text += detail::quote_path(file.named.string()) + " -> ";
  return text + detail::quote_path(next.string());
}

class Parser {
 public:
  // `chain`: the configs that named this one, then this one.
  Parser(std::string_view source, FileChain chain) : source_(source), chain_(std::move(chain)) {}

  void issue(Location at, std::string_view key, std::string message) {
    record(ConfigIssue{source_, at.line, at.column, std::string(key), std::move(message)});
  }

  void parse(std::string_view yaml_text, InferenceConfig& config) {
    if (yaml_text.size() > detail::kMaxConfigBytes) {
      issue({}, "",
            "the config is " + std::to_string(yaml_text.size()) + " bytes, more than the " +
                std::to_string(detail::kMaxConfigBytes) +
                " a config may be; is this the right file?");
      return;
    }
    // yaml-cpp recurses once per nesting level: bound the nesting first.
    if (const auto excess = detail::find_excess_nesting(yaml_text)) {
      issue({excess->line, excess->column}, "", too_deep_message());
      return;
    }
    std::vector<Location> documents;
    YAML::Node root;
    try {
      documents = document_starts(yaml_text, 2);
      if (documents.size() < 2) root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::DeepRecursion& error) {
      issue({error.mark.line + 1, error.mark.column + 1}, "", too_deep_message());
      return;
    } catch (const YAML::Exception& error) {
      issue({error.mark.line + 1, error.mark.column + 1}, "",
            "invalid YAML: " + error.msg + "; fix the YAML syntax here (or just before)");
      return;
    }
    if (documents.size() > 1) {
      second_document(yaml_text, documents[0], documents[1]);
      return;
    }
    if (!root.IsDefined() || root.IsNull()) {
      issue({}, "",
            "the file holds no config; expected a mapping with at least \"" +
                std::string(kModelUriExample) +
                "\", either at the top level or under \"inference_config:\"");
      return;
    }
    if (!root.IsMap()) {
      issue(location_of(root), "",
            "expected a mapping of config keys (key: value), e.g. \"" +
                std::string(kModelUriExample) + "\", found " + describe(root));
      return;
    }
    Sections sections;
    Sections references;
    for (const auto& entry : root) {
      if (!entry.first.IsScalar()) continue;
      if (entry.first.Scalar() == kInferenceConfigKey) sections.emplace_back(entry.first, entry.second);
      if (entry.first.Scalar() == kInferenceConfigPathKey) {
        references.emplace_back(entry.first, entry.second);
      }
    }
    if (!references.empty()) {
      read_reference(sections, references, config);
      return;
    }
    if (sections.empty()) {
      check_memory(read_mapping(root, location_of(root), /*at_top_level=*/true, config),
                   location_of(root), config);
      return;
    }
    // An application file: the rest of it is the application's business,
    // but a second section would be silently ignored.
    for (std::size_t i = 1; i < sections.size(); ++i) {
      issue(location_of(sections[i].first), kInferenceConfigKey,
            "expected one inference_config section, found another (the first is at " +
                line_column_text(location_of(sections[0].first)) + "); merge them into one");
    }
    if (sections.size() > 1) return;
    const auto& [section_key, section] = sections[0];
    if (!section.IsMap()) {
      issue(value_location(section_key, section), kInferenceConfigKey,
            "expected a mapping of config keys, e.g. \"inference_config: {" +
                std::string(kModelUriExample) + "}\", found " + describe(section));
      return;
    }
    const Location section_at = location_of(section_key);
    check_memory(read_mapping(section, section_at, /*at_top_level=*/false, config), section_at,
                 config);
  }

  std::vector<ConfigIssue> take_issues() {
    if (issues_not_listed_ > 0) {
      issues_.push_back(ConfigIssue{source_, 0, 0, "",
                                    "and " + std::to_string(issues_not_listed_) +
                                        " more problems not listed; fix the ones above first"});
      issues_not_listed_ = 0;
    }
    return std::move(issues_);
  }

 private:
  // The keys a mapping set, with where.
  using KeyLocations = std::vector<std::pair<std::string, Location>>;
  // Top-level entries (key, value) of one name, in file order.
  using Sections = std::vector<std::pair<YAML::Node, YAML::Node>>;

  // An application file that names the file holding its config: exactly one
  // inference_config_path and no inline section beside it. The named file is
  // read by a parser of its own, whose issues carry that file's name.
  void read_reference(const Sections& sections, const Sections& references, InferenceConfig& config) {
    const Location first_at = location_of(references[0].first);
    for (std::size_t i = 1; i < references.size(); ++i) {
      issue(location_of(references[i].first), kInferenceConfigPathKey,
            "expected one inference_config_path, found another (the first is at " +
                line_column_text(first_at) + "); keep one of them");
    }
    for (const auto& [section_key, section] : sections) {
      issue(location_of(section_key), kInferenceConfigKey,
            "expected either inference_config or inference_config_path, found both (" +
                std::string(kInferenceConfigPathKey) + " is at " + line_column_text(first_at) +
                "); keep the config inline under inference_config, or in the file that "
                "inference_config_path names, not both");
    }
    if (!issues_.empty()) return;

    const auto& [key, value] = references[0];
    const Location value_at = value_location(key, value);
    if (!value.IsScalar() || classify(value) != ScalarKind::kString || value.Scalar().empty() ||
        value.Scalar().size() > kMaxConfigPathBytes ||
        value.Scalar().find('\0') != std::string::npos) {
      issue(value_at, kInferenceConfigPathKey,
            "expected the path of the YAML file that holds the config (at most " +
                std::to_string(kMaxConfigPathBytes) +
                " bytes, relative to this file's folder), e.g. \"inference_config_path: "
                "inference.yaml\", found " + describe(value));
      return;
    }
    const std::filesystem::path named(value.Scalar());
    // Relative to the folder of the file that names it; a config given as
    // text under a name without a folder ("<string>"): the working directory.
    const std::filesystem::path base = chain_.back().named.parent_path();
    const std::filesystem::path file = (named.is_absolute() ? named : base / named).lexically_normal();
    const std::filesystem::path identity = file_identity(file);
    const bool cycle = std::any_of(chain_.begin(), chain_.end(),
                                   [&](const OpenFile& open) { return open.identity == identity; });
    if (cycle) {
      issue(value_at, kInferenceConfigPathKey,
            "the config files name each other in a cycle: " + chain_text(chain_, file) +
                "; point inference_config_path at the file that holds the config itself");
      return;
    }
    if (chain_.size() - 1 >= kMaxConfigReferences) {
      issue(value_at, kInferenceConfigPathKey,
            "the config is more than " + std::to_string(kMaxConfigReferences) +
                " inference_config_path references away (" + chain_text(chain_, file) +
                "); point inference_config_path at the file that holds the config itself");
      return;
    }
    // Only a regular file (or a link to one): a FIFO or a device such as
    // /dev/stdin would block the reader, and /dev/zero never ends.
    std::error_code status_error;
    const auto type = std::filesystem::status(file, status_error).type();
    if (type != std::filesystem::file_type::regular) {
      std::string where = detail::quote_path(file.string());
      if (!named.is_absolute()) {
        where += base.empty() ? " (relative to the working directory " +
                                    detail::quote_path(std::filesystem::current_path(status_error).string()) + ")"
                              : " (relative to the folder of " + detail::quote_path(source_) + ")";
      }
      const std::string why = type == std::filesystem::file_type::not_found ? std::generic_category().message(ENOENT)
                              : type == std::filesystem::file_type::directory
                                  ? std::generic_category().message(EISDIR)
                                  : "not a regular file (a device, FIFO or socket)";
      issue(value_at, kInferenceConfigPathKey, "cannot open " + where + ": " + why + "; check the path");
      return;
    }
    ParseResult referenced = parse_file(file, chain_);
    for (ConfigIssue& problem : referenced.issues) record(std::move(problem));
    config = std::move(referenced.config);
  }

  // A file is one document: whatever follows a "---" would be ignored.
  void second_document(std::string_view yaml_text, Location first, Location second) {
    if (const auto separator = separator_line_before(yaml_text, second.line);
        separator && *separator > first.line) {
      issue({*separator, 1}, "",
            "expected one YAML document, found a second one here (the first begins at " +
                line_column_text(first) +
                "); inferloop reads only one, so remove the '---' line and what follows, or move "
                "it to its own file");
      return;
    }
    // No separator: text yaml-cpp cannot read as part of the document
    // (a stray ',' or bracket) and would otherwise drop silently.
    issue(second, "",
          "expected one YAML document, found text here that is not part of it (the document "
          "begins at " + line_column_text(first) + "); remove it or fix the YAML syntax here");
  }

  // Whether the config, whose keys are all valid, fits this machine at all.
  void check_memory(const KeyLocations& keys, Location mapping_at, const InferenceConfig& config) {
    if (!issues_.empty()) return;
    const auto problem = detail::loop_memory_problem(config, config.num_features, 1,
                                                     detail::physical_memory_bytes());
    if (!problem) return;
    const auto key = std::find_if(keys.begin(), keys.end(),
                                  [&](const auto& entry) { return entry.first == problem->key; });
    issue(key == keys.end() ? mapping_at : key->second, problem->key, problem->message);
  }

  KeyLocations read_mapping(const YAML::Node& mapping, Location mapping_at, bool at_top_level,
                            InferenceConfig& config) {
    KeyLocations seen;
    for (const auto& entry : mapping) {
      const YAML::Node& key = entry.first;
      const Location key_at = location_of(key);
      const std::string name = key.IsScalar() ? key.Scalar() : describe(key);
      const auto spec = std::find_if(kKeys.begin(), kKeys.end(), [&](const KeySpec& candidate) {
        return candidate.name == name;
      });
      if (spec == kKeys.end()) {
        unknown_key(name, key_at, at_top_level);
        continue;
      }
      const auto first = std::find_if(seen.begin(), seen.end(),
                                      [&](const auto& previous) { return previous.first == name; });
      if (first != seen.end()) {
        issue(key_at, name,
              "expected each key at most once, found it again (first at " +
                  line_column_text(first->second) + "); remove one of them");
        continue;
      }
      seen.emplace_back(name, key_at);
      if (auto problem = read_value(*spec, entry.second, config)) {
        issue(value_location(key, entry.second), name, std::move(*problem));
      }
    }
    for (const KeySpec& spec : kKeys) {
      const bool present = std::any_of(seen.begin(), seen.end(), [&](const auto& previous) {
        return previous.first == spec.name;
      });
      if (spec.required && !present) {
        issue(mapping_at, spec.name,
              "required key is missing; add it, e.g. \"" + std::string(kModelUriExample) +
                  "\" (a model file: .json, .ubj or legacy binary, or an MLflow model folder)");
      }
    }
    return seen;
  }

  void unknown_key(const std::string& name, Location at, bool at_top_level) {
    if (issues_.size() >= kMaxIssues) {
      ++issues_not_listed_;  // not worth a suggestion nobody will see
      return;
    }
    std::vector<std::string_view> candidates(config_keys().begin(), config_keys().end());
    // At the top level, the key may be a misspelt "inference_config:".
    if (at_top_level) {
      candidates.push_back(kInferenceConfigKey);
      candidates.push_back(kInferenceConfigPathKey);
    }
    std::string message = "unknown key " + detail::quote(name);
    if (auto suggestion = detail::closest(name, candidates)) {
      message += "; did you mean " + detail::quote(*suggestion) + "?";
    } else {
      candidates.resize(kKeys.size());
      message += "; valid keys are: " + join(candidates);
    }
    // The key heads the issue's line: one longer than any real key (the
    // longest is 22 characters) is shown bounded there too.
    constexpr std::size_t kLongestShownKey = 64;
    issue(at, name.size() <= kLongestShownKey ? name : detail::quote(name), std::move(message));
  }

  // Lists an issue of this file or of a file it names, up to kMaxIssues;
  // the rest are only counted.
  void record(ConfigIssue problem) {
    if (issues_.size() >= kMaxIssues) {
      ++issues_not_listed_;
      return;
    }
    issues_.push_back(std::move(problem));
  }

  std::string source_;
  FileChain chain_;  // never empty: this config is its last entry
  std::vector<ConfigIssue> issues_;
  std::size_t issues_not_listed_ = 0;
};

std::string join_issues(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const ConfigIssue& issue : issues) {
    if (!out.empty()) out += '\n';
    out += issue.to_string();
  }
  return out;
}

// `chain`: as for Parser; empty for a config given as text.
ParseResult parse_text(std::string_view yaml_text, std::string_view source_name,
                       FileChain chain = {}) {
  if (chain.empty()) chain.push_back({{}, std::filesystem::path(source_name)});
  ParseResult result;
  Parser parser(source_name, std::move(chain));
  parser.parse(yaml_text, result.config);
  result.issues = parser.take_issues();
  return result;
}

// `outer`: the files that named this one, outermost first (empty for the
// file the caller gave).
ParseResult parse_file(const std::filesystem::path& file, const FileChain& outer) {
  const std::string source = file.string();
  auto cannot_open = [&](int error_number) {
    std::string message = "cannot open config file '" + source + "': " +
                          std::generic_category().message(error_number);
    if (file.is_relative()) {
      std::error_code ignored;
      message += " (relative paths resolve against the working directory '" +
                 std::filesystem::current_path(ignored).string() + "')";
    }
    return ParseResult{{}, {ConfigIssue{source, 0, 0, "", std::move(message)}}};
  };
  std::error_code status_error;
  const auto status = std::filesystem::status(file, status_error);
  if (status.type() == std::filesystem::file_type::not_found) return cannot_open(ENOENT);
  if (status.type() == std::filesystem::file_type::directory) return cannot_open(EISDIR);
  std::ifstream in(file, std::ios::binary);
  if (!in) return cannot_open(errno != 0 ? errno : EIO);
  // One byte more than a config may hold, so that parse_text sees a file
  // too large without this reading all of it (it may be /dev/zero).
  std::string text(detail::kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return cannot_open(errno != 0 ? errno : EIO);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > detail::kMaxConfigBytes) {
    return ParseResult{{},
                       {ConfigIssue{source, 0, 0, "",
                                    "the file is more than " +
                                        std::to_string(detail::kMaxConfigBytes) +
                                        " bytes, the most a config may be; is this the right "
                                        "file?"}}};
  }
  FileChain chain = outer;
  chain.push_back({file_identity(file), file});
  return parse_text(text, source, std::move(chain));
}

}  // namespace

// --- public API -------------------------------------------------------------------

std::string ConfigIssue::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  if (!key.empty()) out += ": " + key;
  out += ": " + message;
  return out;
}

void InferenceConfig::validate() const {
  std::vector<ConfigIssue> issues;
  for (const KeySpec& spec : kKeys) {
    if (auto problem = check_value(spec, *this)) {
      issues.push_back(ConfigIssue{"<C++>", 0, 0, std::string(spec.name), std::move(*problem)});
    }
  }
  if (issues.empty()) {
    // The model's num_outputs is not known here: at least one.
    if (const auto problem = detail::loop_memory_problem(*this, num_features, 1,
                                                         detail::physical_memory_bytes())) {
      issues.push_back(ConfigIssue{"<C++>", 0, 0, problem->key, problem->message});
    }
  }
  if (!issues.empty()) throw Error(join_issues(issues));
}

InferenceConfig parse_config(std::string_view yaml_text, std::string_view source_name) {
  ParseResult result = parse_text(yaml_text, source_name);
  if (!result.issues.empty()) throw Error(join_issues(result.issues));
  return std::move(result.config);
}

InferenceConfig load_config(const std::filesystem::path& file) {
  ParseResult result = parse_file(file, {});
  if (!result.issues.empty()) throw Error(join_issues(result.issues));
  return std::move(result.config);
}

std::vector<ConfigIssue> check_config_file(const std::filesystem::path& file) {
  return parse_file(file, {}).issues;
}

std::string_view to_string(WaitStrategy strategy) noexcept {
  for (const auto& entry : kWaitStrategyNames) {
    if (entry.value == strategy) return entry.name;
  }
  return "unknown";
}

std::string_view to_string(OutputKind kind) noexcept {
  for (const auto& entry : kOutputNames) {
    if (entry.value == kind) return entry.name;
  }
  return "unknown";
}

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> names;
    for (const KeySpec& spec : kKeys) names.emplace_back(spec.name);
    return names;
  }();
  return keys;
}

std::chrono::nanoseconds parse_duration(std::string_view text) {
  const DurationResult result = read_duration_text(text, "ms");
  if (!result.value) {
    throw Error("invalid duration: expected a duration with a unit (ns, us, ms, s), e.g. "
                "\"250us\", found " +
                result.found);
  }
  return *result.value;
}

}  // namespace inferloop
