// The loop's Prometheus metric families: see metric_families.hpp.
#include "metrics/metric_families.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <utility>

#include <prometheus/text_serializer.h>

#include "metrics/latency_buckets.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

Labels with(Labels labels, std::string name, std::string value) {
  labels.push_back({std::move(name), std::move(value)});
  return labels;
}

ClientMetric counter_sample(Labels labels, std::uint64_t value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  // Exact up to 2^53 (285 years at a million per second).
  metric.counter.value = static_cast<double>(value);
  return metric;
}

ClientMetric gauge_sample(Labels labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

ClientMetric histogram_sample(Labels labels, const LatencyHistogram& samples) {
  const LatencyHistogram* one = &samples;
  const FixedBuckets buckets = rebucket(std::span<const LatencyHistogram* const>(&one, 1));
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.histogram.sample_count = buckets.count;
  metric.histogram.sample_sum = buckets.sum_seconds;
  for (std::size_t k = 0; k < kLatencyBucketBounds.size(); ++k) {
    metric.histogram.bucket.push_back(
        {buckets.cumulative[k], static_cast<double>(kLatencyBucketBounds[k]) / 1e9});
  }
  // The serializer adds le="+Inf" with sample_count.
  return metric;
}

double seconds(std::chrono::nanoseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

class Families {
 public:
  explicit Families(const LoopObservation& seen) : seen_(seen) {
    const std::string deployment = seen.config->deployment_name.value_or("");
    common_ = {{"deployment_name", deployment.empty() ? std::string(kDefaultDeploymentName) : deployment},
               {"predictor", seen.config->predictor_class_name}};
  }

  // One loop-wide sample.
  void counter(const char* name, const char* help, std::uint64_t value) {
    add(name, help, MetricType::Counter, {counter_sample(common_, value)});
  }
  void gauge(const char* name, const char* help, double value, Labels extra = {}) {
    Labels labels = common_;
    labels.insert(labels.end(), extra.begin(), extra.end());
    add(name, help, MetricType::Gauge, {gauge_sample(std::move(labels), value)});
  }

  // One sample per replica.
  void replica_counter(const char* name, const char* help,
                       std::function<std::uint64_t(const ReplicaCounters&)> value) {
    std::vector<ClientMetric> metrics;
    for (std::size_t r = 0; r < seen_.replicas.size(); ++r) {
      metrics.push_back(counter_sample(replica_labels(r), value(*seen_.replicas[r])));
    }
    add(name, help, MetricType::Counter, std::move(metrics));
  }
  void replica_histogram(const char* name, const char* help,
                         const LatencyHistogram ReplicaCounters::*samples) {
    std::vector<ClientMetric> metrics;
    for (std::size_t r = 0; r < seen_.replicas.size(); ++r) {
      metrics.push_back(histogram_sample(replica_labels(r), seen_.replicas[r]->*samples));
    }
    add(name, help, MetricType::Histogram, std::move(metrics));
  }

  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  Labels replica_labels(std::size_t replica) const {
    return with(common_, "replica", std::to_string(replica));
  }

  // A family without samples (per-replica ones before start()) is left out.
  void add(const char* name, const char* help, MetricType type, std::vector<ClientMetric> metrics) {
    if (metrics.empty()) return;
    families_.push_back(MetricFamily{name, help, type, std::move(metrics)});
  }

  const LoopObservation& seen_;
  Labels common_;
  std::vector<MetricFamily> families_;
};

}  // namespace

std::vector<MetricFamily> metric_families(const LoopObservation& seen) {
  const LoopStats& stats = seen.stats;
  Families out(seen);

  out.counter("inferloop_snapshots_published_total",
              "Feature snapshots published to the loop (each got a feature_seq).",
              stats.snapshots_published);
  out.counter("inferloop_snapshots_rejected_total",
              "publish() calls refused for the snapshot's shape.", stats.snapshots_rejected);
  out.counter("inferloop_snapshots_dispatched_total", "Snapshots handed to a replica.",
              stats.dispatched);
  out.counter("inferloop_snapshots_conflated_total",
              "Snapshots replaced by a newer one before a replica took them (never predicted).",
              stats.conflated);
  out.counter("inferloop_snapshots_discarded_total",
              "Snapshots still pending when the loop stopped (never predicted).",
              stats.discarded_at_stop);
  out.replica_counter("inferloop_predictions_total", "Predictions that succeeded.",
                      [](const ReplicaCounters& replica) { return replica.predictions.value(); });
  out.replica_counter("inferloop_prediction_errors_total",
                      "Predictions whose predictor threw (counted, handed to on_error).",
                      [](const ReplicaCounters& replica) { return replica.errors.value(); });
  out.counter("inferloop_feature_source_errors_total",
              "Feature source calls that threw or returned a bad shape.", stats.source_errors);
  out.replica_counter(
      "inferloop_stale_results_total",
      "Results dropped because a newer one was already visible (a slow replica).",
      [](const ReplicaCounters& replica) { return replica.stale_results.value(); });
  out.counter("inferloop_history_dropped_total",
              "Results pushed out of the bounded history (history_capacity).",
              stats.history_dropped);
  out.counter("inferloop_model_swaps_total", "New models swapped in by a live reload.",
              stats.model_swaps);
  out.counter("inferloop_model_reload_failures_total",
              "Live reload attempts that failed (the old model kept serving).",
              stats.model_reload_failures);

  out.replica_histogram("inferloop_queue_wait_seconds",
                        "From publish() to a replica starting to predict the snapshot.",
                        &ReplicaCounters::queue_wait);
  out.replica_histogram("inferloop_predict_duration_seconds", "The predictor call alone.",
                        &ReplicaCounters::predict);
  out.replica_histogram("inferloop_publish_to_visible_seconds",
                        "From publish() to the result being readable by latest().",
                        &ReplicaCounters::publish_to_visible);

  out.gauge("inferloop_running", "1 while the loop runs (between start() and stop()), else 0.",
            seen.running ? 1.0 : 0.0);
  out.gauge("inferloop_replicas", "Predictor replicas configured (num_replicas).",
            static_cast<double>(seen.config->num_replicas));
  out.gauge("inferloop_replicas_busy", "Snapshots being predicted right now (busy replicas).",
            static_cast<double>(stats.in_flight));
  if (seen.model) {
    out.gauge("inferloop_model_version",
              "The loop's model_version serving new snapshots (1 at start, +1 per swap); labels: "
              "the model URI (secrets scrubbed) and its MLflow registry version.",
              static_cast<double>(seen.model->model_version),
              {{"model_uri", scrub_secrets(seen.model->model.uri)},
               {"registry_version", seen.model->model.registry_version}});
  }
  if (seen.newest) {
    // SystemClock is wall time, which may step back: an age is never negative.
    const auto age = std::max(seen.now - seen.newest->completed_at, Timestamp{0});
    out.gauge("inferloop_latest_result_age_seconds",
              "Loop clock now minus completed_at of the newest visible result (what latest() "
              "returns).",
              seconds(age));
    out.gauge("inferloop_latest_result_feature_seq",
              "feature_seq of the newest visible result.",
              static_cast<double>(seen.newest->feature_seq));
  }
  return out.take();
}

std::string metrics_text(const LoopObservation& seen) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, metric_families(seen));
  return text.str();
}

}  // namespace inferloop::detail
