// `inferloop resolve`: shows how a model URI resolves, the way start() would
// resolve it: each REST call made to MLflow (or the cache hit), the registry
// version, the local copy in the cache, the model format, the xgboost version
// that saved it and the MLmodel input signature. Every line goes out through
// print() (console.hpp): a URI with user:password@ is shown without them.
// With --best-run it instead finds an experiment's best finished run by a
// metric (MlflowClient::best_run()) and prints its model as a runs:/ URI
// to pin in a config.
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"
#include "subcommand.hpp"
#include "console.hpp"
#include "inferloop/inferloop.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop::cli {
namespace {

constexpr const char* kResolveUsage = R"(usage: inferloop resolve URI [options]
       inferloop resolve --config CONFIG [options]
       inferloop resolve --best-run EXPERIMENT --metric NAME [--mode min|max] [options]

Resolves a model URI the way InferenceLoop::start() does and prints every step:
each REST call to the MLflow tracking server, retries, cache hits and downloads,
then the registry version, the local copy, the model format, the xgboost version
that saved it and the MLmodel input signature. URI forms: docs/mlflow.md.

With --best-run, finds the model of EXPERIMENT's best finished run by its
latest value of metric NAME and prints it as runs:/<run id>/<model>, the URI
to pin in a config. Runs without the metric, or with NaN, are skipped; equal
values go to the run that started first, then to the smaller run id. The run
must have logged exactly one model (docs/mlflow.md, "Best run").

options:
  --config CONFIG      take model_uri, mlflow_tracking_uri, model_cache_dir,
                       use_cache_when_offline and max_artifact_bytes from CONFIG
  --tracking-uri URL   MLflow tracking server (default: the config's, else
                       MLFLOW_TRACKING_URI)
  --cache-dir DIR      model cache (default: the config's, else
                       $XDG_CACHE_HOME/inferloop or ~/.cache/inferloop)
  --offline-cache      when the server cannot be reached, use the cached copy
                       of a model resolved by version
  --best-run EXPERIMENT  the experiment (by name) whose best run to find
  --metric NAME        the metric to rank its runs by (with --best-run)
  --mode min|max       min: the smallest value is best (default); max: the largest

Exit status: 0 resolved, 1 error, 2 usage error.
)";

struct ResolveOptions {
  std::optional<std::string> uri;
  std::optional<std::string> config;
  std::optional<std::string> tracking_uri;
  std::optional<std::string> cache_dir;
  bool offline_cache = false;
  std::optional<std::string> best_run;  // experiment name
  std::optional<std::string> metric;
  std::optional<MetricGoal> goal;  // --mode; kMinimize when not given
};

int best_run(const ResolveOptions& options, MlflowOptions mlflow) {
  const MetricGoal goal = options.goal.value_or(MetricGoal::kMinimize);
  mlflow.log = [](const std::string& line) {
    print(std::cout, "  " + line + "\n");
    std::cout << std::flush;
  };
  print(std::cout, "best run of experiment " + detail::quote(*options.best_run) + " by " + *options.metric + " (" +
                       (goal == MetricGoal::kMinimize ? "min" : "max") + ")\n");
  std::cout << std::flush;
  MlflowClient client(mlflow);
  const BestRun best = client.best_run(*options.best_run, *options.metric, goal);
  std::ostringstream text;
  text << "run            " << best.run_id << "  " << best.metric << " = " << detail::number_text(best.metric_value)
       << "  ("
       << best.runs_ranked << " runs ranked, " << best.runs_skipped << " skipped)\n";
  text << "model URI      " << best.model_uri << "\n";
  print(std::cout, text.str());
  return 0;
}

