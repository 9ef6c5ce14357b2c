// docs/metrics.md and the code say the same: every metric render_metrics()
// writes has a row with its type and labels, every row is a metric it
// writes, and the bucket table's bounds and "counted exactly up to" values
// are the ones src/metrics/latency_buckets.hpp and the log-linear histogram
// give.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "exposition.hpp"
#include "fake_predictor.hpp"
#include "inferloop/metrics.hpp"
#include "metrics/latency_buckets.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

std::string docs() {
  std::ifstream in(INFERLOOP_METRICS_DOC);
  EXPECT_TRUE(in) << "cannot read " << INFERLOOP_METRICS_DOC;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The cells of every table row whose first cell is `code`, e.g. "`inferloop_...`".
std::vector<std::vector<std::string>> rows_starting_with(const std::string& text, const std::string& prefix) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("| " + prefix)) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
    }
    rows.push_back(cells);
  }
  return rows;
}

TEST(MetricsDocs, EveryRenderedMetricHasARowWithItsTypeAndLabelsAndNoRowIsMissing) {
  // A started loop with a result: every family is rendered.
  testing::FakeBehaviour behaviour;
  const auto registry = testing::fake_registry(behaviour);
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = testing::fake_model;
  InferenceLoop loop(testing::fake_config(2), std::move(options));
  loop.start();
  const std::vector<float> row(behaviour.num_features, 1.0F);
  ASSERT_TRUE(loop.wait_for(loop.features().publish(row, Timestamp{0}), 10s));
  const testing::Exposition seen = testing::parse_exposition(render_metrics(loop));

  std::set<std::string> documented;
  for (const auto& cells : rows_starting_with(docs(), "`inferloop_")) {
    ASSERT_GE(cells.size(), 5U);
    const std::string name = cells[0].substr(1, cells[0].size() - 2);
    documented.insert(name);
    SCOPED_TRACE(name);
    ASSERT_TRUE(seen.type.contains(name)) << "documented but not rendered";
    EXPECT_EQ(cells[1], seen.type.at(name));
    EXPECT_FALSE(cells[4].empty());
    // The labels column names what a sample has beyond deployment_name and
    // predictor (histograms' le aside).
    const std::string sample_name = seen.type.at(name) == "histogram" ? name + "_count" : name;
    const std::vector<testing::Sample> samples = seen.find(sample_name);
    ASSERT_FALSE(samples.empty());
    std::string labels;
    for (const auto& [label, value] : samples.front().labels) {
      if (label == "deployment_name" || label == "predictor") continue;
      labels += (labels.empty() ? "`" : ", `") + label + "`";
    }
    EXPECT_EQ(cells[2], labels);
  }
  for (const auto& [family, type] : seen.type) EXPECT_TRUE(documented.contains(family)) << family << " has no row";
}

TEST(MetricsDocs, BucketTableHasEveryBoundAndWhereItsExactCountEnds) {
  const auto rows = rows_starting_with(docs(), "`");
  std::vector<std::vector<std::string>> buckets;
  for (const auto& cells : rows) {
    if (cells.size() == 4 && cells[0] != "`le`") buckets.push_back(cells);
  }
  ASSERT_EQ(buckets.size(), detail::kLatencyBucketBounds.size());
  for (std::size_t k = 0; k < buckets.size(); ++k) {
    const std::uint64_t bound = detail::kLatencyBucketBounds[k];
    SCOPED_TRACE(bound);
    EXPECT_EQ(std::stod(buckets[k][0].substr(1)), static_cast<double>(bound) / 1e9);
    const std::size_t straddling = detail::LatencyHistogram::bucket_of(bound);
    const std::uint64_t exact_up_to = detail::LatencyHistogram::lower_bound_of(straddling) - 1;
    EXPECT_EQ(buckets[k][2], std::to_string(exact_up_to) + " ns");
  }
}

}  // namespace
}  // namespace inferloop
