// The inferloop CLI's subcommands. Each takes the arguments after its own
// name and returns the process exit code: 0 success, 1 runtime error, 2 usage.
#pragma once

#include <string>
#include <vector>

namespace inferloop::cli {

int run_command(const std::vector<std::string>& args);
int predict_command(const std::vector<std::string>& args);
int validate_command(const std::vector<std::string>& args);
int backtest_command(const std::vector<std::string>& args);
int resolve_command(const std::vector<std::string>& args);

}  // namespace inferloop::cli
