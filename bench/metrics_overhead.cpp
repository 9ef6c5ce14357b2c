// metrics_overhead: does serving Prometheus metrics slow the loop down? The
// loop's publish-to-visible latency with metrics off and on, in one run, on
// the same model:
//   off  a loop without metrics_listen
//   on   a loop serving /metrics on 127.0.0.1, scraped (GET /metrics over
//        loopback, as Prometheus does) every --scrape-ms while it is measured
// The two are measured in alternating phases (off, on, on, off, ...), so a
// change in the machine's load meanwhile falls on both alike. Each sample
// publishes one snapshot (one every --pace-us, the engine sleeping in
// between) and spins until latest() shows it; both the engine's own
// steady-clock measurement and the loop's stats() p50 are reported.
// Goal: no measurable difference (the metrics are computed at scrape time from
// counters the loop keeps anyway; nothing is added to the hot path).
//
// Pinning (--engine-cpu, --loop-cpu; default 0 and 1): the engine thread on
// one CPU, every thread of both loops (poller, replicas, the metrics server)
// and the scraper on another. Unpinned, on a two-CPU machine shared with
// other work, where the scheduler happens to put each loop's poller decides
// its latency (a poller that shares the spinning engine's CPU waits for a
// time slice), and that differs between the two loops by more than anything
// measured here.
//
//   metrics_overhead --model=PATH [--predictor=ForestPredictor] [--replicas=1]
//                    [--rounds=10] [--samples=10000] [--pace-us=200]
//                    [--scrape-ms=1000] [--engine-cpu=0] [--loop-cpu=1]
//                    [--json=OUT]
//
// bench/run_metrics_overhead.sh builds it in Release, trains the model and runs it.
#include <curl/curl.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
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
  int replicas = 1;
  int rounds = 10;
  std::size_t samples = 10'000;
  std::int64_t pace_us = 200;
  std::int64_t scrape_ms = 1000;
  int engine_cpu = 0;
  int loop_cpu = 1;
  std::string json;
};

// Threads inherit the CPU set of the thread that creates them.
void pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    throw std::runtime_error("cannot pin a thread to CPU " + std::to_string(cpu));
  }
}

double us_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::size_t append(char* data, std::size_t size, std::size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

// GETs `url` every `period` while active; what each scrape cost the scraper.
class Scraper {
 public:
  Scraper(std::string url, std::chrono::milliseconds period)
      : url_(std::move(url)), period_(period), thread_([this] { run(); }) {}
  ~Scraper() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void set_active(bool active) {
    {
      std::lock_guard lock(mutex_);
      active_ = active;
    }
    wake_.notify_all();
  }
  std::vector<double> scrape_us() {
    std::lock_guard lock(mutex_);
    return scrape_us_;
  }
  std::size_t bytes() {
    std::lock_guard lock(mutex_);
    return bytes_;
  }

 private:
  void run() {
    CURL* curl = curl_easy_init();
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    std::unique_lock lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, period_, [&] { return stop_; });
      if (stop_ || !active_) continue;
      lock.unlock();
      body.clear();
      const auto start = steady::now();
      const CURLcode result = curl_easy_perform(curl);
      const double took = us_between(start, steady::now());
      lock.lock();
      if (result == CURLE_OK) {
        scrape_us_.push_back(took);
        bytes_ = body.size();
      }
    }
    lock.unlock();
    curl_easy_cleanup(curl);
  }

  const std::string url_;
  const std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool active_ = false;
  std::vector<double> scrape_us_;
  std::size_t bytes_ = 0;
  std::thread thread_;
};

struct Mode {
  std::string name;
  std::unique_ptr<inferloop::InferenceLoop> loop;
  std::vector<double> publish_to_visible_us;  // the engine's own measurement
};

void measure(Mode& mode, const Options& options, const std::vector<float>& rows) {
  inferloop::FeatureSlot& slot = mode.loop->features();
  const std::size_t cols = slot.cols();
  const std::size_t distinct = rows.size() / cols;
  const auto clock = inferloop::system_clock();
  auto deadline = steady::now();
  for (std::size_t i = 0; i < options.samples; ++i) {
    deadline += std::chrono::microseconds(options.pace_us);
    std::this_thread::sleep_until(deadline);
    const std::span<const float> row(rows.data() + (i % distinct) * cols, cols);
    const auto start = steady::now();
    const std::uint64_t seq = slot.publish(row, clock->now());
    while (mode.loop->latest_feature_seq() < seq) relax();
    mode.publish_to_visible_us.push_back(us_between(start, steady::now()));
  }
}

}  // namespace

