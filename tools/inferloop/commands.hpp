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

// {3, 2, 0} -> "3.2.0"; "" for an empty version (a legacy binary model
// records none).
inline std::string version_string(const std::vector<int>& parts) {
  std::string text;
  for (int part : parts) {
    // Two appends: GCC 12 warns (-Wrestrict, falsely) on "." + std::string.
    if (!text.empty()) text += '.';
    text += std::to_string(part);
  }
  return text;
}

}  // namespace inferloop::cli
