// InferenceConfig for Python: the C++ struct with one read-write property per
// YAML key, under the YAML key's name, and the conversions of
// config_conversion.hpp.
//
// Property types follow the YAML file, so that to_dict() round-trips through
// InferenceConfig(**d) and a YAML file: durations are text with a unit
// ("50us"; set them from such text or a datetime.timedelta), wait_strategy
// and output are their YAML names ("spin_then_block", "transformed"). Setting
// a property checks its type only; the ranges are checked by validate(), by
// InferenceLoop and by every function that takes a config (the C++ rules).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "config_conversion.hpp"
#include "inferloop/config.hpp"

namespace inferloop::python {
namespace {

using std::chrono::nanoseconds;

// "1500ns", "50us", "1ms", "2s": the largest unit that divides exactly, so
// parse_duration() reads back the same number of nanoseconds.
std::string duration_text(nanoseconds value) {
  const std::int64_t ns = value.count();
  if (ns != 0 && ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns != 0 && ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns != 0 && ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

// Text with a unit, or a datetime.timedelta.
nanoseconds duration_from(nb::handle value, const char* key) {
  if (nb::isinstance<nb::str>(value)) return parse_duration(nb::cast<std::string>(value));
  nb::object timedelta = nb::module_::import_("datetime").attr("timedelta");
  if (nb::isinstance(value, timedelta)) {
    const auto days = nb::cast<std::int64_t>(value.attr("days"));
    const auto seconds = nb::cast<std::int64_t>(value.attr("seconds"));
    const auto microseconds = nb::cast<std::int64_t>(value.attr("microseconds"));
    return std::chrono::hours(24 * days) + std::chrono::seconds(seconds) +
           std::chrono::microseconds(microseconds);
  }
  throw nb::type_error((std::string(key) + ": expected a duration with a unit such as \"50us\" "
                        "or a datetime.timedelta, found " +
                        nb::cast<std::string>(nb::repr(value.type()))).c_str());
}

// The YAML name of an enum value, and back, through inferloop's own to_string.
template <typename Enum, std::size_t N>
Enum enum_from(const std::string& text, const Enum (&values)[N], const char* key) {
  std::string valid;
  for (Enum value : values) {
    if (to_string(value) == text) return value;
    valid += (valid.empty() ? "" : ", ") + std::string(to_string(value));
  }
  throw nb::value_error((std::string(key) + ": expected one of " + valid + ", found '" + text + "'")
                            .c_str());
}

constexpr WaitStrategy kWaitStrategies[] = {WaitStrategy::kSpin, WaitStrategy::kSpinThenBlock,
                                            WaitStrategy::kBlock, WaitStrategy::kInterval,
                                            WaitStrategy::kContinuous};
constexpr OutputKind kOutputKinds[] = {OutputKind::kTransformed, OutputKind::kMargin};

InferenceConfig from_mapping(nb::handle mapping) {
  // inferloop._config.config_text(): JSON text, one key per line.
  nb::object text = nb::module_::import_("inferloop._config").attr("config_text")(mapping);
  return parse_config(nb::cast<std::string>(text), "<dict>");
}

// A duration property: read as text, set from text or a timedelta.
// `setter_signature` (a literal) is the setter's signature for the type stub.
template <nanoseconds InferenceConfig::*Field>
void duration_property(nb::class_<InferenceConfig>& cls, const char* key,
                       const char* setter_signature, const char* doc) {
  cls.def_prop_rw(
      key, [](const InferenceConfig& config) { return duration_text(config.*Field); },
      [key](InferenceConfig& config, nb::handle value) { config.*Field = duration_from(value, key); },
      nb::for_setter(nb::sig(setter_signature)),
      doc);
}

}  // namespace

InferenceConfig to_config(nb::handle object) {
  if (nb::isinstance<InferenceConfig>(object)) return nb::cast<const InferenceConfig&>(object);
  nb::object os = nb::module_::import_("os");
  if (nb::isinstance<nb::str>(object) || nb::isinstance(object, os.attr("PathLike"))) {
    return load_config(std::filesystem::path(nb::cast<std::string>(os.attr("fspath")(object))));
  }
  nb::object mapping = nb::module_::import_("collections.abc").attr("Mapping");
  if (nb::isinstance(object, mapping)) return from_mapping(object);
  throw nb::type_error(("config: expected an InferenceConfig, a YAML file path or a dict with "
                        "the YAML keys, found " + nb::cast<std::string>(nb::repr(object.type())))
                           .c_str());
}

void bind_config(nb::module_& module) {
  nb::class_<InferenceConfig> cls(
      module, "InferenceConfig",
      "What an InferenceLoop serves and how: the keys of the YAML config "
      "(docs/configuration.md), one property each.\n\n"
      "InferenceConfig(model_uri=..., num_replicas=2, ...) parses the keywords like a YAML "
      "file (every key checked, bad ones raise inferloop.Error); InferenceConfig() is the "
      "defaults, to fill in by property. Durations are text with a unit (\"50us\"); "
      "wait_strategy and output are their YAML names.");
  cls.def(
         "__init__",
         [](InferenceConfig* self, nb::kwargs keys) {
           new (self) InferenceConfig(keys.size() == 0 ? InferenceConfig{} : from_mapping(keys));
         },
         "Keywords are YAML keys (validated as a whole); none gives the defaults.")
      .def_static("from_yaml", [](const std::filesystem::path& path) { return load_config(path); },
                  nb::arg("path"),
                  "Reads a YAML file: the mapping itself, or an application file holding it "
                  "under `inference_config:`.")
      .def_static(
          "from_yaml_text",
          [](const std::string& text, const std::string& source_name) {
            return parse_config(text, source_name);
          },
          nb::arg("text"), nb::arg("source_name") = "<string>",
          "Parses YAML text; `source_name` names it in messages.")
      .def_static("from_dict", &from_mapping,
                  nb::sig("def from_dict(mapping: collections.abc.Mapping[str, object]) -> InferenceConfig"),
                  nb::arg("mapping"),
                  "A config from a mapping with the YAML keys (or one holding them under "
                  "'inference_config'), validated like a YAML file.")
      .def_static("keys", &config_keys, "Every accepted key, in documentation order.")
      .def("validate", &InferenceConfig::validate,
           "Raises inferloop.Error listing every problem (one per line).")
      .def("__copy__", [](const InferenceConfig& config) { return InferenceConfig(config); })
      .def("__deepcopy__",
           [](const InferenceConfig& config, nb::handle) { return InferenceConfig(config); },
           nb::arg("memo"))
      .def_rw("deployment_name", &InferenceConfig::deployment_name,
              "Optional label for logs (the Ray Serve deployment name in the reference design).")
      .def_rw("model_uri", &InferenceConfig::model_uri,
              "Required: models:/name@alias, models:/name/3, runs:/..., s3://..., a model file "
              "or an MLflow model folder.")
      .def_rw("predictor_class_name", &InferenceConfig::predictor_class_name,
              "XGBoostPredictor (the linked libxgboost), ForestPredictor (inferloop's "
              "bit-exact evaluator, any xgboost 1.x-3.x model) or a remote predictor.")
      .def_rw("num_replicas", &InferenceConfig::num_replicas,
              "Predictor replicas, 1..64 (in a backtest: the simulated replica count).")
      .def_rw("device", &InferenceConfig::device, "\"cpu\", \"cuda\" or \"cuda:N\".")
      .def_rw("num_features", &InferenceConfig::num_features,
              "Features per row; 0 = take it from the model.")
      .def_rw("max_rows", &InferenceConfig::max_rows,
              "Largest number of rows (instruments) in one snapshot.")
      .def_prop_rw(
          "wait_strategy",
          [](const InferenceConfig& config) { return std::string(to_string(config.wait_strategy)); },
          [](InferenceConfig& config, const std::string& text) {
            config.wait_strategy = enum_from(text, kWaitStrategies, "wait_strategy");
          },
          "spin, spin_then_block (default), block, interval or continuous.")
      .def_rw("poller_cpu", &InferenceConfig::poller_cpu,
              "CPU the poller thread is pinned to; -1 = not pinned.")
      .def_rw("replica_cpus", &InferenceConfig::replica_cpus,
              "CPUs the replica threads are pinned to (replica i on entry i modulo the "
              "length); [] = not pinned.")
      .def_rw("history_capacity", &InferenceConfig::history_capacity,
              "Results kept for InferenceLoop.history(); 0 = none.")
      .def_prop_rw(
          "output", [](const InferenceConfig& config) { return std::string(to_string(config.output)); },
          [](InferenceConfig& config, const std::string& text) {
            config.output = enum_from(text, kOutputKinds, "output");
          },
          "transformed (probabilities, ...) or margin.")
      .def_rw("share_booster", &InferenceConfig::share_booster,
              "XGBoostPredictor: one booster shared by all replicas.")
      .def_rw("predictor_threads", &InferenceConfig::predictor_threads,
              "Threads each predictor call may use (XGBoost's nthread).")
      .def_rw("endpoints", &InferenceConfig::endpoints,
              "Remote predictors: base URLs of the serving endpoints.")
      .def_rw("mlflow_tracking_uri", &InferenceConfig::mlflow_tracking_uri,
              "MLflow tracking server; \"\" = the MLFLOW_TRACKING_URI environment variable.")
      .def_rw("model_cache_dir", &InferenceConfig::model_cache_dir,
              "Where downloaded models are kept; \"\" = ~/.cache/inferloop.")
      .def_rw("use_cache_when_offline", &InferenceConfig::use_cache_when_offline,
              "Start from the cached copy of a pinned model when MLflow cannot be reached.")
      .def_rw("max_artifact_bytes", &InferenceConfig::max_artifact_bytes,
              "Largest model file downloaded from MLflow, in bytes.")
      .def_rw("metrics_listen", &InferenceConfig::metrics_listen,
              "host:port of the Prometheus /metrics endpoint, e.g. \"127.0.0.1:9464\"; "
              "\"\" = none.");
  duration_property<&InferenceConfig::spin_duration>(
      cls, "spin_duration", "def spin_duration(self, value: str | datetime.timedelta, /) -> None",
      "How long a waiting thread spins before it sleeps, e.g. \"50us\".");
  duration_property<&InferenceConfig::interval>(
      cls, "interval", "def interval(self, value: str | datetime.timedelta, /) -> None",
      "Period of the interval wait strategy, e.g. \"1ms\".");
  duration_property<&InferenceConfig::startup_timeout>(
      cls, "startup_timeout", "def startup_timeout(self, value: str | datetime.timedelta, /) -> None",
      "How long start() waits for a first result; \"0s\" = not at all.");
  duration_property<&InferenceConfig::model_refresh_interval>(
      cls, "model_refresh_interval",
      "def model_refresh_interval(self, value: str | datetime.timedelta, /) -> None",
      "How often a running loop asks MLflow whether an alias moved; \"0s\" = never.");
  cls.def(
         "to_dict",
         [](nb::handle self) {
           // Every key, read through the properties above: YAML-typed values.
           nb::dict keys;
           for (const std::string& key : config_keys()) {
             nb::object value = self.attr(key.c_str());
             if (!value.is_none()) keys[key.c_str()] = value;
           }
           return keys;
         },
         "The config as a dict of YAML keys; InferenceConfig(**d) and a YAML file read it back.")
      .def("__getstate__", [](nb::handle self) { return self.attr("to_dict")(); })
      .def("__setstate__",
           [](InferenceConfig* self, nb::handle state) { new (self) InferenceConfig(from_mapping(state)); })
      .def("__repr__", [](const InferenceConfig& config) {
        return "InferenceConfig(model_uri='" + config.model_uri + "', predictor_class_name='" +
               config.predictor_class_name + "', num_replicas=" +
               std::to_string(config.num_replicas) + ", ...)";
      });
}

}  // namespace inferloop::python