int main(int argc, char** argv) try {
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
    } else if (const char* v = value("--replicas=")) {
      options.replicas = inferloop::detail::parse_integer<int>(v, "--replicas", 1, 64);
    } else if (const char* v = value("--rounds=")) {
      options.rounds = inferloop::detail::parse_integer<int>(v, "--rounds", 1, 10'000);
    } else if (const char* v = value("--samples=")) {
      options.samples = inferloop::detail::parse_integer<std::size_t>(v, "--samples", 1, 100'000'000);
    } else if (const char* v = value("--pace-us=")) {
      options.pace_us = inferloop::detail::parse_integer<std::int64_t>(v, "--pace-us", 1, 1'000'000);
    } else if (const char* v = value("--scrape-ms=")) {
      options.scrape_ms = inferloop::detail::parse_integer<std::int64_t>(v, "--scrape-ms", 1, 3'600'000);
    } else if (const char* v = value("--engine-cpu=")) {
      options.engine_cpu = inferloop::detail::parse_integer<int>(v, "--engine-cpu", 0, CPU_SETSIZE - 1);
    } else if (const char* v = value("--loop-cpu=")) {
      options.loop_cpu = inferloop::detail::parse_integer<int>(v, "--loop-cpu", 0, CPU_SETSIZE - 1);
    } else if (const char* v = value("--json=")) {
      options.json = v;
    } else {
      std::fprintf(stderr, "usage: metrics_overhead --model=PATH [--predictor=NAME] [--replicas=N] "
                           "[--rounds=N] [--samples=N] [--pace-us=US] [--scrape-ms=MS] [--engine-cpu=N] "
                           "[--loop-cpu=N] [--json=OUT]\n");
      return 2;
    }
  }
  if (options.model.empty()) {
    std::fprintf(stderr, "metrics_overhead: --model is required\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string load_before = load_average();

  pin_this_thread(options.loop_cpu);  // what the loops and the scraper start inherits
  std::vector<Mode> modes(2);
  for (std::size_t m = 0; m < modes.size(); ++m) {
    inferloop::InferenceConfig config;
    config.model_uri = options.model;
    config.predictor_class_name = options.predictor;
    config.num_replicas = options.replicas;
    config.deployment_name = m == 0 ? "metrics-off" : "metrics-on";
    if (m == 1) config.metrics_listen = "127.0.0.1:0";
    modes[m].name = m == 0 ? "off" : "on, scraped";
    modes[m].loop = std::make_unique<inferloop::InferenceLoop>(config);
    modes[m].loop->start();
    modes[m].publish_to_visible_us.reserve(options.samples * static_cast<std::size_t>(options.rounds));
  }
  Scraper scraper(inferloop::metrics_url(*modes[1].loop), std::chrono::milliseconds(options.scrape_ms));
  pin_this_thread(options.engine_cpu);

  const std::size_t cols = modes[0].loop->features().cols();
  std::vector<float> rows(cols * 1024);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = std::sin(static_cast<float>(i) * 0.37F) * 2.0F;

  // off, on, on, off, off, on, ...: each mode goes first in half the rounds.
  for (int round = 0; round < options.rounds; ++round) {
    for (int step = 0; step < 2; ++step) {
      const std::size_t m = (round % 2 == 0) ? step : 1 - step;
      scraper.set_active(m == 1);
      measure(modes[m], options, rows);
    }
  }
  scraper.set_active(false);
  const std::string load_after = load_average();

  nlohmann::json report = {{"model", options.model}, {"predictor", options.predictor},
                           {"replicas", options.replicas}, {"rounds", options.rounds},
                           {"samples_per_phase", options.samples}, {"pace_us", options.pace_us},
                           {"scrape_ms", options.scrape_ms}, {"engine_cpu", options.engine_cpu},
                           {"loop_cpu", options.loop_cpu}, {"load_before", load_before},
                           {"load_after", load_after}};
  std::printf("model %s (%s, %d replica(s)); %d rounds x %zu samples per mode, one every %lld us; "
              "a scrape every %lld ms in the 'on' phases\n",
              options.model.c_str(), options.predictor.c_str(), options.replicas, options.rounds,
              options.samples, static_cast<long long>(options.pace_us),
              static_cast<long long>(options.scrape_ms));
  std::printf("engine thread on CPU %d; loop threads, metrics server and scraper on CPU %d\n",
              options.engine_cpu, options.loop_cpu);
  std::printf("load average before %s, after %s\n", load_before.c_str(), load_after.c_str());
  std::printf("%-14s %10s %10s %10s %10s %16s\n", "metrics", "p50 us", "p90 us", "p99 us", "samples",
              "stats() p50 us");
  double p50[2] = {0, 0};
  double stats_p50[2] = {0, 0};
  for (std::size_t m = 0; m < modes.size(); ++m) {
    const auto& samples = modes[m].publish_to_visible_us;
    p50[m] = percentile(samples, 0.5);
    const inferloop::LoopStats stats = modes[m].loop->stats();
    stats_p50[m] = std::chrono::duration<double, std::micro>(stats.publish_to_visible.p50).count();
    std::printf("%-14s %10.2f %10.2f %10.2f %10zu %16.2f\n", modes[m].name.c_str(), p50[m],
                percentile(samples, 0.9), percentile(samples, 0.99), samples.size(), stats_p50[m]);
    report["modes"].push_back({{"name", modes[m].name}, {"p50_us", p50[m]},
                               {"p90_us", percentile(samples, 0.9)},
                               {"p99_us", percentile(samples, 0.99)}, {"samples", samples.size()},
                               {"stats_p50_us", stats_p50[m]}});
  }
  const double change = 100 * (p50[1] - p50[0]) / p50[0];
  const double stats_change = 100 * (stats_p50[1] - stats_p50[0]) / stats_p50[0];
  const std::vector<double> scrapes = scraper.scrape_us();
  std::printf("p50 on vs off: %+.2f%% (engine's measurement), %+.2f%% (stats())\n", change, stats_change);
  std::printf("scrapes: %zu, %zu bytes each, p50 %.0f us, max %.0f us (the scraper's cost, on its "
              "own thread)\n",
              scrapes.size(), scraper.bytes(), percentile(scrapes, 0.5), percentile(scrapes, 1.0));
  report["p50_change_percent"] = change;
  report["stats_p50_change_percent"] = stats_change;
  report["scrapes"] = scrapes.size();
  report["scrape_bytes"] = scraper.bytes();
  report["scrape_p50_us"] = percentile(scrapes, 0.5);
  if (!options.json.empty()) std::ofstream(options.json) << report.dump(2) << "\n";
  for (Mode& mode : modes) mode.loop->stop();
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "metrics_overhead: %s\n", error.what());
  return 1;
}
