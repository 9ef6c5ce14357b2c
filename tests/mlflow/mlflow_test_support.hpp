// What the MLflow integration tests share: the fixture's state.json, running
// tests/python/mlflow_fixtures.py, features.csv and float bit patterns.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"

namespace inferloop::mlflow_test {

using nlohmann::json;

inline const std::string kWork = INFERLOOP_MLFLOW_WORK;

inline json state() {
  std::ifstream in(kWork + "/state.json");
  if (!in) throw Error("no " + kWork + "/state.json: the fixture inferloop_mlflow_server did not run");
  return json::parse(in);
}

inline std::string tracking_uri() { return state().at("tracking_uri"); }

inline std::string fixture_command(const std::string& args) {
  return std::string(INFERLOOP_PYTHON_EXE) + " " + INFERLOOP_MLFLOW_FIXTURES + " " + args +
         " --work " + kWork;
}

// Runs mlflow_fixtures.py and returns its stdout (one JSON line or nothing).
// Throws when it fails, so that a broken fixture cannot pass as a test result.
inline std::string run_fixture(const std::string& args) {
  const std::string line = fixture_command(args);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(line.c_str(), "r"), pclose);
  if (!pipe) throw Error("cannot run " + line);
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) out.append(buffer, n);
  const int status = pclose(pipe.release());
  if (status != 0) throw Error(line + " failed (status " + std::to_string(status) + ")");
  return out;
}

// features.csv as rows x num_features floats (row-major); `rows` is set.
inline std::vector<float> read_features(std::size_t& rows) {
  std::ifstream in(state().at("features_csv").get<std::string>());
  std::vector<float> values;
  rows = 0;
  for (std::string line; std::getline(in, line); ++rows) {
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) {
      // The file holds each float32 as its exact double: strtod then cast is exact.
      values.push_back(cell == "nan" ? std::numeric_limits<float>::quiet_NaN()
                                     : static_cast<float>(std::strtod(cell.c_str(), nullptr)));
    }
  }
  return values;
}

inline std::uint32_t bits(float value) {
  std::uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  return word;
}

}  // namespace inferloop::mlflow_test
