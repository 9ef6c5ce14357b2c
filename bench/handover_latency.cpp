// handover_latency: what the loop adds between publish() and a visible
// result, against two anchors measured in the same run:
//   floor     a two-thread cache-line ping-pong (the hardware's round trip
//             between cores; one hand-over is at least half of it)
//   bare      the same predictor's predict() on the engine thread, sample by
//             sample interleaved with the loop's samples
// for each wait strategy, one and two replicas, publishing at a realistic
// pace (one snapshot every --pace-us, the engine sleeping in between) and
// back to back. Overhead = p50(publish-to-visible) - p50(bare predict).
// publish_ns is the engine thread's own cost of publish().
//
//   handover_latency --model=PATH [--predictor=ForestPredictor] [--samples=N]
//                    [--pace-us=100] [--json=OUT]
//
// bench/run_loop_overhead.sh builds it in Release, trains the model and runs it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/inferloop.hpp"
#include "sample_stats.hpp"
#include "util/checked.hpp"

namespace {

using inferloop::bench::percentile;
using inferloop::bench::relax;

using steady = std::chrono::steady_clock;

struct Options {
  std::string model;
  std::string predictor = "ForestPredictor";
  std::size_t samples = 20000;
  std::int64_t pace_us = 100;
  std::string json;
};

double ns_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

struct Row {
  std::string name;
  double p50_us = 0, p99_us = 0, bare_p50_us = 0, overhead_p50_us = 0;
  double publish_p50_ns = 0, publish_p99_ns = 0, publish_over_1us = 0;
};

// Sleeps until `deadline` when pacing (the engine thread waits for market
// data), returns at once back to back.
void pace(steady::time_point deadline, bool paced) {
  if (paced) std::this_thread::sleep_until(deadline);
}

Row ping_pong(std::size_t samples, bool paced, std::int64_t pace_us) {
  alignas(64) std::atomic<std::uint64_t> ping{0};
  alignas(64) std::atomic<std::uint64_t> pong{0};
  std::atomic<bool> done{false};
  std::thread other([&] {
    std::uint64_t seen = 0;
    while (!done.load(std::memory_order_relaxed)) {
      const std::uint64_t value = ping.load(std::memory_order_acquire);
      if (value != seen) {
        seen = value;
        pong.store(value, std::memory_order_release);
      } else {
        relax();
      }
    }
  });
  std::vector<double> rtt;
  rtt.reserve(samples);
  auto deadline = steady::now();
  for (std::uint64_t i = 1; i <= samples; ++i) {
    deadline += std::chrono::microseconds(pace_us);
    pace(deadline, paced);
    const auto start = steady::now();
    ping.store(i, std::memory_order_release);
    while (pong.load(std::memory_order_acquire) != i) relax();
    rtt.push_back(ns_between(start, steady::now()));
  }
  done = true;
  other.join();
  Row row;
  row.name = std::string("floor: ping-pong round trip, ") + (paced ? "paced" : "back to back");
  row.p50_us = percentile(rtt, 0.5) / 1000;
  row.p99_us = percentile(rtt, 0.99) / 1000;
  return row;
}

std::vector<float> make_rows(std::size_t cols, std::size_t count) {
  std::vector<float> rows(cols * count);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = std::sin(static_cast<float>(i) * 0.37F) * 2.0F;
    if (i % 17 == 5) rows[i] = std::nanf("");
  }
  return rows;
}

Row measure_loop(const Options& options, inferloop::WaitStrategy strategy, int replicas,
                 bool paced) {
  inferloop::InferenceConfig config;
  config.model_uri = options.model;
  config.predictor_class_name = options.predictor;
  config.num_replicas = replicas;
  config.wait_strategy = strategy;
  inferloop::InferenceLoop loop(config);
  loop.start();
  inferloop::FeatureSlot& slot = loop.features();
  const std::size_t cols = slot.cols();
  constexpr std::size_t kDistinct = 1024;
  const std::vector<float> rows = make_rows(cols, kDistinct);

  // The bare anchor: the same predictor class on the same model, called on
  // this (the engine) thread.
  const inferloop::ResolvedModel model = inferloop::resolve_model(options.model);
  inferloop::SharedPredictorState shared;
  const inferloop::PredictorContext context{config, model, 0, shared};
  auto bare = inferloop::PredictorRegistry::global().create(options.predictor, context);
  bare->warm_up();
  std::vector<float> out(bare->num_outputs());

  std::vector<double> p2v, bare_ns, publish_ns;
  p2v.reserve(options.samples);
  bare_ns.reserve(options.samples);
  publish_ns.reserve(options.samples);
  const auto clock = inferloop::system_clock();
  auto deadline = steady::now();
  for (std::size_t i = 0; i < options.samples; ++i) {
    const std::span<const float> row(rows.data() + (i % kDistinct) * cols, cols);
    const std::span<const float> other(rows.data() + ((i + 7) % kDistinct) * cols, cols);
    deadline += std::chrono::microseconds(options.pace_us);
    pace(deadline, paced);
    const auto bare_start = steady::now();
    bare->predict(other, 1, out);
    const auto bare_end = steady::now();
    const auto start = steady::now();
    const std::uint64_t seq = slot.publish(row, clock->now());
    const auto published = steady::now();
    while (loop.latest_feature_seq() < seq) relax();
    const auto visible = steady::now();
    bare_ns.push_back(ns_between(bare_start, bare_end));
    publish_ns.push_back(ns_between(start, published));
    p2v.push_back(ns_between(start, visible));
  }
  loop.stop();
  Row row;
  row.name = std::string(inferloop::to_string(strategy)) + ", " + std::to_string(replicas) +
             " replica" + (replicas > 1 ? "s" : "") + ", " + (paced ? "paced" : "back to back");
  row.p50_us = percentile(p2v, 0.5) / 1000;
  row.p99_us = percentile(p2v, 0.99) / 1000;
  row.bare_p50_us = percentile(bare_ns, 0.5) / 1000;
  row.overhead_p50_us = row.p50_us - row.bare_p50_us;
  row.publish_p50_ns = percentile(publish_ns, 0.5);
  row.publish_p99_ns = percentile(publish_ns, 0.99);
  row.publish_over_1us = static_cast<double>(std::count_if(publish_ns.begin(), publish_ns.end(),
                                                           [](double ns) { return ns > 1000; })) /
                         static_cast<double>(publish_ns.size());
  return row;
}

