// inferloop: the command-line front end. Dispatches to one subcommand per
// file (run.cpp, predict.cpp, validate.cpp, backtest.cpp, resolve.cpp); each
// returns the exit code:
// 0 success, 1 runtime error (bad config, model, data), 2 usage error.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "console.hpp"
#include "inferloop/error.hpp"
#include "inferloop/predictor.hpp"
#include "inferloop/version.hpp"
#include "util/text.hpp"

namespace {

constexpr const char* kUsage = R"(usage: inferloop <command> [arguments]

Real-time XGBoost inference in-process, from the command line.

commands:
  run CONFIG       serve the configured model against a feature CSV or a
                   synthetic market feed; live status, then a latency summary
  predict CONFIG   score a feature CSV in batch and write the predictions
  validate CONFIG  check a config and that its model loads
  backtest CONFIG  replay a feature CSV in simulated time with modelled
                   inference latency; deterministic results file
  resolve URI      show how a model URI resolves: MLflow REST calls, registry
                   version, cached copy, format, signature; with --best-run
                   EXPERIMENT --metric NAME, the runs:/ URI of the best run's model
  version          print inferloop's version and the linked XGBoost's
  help             print this text

`inferloop <command> --help` describes a command's arguments.
Exit status: 0 success, 1 error, 2 usage error.
)";

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& command = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (command == "run") return inferloop::cli::run_command(rest);
    if (command == "predict") return inferloop::cli::predict_command(rest);
    if (command == "validate") return inferloop::cli::validate_command(rest);
    if (command == "backtest") return inferloop::cli::backtest_command(rest);
    if (command == "resolve") return inferloop::cli::resolve_command(rest);
    if (command == "version" || command == "--version") {
      std::cout << "inferloop " << inferloop::kVersion << " (xgboost "
                << inferloop::detail::version_text(inferloop::linked_xgboost_version())
                << ")\n";
      return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
      std::cout << kUsage;
      return 0;
    }
  } catch (const std::exception& error) {
    // Subcommands report their own errors; this is the backstop for anything
    // they let through, so the tool never dies with an uncaught exception.
    return inferloop::cli::report_error(std::cerr, command, error);
  }
  std::cerr << "inferloop: unknown command " << inferloop::detail::quote(command) << "\n\n"
            << kUsage;
  return 2;
}
