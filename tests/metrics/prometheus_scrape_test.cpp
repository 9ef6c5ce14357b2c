// The real Prometheus scrapes a running loop (metrics_listen) while it serves
// a steady stream of snapshots; then its HTTP API must give back exactly the
// counters of stats(), and a histogram_quantile() consistent with stats()'
// percentile to the precision docs/metrics.md states. Label: integration.
//
// Prometheus (Debian's /usr/bin/prometheus, INFERLOOP_PROMETHEUS) runs on
// 127.0.0.1 at a free port, with a temporary storage folder, a one-second
// scrape interval and nothing remote; the test stops it and removes the
// folder when it ends.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_predictor.hpp"
#include "inferloop/metrics.hpp"
#include "metrics/latency_buckets.hpp"
#include "remote/http_client.hpp"

extern char** environ;

namespace inferloop {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A port on 127.0.0.1 that was free a moment ago (Prometheus needs a number).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "inferloop-prometheus-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Prometheus scraping `target` every second; stopped (SIGTERM, then SIGKILL)
// when it goes out of scope.
class PrometheusServer {
 public:
  PrometheusServer(const std::filesystem::path& folder, const std::string& target)
      : port_(free_port()), log_(folder / "prometheus.log") {
    const std::filesystem::path config = folder / "prometheus.yml";
    std::ofstream(config) << "global:\n"
                             "  scrape_interval: 1s\n"
                             "  scrape_timeout: 1s\n"
                             "  evaluation_interval: 1s\n"
                             "scrape_configs:\n"
                             "  - job_name: inferloop\n"
                             "    static_configs:\n"
                             "      - targets: ['" << target << "']\n";
    std::vector<std::string> args = {INFERLOOP_PROMETHEUS,
                                     "--config.file=" + config.string(),
                                     "--storage.tsdb.path=" + (folder / "data").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--log.level=warn"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
    const int failed = posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (failed != 0) {
      pid_ = 0;
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(failed);
    }
  }
  ~PrometheusServer() {
    if (pid_ == 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(100ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::string log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // Polls until Prometheus answers /-/ready or `timeout` passes.
  bool wait_until_ready(std::chrono::seconds timeout) const {
    const auto deadline = steady::now() + timeout;
    detail::HttpClient client(1000ms, 2000ms);
    detail::HttpResponse response;
    while (steady::now() < deadline) {
      client.get(url() + "/-/ready", response);
      if (response.status == 200) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // One instant query; the sample's timestamp (seconds) and value, or none
  // when the result is empty.
  struct Value {
    double timestamp = 0;
    double value = 0;
  };
  std::optional<Value> query(const std::string& promql) const {
    char* escaped = curl_easy_escape(nullptr, promql.c_str(), static_cast<int>(promql.size()));
    const std::string url = this->url() + "/api/v1/query?query=" + escaped;
    curl_free(escaped);
    detail::HttpClient client(1000ms, 5000ms);
    detail::HttpResponse response;
    client.get(url, response);
    if (response.status != 200) {
      ADD_FAILURE() << promql << ": HTTP " << response.status << " " << response.transport_error
                    << response.body;
      return std::nullopt;
    }
    const nlohmann::json answer = nlohmann::json::parse(response.body);
    const nlohmann::json& result = answer.at("data").at("result");
    if (result.empty()) return std::nullopt;
    EXPECT_EQ(result.size(), 1U) << promql << " gave several series: " << response.body;
    const nlohmann::json& sample = result.front().at("value");
    return Value{sample.at(0).get<double>(), std::stod(sample.at(1).get<std::string>())};
  }

 private:
  pid_t pid_ = 0;
  int port_;
  std::filesystem::path log_;
};

// docs/metrics.md: histogram_quantile() lands in the fixed bucket [lower,
// upper] holding the rank, and the true sample quantile lies in (lower *
// 31/32, upper] (a bucket's count misses at most the samples within 1/32
// below its bound); stats() reports the quantile's log-linear bucket top,
// at most 1/32 above it. So the two agree when, for some fixed bucket,
// lower <= estimate <= upper and lower * 31/32 < from_stats <= upper * 33/32.
::testing::AssertionResult consistent_quantiles(double estimate_seconds,
                                                std::chrono::nanoseconds from_stats) {
  const double from_stats_seconds = std::chrono::duration<double>(from_stats).count();
  const auto& bounds = detail::kLatencyBucketBounds;
  for (std::size_t k = 0; k <= bounds.size(); ++k) {
    const double lower = k == 0 ? 0.0 : static_cast<double>(bounds[k - 1]) / 1e9;
    const double upper = k == bounds.size() ? INFINITY : static_cast<double>(bounds[k]) / 1e9;
    // The estimate is printed as text: allow its last digits.
    const bool estimate_inside = estimate_seconds >= lower * (1 - 1e-9) && estimate_seconds <= upper * (1 + 1e-9);
    const bool stats_inside = from_stats_seconds > lower * 31 / 32 && from_stats_seconds <= upper * 33 / 32;
    if (estimate_inside && stats_inside) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "histogram_quantile gave " << estimate_seconds
                                       << " s, stats() " << from_stats_seconds
                                       << " s: not in one fixed bucket";
}

TEST(PrometheusScrape, ApiCountersEqualStatsAndTheQuantileMatchesWithinTheBucketPrecision) {
  testing::FakeBehaviour behaviour;
  behaviour.delay = 300us;
  const auto registry = testing::fake_registry(behaviour);
  InferenceConfig config = testing::fake_config(2);
  config.deployment_name = "scrape-test";
  config.metrics_listen = "127.0.0.1:0";
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = testing::fake_model;
  InferenceLoop loop(config, std::move(options));
  loop.start();
  const std::string metrics = metrics_url(loop);
  ASSERT_FALSE(metrics.empty());
  const std::string target = metrics.substr(7, metrics.size() - 7 - std::string("/metrics").size());

  const TemporaryFolder folder;
  const PrometheusServer prometheus(folder.path(), target);
  ASSERT_TRUE(prometheus.wait_until_ready(60s)) << prometheus.log();

  // 200 snapshots a second for 3 s, paced by a timer: Prometheus scrapes
  // about three times meanwhile.
  std::uint64_t last = 0;
  auto next = steady::now();
  for (int i = 1; i <= 600; ++i) {
    const std::vector<float> row(behaviour.num_features, static_cast<float>(i));
    last = loop.features().publish(row, Timestamp{i});
    next += 5ms;
    std::this_thread::sleep_until(next);
  }
  ASSERT_TRUE(loop.wait_for(last, 10s));
  // Quiet: every snapshot delivered or conflated, nothing in flight.
  LoopStats stats = loop.stats();
  for (auto deadline = steady::now() + 10s; stats.in_flight > 0 && steady::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
    stats = loop.stats();
  }
  ASSERT_EQ(stats.in_flight, 0U);
  ASSERT_EQ(stats.dispatched + stats.conflated, stats.snapshots_published);
  const double quiet_at = std::chrono::duration<double>(system_clock()->now()).count();

  // Wait for a scrape that began after the loop went quiet.
  const std::string selector = "{deployment_name=\"scrape-test\"}";
  bool scraped = false;
  for (auto deadline = steady::now() + 30s; !scraped && steady::now() < deadline;) {
    const auto sample = prometheus.query("timestamp(inferloop_snapshots_published_total" + selector + ")");
    scraped = sample && sample->value > quiet_at;
    if (!scraped) std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(scraped) << "no scrape after the loop went quiet\n" << prometheus.log();
  ASSERT_EQ(loop.stats().snapshots_published, stats.snapshots_published);

  auto sum_of = [&](const std::string& metric) {
    const auto sample = prometheus.query("sum(" + metric + selector + ")");
    EXPECT_TRUE(sample) << metric;
    return sample ? sample->value : NAN;
  };
  EXPECT_EQ(sum_of("inferloop_snapshots_published_total"), 600);
  EXPECT_EQ(sum_of("inferloop_snapshots_published_total"), stats.snapshots_published);
  EXPECT_EQ(sum_of("inferloop_snapshots_dispatched_total"), stats.dispatched);
  EXPECT_EQ(sum_of("inferloop_snapshots_conflated_total"), stats.conflated);
  EXPECT_EQ(sum_of("inferloop_snapshots_rejected_total"), stats.snapshots_rejected);
  EXPECT_EQ(sum_of("inferloop_predictions_total"), stats.predictions);
  EXPECT_EQ(sum_of("inferloop_prediction_errors_total"), stats.errors);
  EXPECT_EQ(sum_of("inferloop_stale_results_total"), stats.stale_results);
  EXPECT_EQ(sum_of("inferloop_model_swaps_total"), stats.model_swaps);
  EXPECT_EQ(sum_of("inferloop_publish_to_visible_seconds_count"), stats.publish_to_visible.count);
  EXPECT_EQ(sum_of("inferloop_predict_duration_seconds_count"), stats.predict.count);
  EXPECT_EQ(sum_of("inferloop_model_version"), 1);
  EXPECT_EQ(sum_of("inferloop_replicas_busy"), 0);

  for (const auto& [quantile, from_stats] :
       {std::pair{0.5, stats.publish_to_visible.p50}, std::pair{0.99, stats.publish_to_visible.p99}}) {
    SCOPED_TRACE(quantile);
    const auto estimate = prometheus.query(
        "histogram_quantile(" + std::to_string(quantile) +
        ", sum by (le) (inferloop_publish_to_visible_seconds_bucket" + selector + "))");
    ASSERT_TRUE(estimate);
    std::cout << "publish-to-visible q" << quantile << ": histogram_quantile " << estimate->value
              << " s, stats() " << std::chrono::duration<double>(from_stats).count() << " s\n";
    EXPECT_TRUE(consistent_quantiles(estimate->value, from_stats));
  }
  loop.stop();
}

}  // namespace
}  // namespace inferloop