// The flags; throws inferloop::Error naming a bad value.
std::optional<Options> parse_flags(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::size_t length = std::strlen(name);
      return arg.compare(0, length, name) == 0 ? argv[i] + length : nullptr;
    };
    if (const char* v = value("--model=")) {
      options.model = v;
    } else if (const char* v = value("--predictor=")) {
      options.predictor = v;
    } else if (const char* v = value("--samples=")) {
      options.samples = inferloop::detail::parse_integer<std::size_t>(v, "--samples", 1, 100'000'000);
    } else if (const char* v = value("--pace-us=")) {
      options.pace_us = inferloop::detail::parse_integer<std::int64_t>(v, "--pace-us", 1, 1'000'000);
    } else if (const char* v = value("--json=")) {
      options.json = v;
    } else {
      std::fprintf(stderr, "usage: handover_latency --model=PATH [--predictor=NAME] [--samples=N] "
                           "[--pace-us=US] [--json=OUT]\n");
      return std::nullopt;
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    std::optional<Options> flags = parse_flags(argc, argv);
    if (!flags) return 2;
    options = std::move(*flags);
  } catch (const inferloop::Error& error) {
    std::fprintf(stderr, "handover_latency: %s\n", error.what());
    return 2;
  }
  if (options.model.empty()) {
    std::fprintf(stderr, "handover_latency: --model is required\n");
    return 2;
  }
  std::vector<Row> rows;
  for (bool paced : {true, false}) rows.push_back(ping_pong(options.samples, paced, options.pace_us));
  for (bool paced : {true, false}) {
    for (int replicas : {1, 2}) {
      for (auto strategy : {inferloop::WaitStrategy::kSpin, inferloop::WaitStrategy::kSpinThenBlock,
                            inferloop::WaitStrategy::kBlock}) {
        rows.push_back(measure_loop(options, strategy, replicas, paced));
      }
    }
  }
  std::printf("model %s (%s), %zu samples per row, pace %lld us\n", options.model.c_str(),
              options.predictor.c_str(), options.samples, static_cast<long long>(options.pace_us));
  std::printf("%-44s %8s %8s %8s %9s %10s %10s %8s\n", "", "p50 us", "p99 us", "bare us",
              "+p50 us", "pub p50ns", "pub p99ns", "pub>1us");
  for (const Row& r : rows) {
    std::printf("%-44s %8.2f %8.2f %8.2f %9.2f %10.0f %10.0f %7.2f%%\n", r.name.c_str(), r.p50_us,
                r.p99_us, r.bare_p50_us, r.overhead_p50_us, r.publish_p50_ns, r.publish_p99_ns,
                100 * r.publish_over_1us);
  }
  if (!options.json.empty()) {
    nlohmann::json report = {{"model", options.model},
                             {"predictor", options.predictor},
                             {"samples", options.samples},
                             {"pace_us", options.pace_us},
                             {"rows", nlohmann::json::array()}};
    for (const Row& r : rows) {
      report["rows"].push_back({{"name", r.name},
                                {"p50_us", r.p50_us},
                                {"p99_us", r.p99_us},
                                {"bare_p50_us", r.bare_p50_us},
                                {"overhead_p50_us", r.overhead_p50_us},
                                {"publish_p50_ns", r.publish_p50_ns},
                                {"publish_p99_ns", r.publish_p99_ns},
                                {"publish_over_1us", r.publish_over_1us}});
    }
    std::ofstream(options.json) << report.dump(2) << "\n";
  }
  return 0;
}
