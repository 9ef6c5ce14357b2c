// Prometheus' own linter, `promtool check metrics`, finds nothing to say
// about render_metrics()' output (names, units, _total suffixes, HELP text).
// Label: integration (it runs Debian's promtool, INFERLOOP_PROMTOOL).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_predictor.hpp"
#include "inferloop/metrics.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

TEST(PromtoolLint, FindsNoProblemInTheRenderedMetrics) {
  testing::FakeBehaviour behaviour;
  const auto registry = testing::fake_registry(behaviour);
  InferenceConfig config = testing::fake_config(2);
  config.deployment_name = "lint";
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = [](const std::string& uri) {
    ResolvedModel model = testing::fake_model(uri);
    model.registry_version = "3";
    return model;
  };
  InferenceLoop loop(config, std::move(options));
  loop.start();
  const std::vector<float> row(behaviour.num_features, 1.0F);
  ASSERT_TRUE(loop.wait_for(loop.features().publish(row, Timestamp{0}), 10s));

  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("inferloop-lint-" + std::to_string(getpid()) + ".txt");
  std::ofstream(file) << render_metrics(loop);
  const std::string command = std::string(INFERLOOP_PROMTOOL) + " check metrics < " + file.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  for (int c; (c = std::fgetc(pipe)) != EOF;) output += static_cast<char>(c);
  const int status = pclose(pipe);
  std::filesystem::remove(file);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace inferloop
