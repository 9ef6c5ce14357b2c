// The frame every subcommand of the CLI runs in, so that each behaves the
// same at its edges:
//   -h / --help anywhere        prints the usage, exit status 0
//   the parser throws UsageError "inferloop NAME: <what>" and the usage on
//                               standard error, exit status 2
//   the command throws          "inferloop NAME: error: <what>", exit status 1
//   otherwise                   the command's own exit status
// Everything printed goes through console.hpp's print (no secrets).
#pragma once

#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "arguments.hpp"
#include "console.hpp"

namespace inferloop::cli {

// `parse(args)` returns the command's options or throws UsageError;
// `execute(options)` returns the exit status.
template <typename Parse, typename Execute>
int run_subcommand(std::string_view name, std::string_view usage,
                   const std::vector<std::string>& args, Parse&& parse, Execute&& execute) {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::cout << usage;
      return 0;
    }
  }
  decltype(parse(args)) options;
  try {
    options = parse(args);
  } catch (const UsageError& error) {
    print(std::cerr, "inferloop " + std::string(name) + ": " + error.what() + "\n\n" +
                         std::string(usage));
    return 2;
  }
  try {
    return execute(options);
  } catch (const std::exception& error) {
    return report_error(std::cerr, name, error);
  }
}

}  // namespace inferloop::cli