int resolve(const ResolveOptions& options) {
  InferenceConfig config;
  if (options.config) config = load_config(*options.config);
  if (options.uri) config.model_uri = *options.uri;
  // --best-run with --config takes only the MLflow settings from it.
  MlflowOptions mlflow = mlflow_options(config);
  if (options.tracking_uri) mlflow.tracking_uri = *options.tracking_uri;
  if (options.cache_dir) mlflow.cache_dir = *options.cache_dir;
  if (options.offline_cache) mlflow.use_cache_when_offline = true;
  if (options.best_run) return best_run(options, mlflow);
  // Steps are printed as they happen, so a slow or failing server shows
  // where it stalls.
  mlflow.log = [](const std::string& line) {
    print(std::cout, "  " + line + "\n");
    std::cout << std::flush;
  };

  const ModelUri uri = parse_model_uri(config.model_uri);
  print(std::cout, "resolving " + config.model_uri + "\n");
  std::cout << std::flush;
  const ResolvedModel model = resolve_model(config.model_uri, mlflow);
  // Built whole, then printed through print(), which scrubs credentials
  // from every URI in it.
  std::ostringstream text;
  if (uri.kind == ModelUri::Kind::kLocal) text << "  local model, no server involved\n";
  text << "model URI      " << model.uri << (uri.moving() ? "  (moving reference)" : "") << "\n";
  if (!model.registry_name.empty()) {
    text << "registry       " << model.registry_name << " version " << model.registry_version
         << "\n";
  }
  if (!model.artifact_uri.empty()) text << "artifact URI   " << model.artifact_uri << "\n";
  if (!model.cache_path.empty()) {
    text << "cached at      " << model.cache_path.string()
         << (model.from_cache ? "  (server unreachable: taken from the cache)" : "") << "\n";
  }
  text << "model file     " << model.model_file.string() << "\n";
  text << "format         " << to_string(model.format) << ", " << saved_by_text(model)
       << "; linked xgboost " << detail::version_text(linked_xgboost_version()) << "\n";
  if (model.signature_inputs.empty()) {
    text << "signature      none\n";
  } else {
    text << "signature      " << model.signature_inputs.size() << " inputs:";
    for (const SignatureColumn& column : model.signature_inputs) {
      text << " " << column.name << ":" << column.type;
    }
    text << "\n";
  }
  print(std::cout, text.str());
  return 0;
}

ResolveOptions parse_options(const std::vector<std::string>& args) {
  ResolveOptions options;
  std::vector<std::string> positional;
  ArgumentReader reader(args);
  while (!reader.done()) {
    const std::string arg = reader.next();
    if (arg == "--config") {
      options.config = reader.value();
    } else if (arg == "--tracking-uri") {
      options.tracking_uri = reader.value();
    } else if (arg == "--cache-dir") {
      options.cache_dir = reader.value();
    } else if (arg == "--offline-cache") {
      reader.no_value();
      options.offline_cache = true;
    } else if (arg == "--best-run") {
      options.best_run = reader.value();
    } else if (arg == "--metric") {
      options.metric = reader.value();
    } else if (arg == "--mode") {
      const std::string mode = reader.value();
      if (mode != "min" && mode != "max") {
        throw UsageError("--mode: expected min or max, found " + detail::quote(mode));
      }
      options.goal = mode == "min" ? MetricGoal::kMinimize : MetricGoal::kMaximize;
    } else if (reader.is_option()) {
      throw UsageError("unknown option " + detail::quote(arg));
    } else {
      positional.push_back(arg);
    }
  }
  if (options.best_run || options.metric || options.goal) {
    if (!options.best_run || !options.metric) {
      throw UsageError("--best-run EXPERIMENT and --metric NAME (and --mode) go together; give both");
    }
    if (!positional.empty()) {
      throw UsageError("--best-run takes no URI, found " + detail::quote(positional.front()));
    }
    return options;
  }
  if (positional.size() > 1 || (positional.empty() && !options.config)) {
    throw UsageError("expected one URI (or --config CONFIG), found " +
                     std::to_string(positional.size()) + " arguments");
  }
  if (!positional.empty()) options.uri = positional.front();
  return options;
}

}  // namespace

int resolve_command(const std::vector<std::string>& args) {
  return run_subcommand("resolve", kResolveUsage, args, parse_options, resolve);
}

}  // namespace inferloop::cli
