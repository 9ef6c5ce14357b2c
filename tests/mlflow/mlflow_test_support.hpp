// What the MLflow and S3 integration tests share: the fixture's state.json,
// running the fixture script (INFERLOOP_MLFLOW_FIXTURES:
// tests/python/mlflow_fixtures.py, or s3_fixtures.py for the S3 tests),
// features.csv, ForestPredictor's predictions as float bit patterns, a port
// nothing listens on, and environment variables set for one scope.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/predictor.hpp"

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

// The rows of features.csv through ForestPredictor on `model`, as bit patterns.
inline std::vector<std::uint32_t> forest_predictions(const ResolvedModel& model) {
  std::size_t rows = 0;
  const std::vector<float> features = read_features(rows);
  InferenceConfig config;
  config.model_uri = model.uri;
  config.predictor_class_name = "ForestPredictor";
  SharedPredictorState shared;
  auto predictor = PredictorRegistry::global().create(
      "ForestPredictor", PredictorContext{config, model, 0, shared});
  EXPECT_EQ(predictor->num_features(), 5u);
  EXPECT_EQ(predictor->num_outputs(), 1u);
  std::vector<float> out(rows);
  predictor->predict(features, rows, out);
  std::vector<std::uint32_t> words;
  for (float value : out) words.push_back(bits(value));
  return words;
}

// "" when equal, else the first difference.
inline std::string first_difference(const std::vector<std::uint32_t>& got,
                                    const std::vector<std::uint32_t>& want) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " predictions, expected " + std::to_string(want.size());
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      float g, w;
      std::memcpy(&g, &got[i], sizeof g);
      std::memcpy(&w, &want[i], sizeof w);
      char text[160];
      std::snprintf(text, sizeof text, "row %zu: got %.9g (0x%08x), xgboost %.9g (0x%08x)", i, g,
                    got[i], w, want[i]);
      return text;
    }
  }
  return "";
}

// A fresh, empty folder for the running test under INFERLOOP_MLFLOW_SCRATCH
// ("<suite>.<test>"), left in place afterwards for a look after a failure.
inline std::filesystem::path fresh_scratch_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path folder =
      std::filesystem::path(INFERLOOP_MLFLOW_SCRATCH) / (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

// Every path under `root`, relative, one per line (for failure messages).
inline std::vector<std::string> tree(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  if (!fs::exists(root, ec)) return paths;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    paths.push_back(fs::relative(it->path(), root).string() + (it->is_directory() ? "/" : ""));
  }
  return paths;
}

// A 127.0.0.1 port nothing listens on (bound, then released).
inline int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw Error("cannot bind a loopback socket");
  }
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// Sets (or, for std::nullopt, unsets) environment variables for its
// lifetime; restores what was there before when it goes out of scope,
// whatever happens.
class EnvGuard {
 public:
  EnvGuard(std::initializer_list<std::pair<std::string, std::optional<std::string>>> values) {
    for (const auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_.push_back({name, old != nullptr, old != nullptr ? std::string(old) : std::string()});
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  ~EnvGuard() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->was_set) {
        ::setenv(it->name.c_str(), it->value.c_str(), 1);
      } else {
        ::unsetenv(it->name.c_str());
      }
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  struct Saved {
    std::string name;
    bool was_set;
    std::string value;
  };
  std::vector<Saved> saved_;
};

}  // namespace inferloop::mlflow_test
