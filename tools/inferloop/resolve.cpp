// `inferloop resolve`: shows how a model URI resolves, the way start() would
// resolve it: each REST call made to MLflow (or the cache hit), the registry
// version, the local copy in the cache, the model format, the xgboost version
// that saved it and the MLmodel input signature.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "inferloop/inferloop.hpp"

namespace inferloop::cli {
namespace {

constexpr const char* kResolveUsage = R"(usage: inferloop resolve URI [options]
       inferloop resolve --config CONFIG [options]

Resolves a model URI the way InferenceLoop::start() does and prints every step:
each REST call to the MLflow tracking server, retries, cache hits and downloads,
then the registry version, the local copy, the model format, the xgboost version
that saved it and the MLmodel input signature. URI forms: docs/mlflow.md.

options:
  --config CONFIG      take model_uri, mlflow_tracking_uri, model_cache_dir,
                       use_cache_when_offline and max_artifact_bytes from CONFIG
  --tracking-uri URL   MLflow tracking server (default: the config's, else
                       MLFLOW_TRACKING_URI)
  --cache-dir DIR      model cache (default: the config's, else
                       $XDG_CACHE_HOME/inferloop or ~/.cache/inferloop)
  --offline-cache      when the server cannot be reached, use the cached copy
                       of a model resolved by version

Exit status: 0 resolved, 1 error, 2 usage error.
)";

struct ResolveOptions {
  std::optional<std::string> uri;
  std::optional<std::string> config;
  std::optional<std::string> tracking_uri;
  std::optional<std::string> cache_dir;
  bool offline_cache = false;
};

int resolve(const ResolveOptions& options) {
  InferenceConfig config;
  if (options.config) config = load_config(*options.config);
  if (options.uri) config.model_uri = *options.uri;
  MlflowOptions mlflow = mlflow_options(config);
  if (options.tracking_uri) mlflow.tracking_uri = *options.tracking_uri;
  if (options.cache_dir) mlflow.cache_dir = *options.cache_dir;
  if (options.offline_cache) mlflow.use_cache_when_offline = true;
  // Steps are printed as they happen, so a slow or failing server shows
  // where it stalls.
  mlflow.log = [](const std::string& line) { std::cout << "  " << line << "\n" << std::flush; };

  const ModelUri uri = parse_model_uri(config.model_uri);
  std::cout << "resolving " << config.model_uri << "\n";
  const ResolvedModel model = resolve_model(config.model_uri, mlflow);
  if (uri.kind == ModelUri::Kind::kLocal) std::cout << "  local model, no server involved\n";
  std::cout << "model URI      " << model.uri << (uri.moving() ? "  (moving reference)" : "")
            << "\n";
  if (!model.registry_name.empty()) {
    std::cout << "registry       " << model.registry_name << " version " << model.registry_version
              << "\n";
  }
  if (!model.artifact_uri.empty()) std::cout << "artifact URI   " << model.artifact_uri << "\n";
  if (!model.cache_path.empty()) {
    std::cout << "cached at      " << model.cache_path.string()
              << (model.from_cache ? "  (server unreachable: taken from the cache)" : "") << "\n";
  }
  std::cout << "model file     " << model.model_file.string() << "\n";
  const std::string saved_by = version_string(model.saved_by_version);
  std::cout << "format         " << to_string(model.format) << ", saved by xgboost "
            << (saved_by.empty() ? std::string("unknown (legacy binary format)") : saved_by)
            << (model.mlflow_xgb_version ? " (MLmodel xgb_version " + *model.mlflow_xgb_version + ")"
                                         : std::string())
            << "; linked xgboost " << version_string(linked_xgboost_version()) << "\n";
  if (model.signature_inputs.empty()) {
    std::cout << "signature      none\n";
  } else {
    std::cout << "signature      " << model.signature_inputs.size() << " inputs:";
    for (const SignatureColumn& column : model.signature_inputs) {
      std::cout << " " << column.name << ":" << column.type;
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int resolve_command(const std::vector<std::string>& args) {
  ResolveOptions options;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kResolveUsage;
      return 0;
    }
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    std::optional<std::string>* target = nullptr;
    if (arg == "--config") target = &options.config;
    if (arg == "--tracking-uri") target = &options.tracking_uri;
    if (arg == "--cache-dir") target = &options.cache_dir;
    if (target != nullptr) {
      *target = value();
      if (!*target) {
        std::cerr << "inferloop resolve: " << arg << " needs a value\n\n" << kResolveUsage;
        return 2;
      }
    } else if (arg == "--offline-cache") {
      options.offline_cache = true;
    } else if (arg.starts_with("-")) {
      std::cerr << "inferloop resolve: unknown option '" << arg << "'\n\n" << kResolveUsage;
      return 2;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() > 1 || (positional.empty() && !options.config)) {
    std::cerr << "inferloop resolve: expected one URI (or --config CONFIG), found "
              << positional.size() << " arguments\n\n"
              << kResolveUsage;
    return 2;
  }
  if (!positional.empty()) options.uri = positional.front();
  try {
    return resolve(options);
  } catch (const std::exception& error) {
    std::cerr << "inferloop resolve: error: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace inferloop::cli
