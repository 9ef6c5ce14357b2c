// `inferloop validate`: checks a config the way start() would, without
// starting threads: every config issue, then the model (resolve it, load it
// into one predictor, compare its width with the config and the MLmodel
// signature).
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "config/loop_memory.hpp"
#include "subcommand.hpp"
#include "console.hpp"
#include "inferloop/inferloop.hpp"
#include "util/text.hpp"

namespace inferloop::cli {
namespace {

constexpr const char* kValidateUsage = R"(usage: inferloop validate CONFIG

Checks CONFIG (a YAML file; see docs/configuration.md): prints every problem,
one per line as file:line:column: key: message, and exits 1 if there is any.
A valid config's model is then resolved and loaded into one predictor to check
that it loads with the linked XGBoost and has the configured width; on success
prints one line starting with OK.

Exit status: 0 valid, 1 invalid (or the model does not load), 2 usage error.
)";

int validate(const std::filesystem::path& config_file) {
  const std::vector<ConfigIssue> issues = check_config_file(config_file);
  // Issues echo config values, a model_uri among them: printed scrubbed.
  for (const ConfigIssue& issue : issues) print(std::cout, issue.to_string() + "\n");
  if (!issues.empty()) {
    std::cerr << "inferloop validate: " << config_file.string() << ": " << issues.size()
              << (issues.size() == 1 ? " problem" : " problems") << "\n";
    return 1;
  }

  const InferenceConfig config = load_config(config_file);
  const ResolvedModel model = resolve_model(config.model_uri, mlflow_options(config));
  SharedPredictorState shared;
  const PredictorContext context{config, model, 0, shared};
  const std::unique_ptr<Predictor> predictor =
      PredictorRegistry::global().create(config.predictor_class_name, context);

  std::vector<std::string> problems;
  if (config.num_features != 0 && config.num_features != predictor->num_features()) {
    problems.push_back(config_file.string() + ": num_features: the config says " +
                       std::to_string(config.num_features) + " but the model " +
                       model.model_file.string() + " takes " +
                       std::to_string(predictor->num_features()) +
                       "; set num_features to " + std::to_string(predictor->num_features()) +
                       " or to 0 (take it from the model)");
  }
  if (!model.signature_inputs.empty() &&
      model.signature_inputs.size() != predictor->num_features()) {
    problems.push_back(model.mlmodel_file.value_or(model.model_file).string() +
                       ": the signature lists " + std::to_string(model.signature_inputs.size()) +
                       " inputs but the model takes " +
                       std::to_string(predictor->num_features()) +
                       " features; save the model again with a matching signature");
  }
  // With the model's real width and outputs, the buffers start() allocates.
  if (const auto memory = detail::loop_memory_problem(config, predictor->num_features(),
                                                      predictor->num_outputs(),
                                                      detail::physical_memory_bytes())) {
    problems.push_back(config_file.string() + ": " + memory->key + ": " + memory->message);
  }
  for (const std::string& problem : problems) print(std::cout, problem + "\n");
  if (!problems.empty()) return 1;

  print(std::cout, "OK " + config_file.string() + ": model " + model.model_file.string() + " (" +
                       to_string(model.format) + ", " + saved_by_text(model) +
                       ", linked xgboost " + detail::version_text(linked_xgboost_version()) +
                       "), num_features " + std::to_string(predictor->num_features()) +
                       ", num_outputs " + std::to_string(predictor->num_outputs()) +
                       ", predictor " + config.predictor_class_name + ", " +
                       std::to_string(config.num_replicas) + " replica(s)\n");
  return 0;
}

std::string parse_options(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (const auto& arg : args) {
    if (arg.starts_with("-")) throw UsageError("unknown option " + detail::quote(arg));
    positional.push_back(arg);
  }
  if (positional.size() != 1) {
    throw UsageError("expected one CONFIG, found " + std::to_string(positional.size()) +
                     " arguments");
  }
  return positional.front();
}

// The library's message names the model and what to do; the config file in
// front says where the model_uri came from.
int validate_reporting(const std::string& config_file) {
  try {
    return validate(config_file);
  } catch (const std::exception& error) {
    print(std::cout, config_file + ": " + error.what() + "\n");
    print(std::cerr, "inferloop validate: " + config_file + ": invalid\n");
    return 1;
  }
}

}  // namespace

int validate_command(const std::vector<std::string>& args) {
  return run_subcommand("validate", kValidateUsage, args, parse_options, validate_reporting);
}

}  // namespace inferloop::cli
