// render_metrics(): what a scraper sees, read back from the text itself
// (exposition.hpp), on loops driven by FakePredictor.
#include "inferloop/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "exposition.hpp"
#include "fake_predictor.hpp"
#include "metrics/latency_buckets.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;
using testing::Exposition;
using testing::FakeBehaviour;
using testing::fake_config;
using testing::parse_exposition;
using Labels = std::map<std::string, std::string>;

constexpr auto kWait = 10s;  // generous: only a broken loop ever hits it

struct MetricsFixture {
  explicit MetricsFixture(InferenceConfig config, std::shared_ptr<Clock> clock = nullptr,
                          std::string registry_version = "") {
    registry = testing::fake_registry(behaviour);
    LoopOptions options;
    options.registry = registry.get();
    options.resolver = [registry_version](const std::string& uri) {
      ResolvedModel model = testing::fake_model(uri);
      model.registry_version = registry_version;
      return model;
    };
    options.clock = std::move(clock);
    loop = std::make_unique<InferenceLoop>(std::move(config), std::move(options));
  }
  std::uint64_t publish(float value) {
    const std::vector<float> row(behaviour.num_features, value);
    return loop->features().publish(row, Timestamp{0});
  }
  Exposition scrape() const {
    Exposition seen = parse_exposition(render_metrics(*loop));
    EXPECT_TRUE(seen.problems.empty()) << "unreadable line: " << seen.problems.front();
    return seen;
  }

  FakeBehaviour behaviour;
  std::unique_ptr<PredictorRegistry> registry;
  std::unique_ptr<InferenceLoop> loop;
};

InferenceConfig named(InferenceConfig config, std::string deployment_name) {
  config.deployment_name = std::move(deployment_name);
  return config;
}

TEST(RenderMetrics, BeforeStartShowsTheLoopStoppedWithZeroCounters) {
  MetricsFixture f(named(fake_config(2), "desk-1"));
  const Exposition seen = f.scrape();
  const Labels loop_labels = {{"deployment_name", "desk-1"}, {"predictor", "FakePredictor"}};
  EXPECT_EQ(seen.sum("inferloop_running", loop_labels), 0);
  EXPECT_EQ(seen.sum("inferloop_replicas", loop_labels), 2);
  EXPECT_EQ(seen.sum("inferloop_snapshots_published_total", loop_labels), 0);
  // Nothing exists per replica yet, and no model or result to describe.
  EXPECT_TRUE(seen.find("inferloop_predictions_total").empty());
  EXPECT_TRUE(seen.find("inferloop_model_version").empty());
  EXPECT_TRUE(seen.find("inferloop_latest_result_age_seconds").empty());
}

TEST(RenderMetrics, CountersEqualStatsOnceTheLoopHasStopped) {
  auto config = named(fake_config(2), "desk-1");
  MetricsFixture f(config);
  f.behaviour.fail_if = [](float value) { return static_cast<int>(value) % 4 == 0; };
  f.behaviour.delay = 100us;
  f.loop->start();
  // One at a time, each dispatched before the next: 10 of these 40 fail.
  for (int i = 1; i <= 40; ++i) {
    const std::uint64_t entered = f.behaviour.entered.load();
    const std::uint64_t seq = f.publish(static_cast<float>(i));
    if (i % 4 != 0) {
      ASSERT_TRUE(f.loop->wait_for(seq, kWait));
    } else {
      for (auto deadline = std::chrono::steady_clock::now() + kWait;
           f.behaviour.entered.load() == entered && std::chrono::steady_clock::now() < deadline;) {
        std::this_thread::yield();
      }
    }
  }
  // Then a burst while both replicas are held: all but at most three of
  // its 161 snapshots are conflated.
  testing::Gate gate;
  gate.close();
  f.behaviour.gate = &gate;
  std::uint64_t last = 0;
  for (int i = 41; i <= 201; ++i) last = f.publish(static_cast<float>(i));
  gate.open();
  // A snapshot of the wrong shape is refused and counted.
  EXPECT_EQ(f.loop->features().publish(std::vector<float>(3, 1.0F), Timestamp{0}), 0U);
  ASSERT_TRUE(f.loop->wait_for(last, kWait));  // 201 % 4 != 0: it succeeds
  f.loop->stop();
  const LoopStats stats = f.loop->stats();
  const Exposition seen = f.scrape();
  EXPECT_EQ(seen.sum("inferloop_running"), 0);
  EXPECT_EQ(seen.sum("inferloop_snapshots_published_total"), stats.snapshots_published);
  EXPECT_EQ(seen.sum("inferloop_snapshots_rejected_total"), 1);
  EXPECT_EQ(seen.sum("inferloop_snapshots_dispatched_total"), stats.dispatched);
  EXPECT_EQ(seen.sum("inferloop_snapshots_conflated_total"), stats.conflated);
  EXPECT_EQ(seen.sum("inferloop_snapshots_discarded_total"), stats.discarded_at_stop);
  EXPECT_EQ(seen.sum("inferloop_predictions_total"), stats.predictions);
  EXPECT_EQ(seen.sum("inferloop_prediction_errors_total"), stats.errors);
  EXPECT_GE(stats.errors, 10U);  // the sums are not trivially 0
  EXPECT_GE(stats.conflated, 158U);
  EXPECT_EQ(seen.sum("inferloop_stale_results_total"), stats.stale_results);
  EXPECT_EQ(seen.sum("inferloop_feature_source_errors_total"), stats.source_errors);
  EXPECT_EQ(seen.sum("inferloop_history_dropped_total"), stats.history_dropped);
  EXPECT_EQ(seen.sum("inferloop_model_swaps_total"), 0);
  EXPECT_EQ(seen.sum("inferloop_model_reload_failures_total"), 0);
  EXPECT_EQ(seen.sum("inferloop_replicas_busy"), 0);
  EXPECT_EQ(seen.sum("inferloop_queue_wait_seconds_count"), stats.queue_wait.count);
  EXPECT_EQ(seen.sum("inferloop_predict_duration_seconds_count"), stats.predict.count);
  EXPECT_EQ(seen.sum("inferloop_publish_to_visible_seconds_count"), stats.publish_to_visible.count);
  EXPECT_EQ(seen.sum("inferloop_latest_result_feature_seq"), static_cast<double>(f.loop->latest_feature_seq()));
}

TEST(RenderMetrics, EveryFamilyHasHelpAndTypeAndAConventionalName) {
  MetricsFixture f(fake_config(1));
  f.loop->start();
  ASSERT_TRUE(f.loop->wait_for(f.publish(1.0F), kWait));
  const Exposition seen = f.scrape();
  ASSERT_GE(seen.type.size(), 20U);
  for (const auto& [family, type] : seen.type) {
    SCOPED_TRACE(family);
    EXPECT_TRUE(family.starts_with("inferloop_"));
    EXPECT_FALSE(seen.help.at(family).empty());
    if (type == "counter") {
      EXPECT_TRUE(family.ends_with("_total"));
    }
    if (type == "histogram") {
      EXPECT_TRUE(family.ends_with("_seconds"));
    }
    if (family.ends_with("_total")) {
      EXPECT_EQ(type, "counter");
    }
    EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << type;
  }
  for (const auto& sample : seen.samples) {
    SCOPED_TRACE(sample.name);
    const bool of_a_histogram = sample.name.ends_with("_bucket") || sample.name.ends_with("_sum") ||
                                sample.name.ends_with("_count");
    EXPECT_TRUE(seen.type.contains(sample.name) || of_a_histogram) << "a sample without a TYPE line";
  }
}

TEST(RenderMetrics, LabelsNameTheDeploymentThePredictorAndEachReplica) {
  MetricsFixture f(named(fake_config(3), "btc-direction"));
  f.loop->start();
  ASSERT_TRUE(f.loop->wait_for(f.publish(1.0F), kWait));
  const Exposition seen = f.scrape();
  for (const auto& sample : seen.samples) {
    SCOPED_TRACE(sample.name);
    EXPECT_EQ(sample.labels.at("deployment_name"), "btc-direction");
    EXPECT_EQ(sample.labels.at("predictor"), "FakePredictor");
  }
  for (const char* family : {"inferloop_predictions_total", "inferloop_prediction_errors_total",
                             "inferloop_stale_results_total", "inferloop_queue_wait_seconds_count",
                             "inferloop_predict_duration_seconds_count",
                             "inferloop_publish_to_visible_seconds_count"}) {
    SCOPED_TRACE(family);
    ASSERT_EQ(seen.find(family).size(), 3U);
    for (const char* replica : {"0", "1", "2"}) {
      EXPECT_EQ(seen.find(family, {{"replica", replica}}).size(), 1U) << "replica " << replica;
    }
  }
  // Loop-wide metrics carry no replica label.
  EXPECT_FALSE(seen.find("inferloop_snapshots_published_total").front().labels.contains("replica"));
}

TEST(RenderMetrics, AnUnsetOrEmptyDeploymentNameIsLabelledDefault) {
  for (const std::optional<std::string>& name : {std::optional<std::string>(), std::optional<std::string>("")}) {
    InferenceConfig config = fake_config(1);
    config.deployment_name = name;
    MetricsFixture f(config);
    EXPECT_EQ(f.scrape().find("inferloop_running").front().labels.at("deployment_name"), "default");
  }
}

TEST(RenderMetrics, HistogramBucketsAreCumulativeFixedAndEndInTheExactCount) {
  MetricsFixture f(fake_config(2));
  f.behaviour.delay = 200us;
  f.loop->start();
  std::uint64_t last = 0;
  for (int i = 1; i <= 50; ++i) {
    last = f.publish(static_cast<float>(i));
    ASSERT_TRUE(f.loop->wait_for(last, kWait));
  }
  const LoopStats stats = f.loop->stats();
  const Exposition seen = f.scrape();
  for (const char* replica : {"0", "1"}) {
    SCOPED_TRACE(replica);
    const std::vector<testing::Sample> buckets =
        seen.find("inferloop_predict_duration_seconds_bucket", {{"replica", replica}});
    ASSERT_EQ(buckets.size(), detail::kLatencyBucketBounds.size() + 1);
    for (std::size_t k = 0; k < buckets.size(); ++k) {
      const std::string le = buckets[k].labels.at("le");
      if (k < detail::kLatencyBucketBounds.size()) {
        EXPECT_EQ(std::stod(le), static_cast<double>(detail::kLatencyBucketBounds[k]) / 1e9);
      } else {
        EXPECT_EQ(le, "+Inf");
      }
      if (k > 0) {
        EXPECT_GE(buckets[k].value, buckets[k - 1].value) << "le " << le;
      }
    }
    EXPECT_EQ(buckets.back().value,
              seen.sum("inferloop_predict_duration_seconds_count", {{"replica", replica}}));
    // Every predict() slept 200us: no sample at or below 100us.
    EXPECT_EQ(seen.sum("inferloop_predict_duration_seconds_bucket", {{"replica", replica}, {"le", "0.0001"}}), 0);
  }
  EXPECT_EQ(seen.sum("inferloop_predict_duration_seconds_bucket", {{"le", "+Inf"}}), stats.predict.count);
  // _sum: each sample at the middle of its log-linear bucket, within 1/64;
  // at least 200us each.
  EXPECT_GE(seen.sum("inferloop_predict_duration_seconds_sum"),
            static_cast<double>(stats.predict.count) * 200e-6 * (1.0 - 1.0 / 64));
}

TEST(RenderMetrics, ModelVersionGaugeNamesTheUriWithoutSecretsAndTheRegistryVersion) {
  InferenceConfig config = fake_config(1);
  config.model_uri = "https://alice:s3cretpass@127.0.0.1:9/models/m.json?token=t0ken&x=1";
  MetricsFixture f(config, nullptr, "7");
  f.loop->start();
  const std::string text = render_metrics(*f.loop);
  EXPECT_EQ(text.find("s3cretpass"), std::string::npos);
  EXPECT_EQ(text.find("alice"), std::string::npos);
  EXPECT_EQ(text.find("t0ken"), std::string::npos);
  const Exposition seen = parse_exposition(text);
  const std::vector<testing::Sample> version = seen.find("inferloop_model_version");
  ASSERT_EQ(version.size(), 1U);
  EXPECT_EQ(version.front().value, 1);
  EXPECT_EQ(version.front().labels.at("model_uri"), "https://***@127.0.0.1:9/models/m.json?token=***&x=1");
  EXPECT_EQ(version.front().labels.at("registry_version"), "7");
}

TEST(RenderMetrics, LatestResultAgeIsTheLoopClockNowMinusCompletedAt) {
  auto clock = std::make_shared<ManualClock>(Timestamp{1'000'000});
  MetricsFixture f(fake_config(1), clock);
  f.loop->start();
  EXPECT_TRUE(f.scrape().find("inferloop_latest_result_age_seconds").empty());  // no result yet
  const std::uint64_t seq = f.publish(1.0F);
  ASSERT_TRUE(f.loop->wait_for(seq, kWait));  // completed_at = 1ms: the clock stands still
  clock->set(Timestamp{251'000'000});
  const Exposition seen = f.scrape();
  EXPECT_DOUBLE_EQ(seen.sum("inferloop_latest_result_age_seconds"), 0.25);
  EXPECT_EQ(seen.sum("inferloop_latest_result_feature_seq"), static_cast<double>(seq));
}

TEST(RenderMetrics, NoServerWithoutMetricsListen) {
  MetricsFixture f(fake_config(1));
  f.loop->start();
  EXPECT_EQ(metrics_url(*f.loop), "");
}

}  // namespace
}  // namespace inferloop
