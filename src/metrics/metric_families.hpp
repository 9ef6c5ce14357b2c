// The loop's Prometheus metrics, as metric families computed from one
// LoopObservation (src/loop/loop_observation.hpp) when a scrape or
// render_metrics() asks. docs/metrics.md lists every metric; this file is
// where they are defined, and the two are kept in step by a test.
//
// Naming follows Prometheus' conventions: an `inferloop_` prefix, base units
// (seconds), `_total` on counters, fixed histogram buckets
// (latency_buckets.hpp). Every metric carries `deployment_name` (the
// config's, or kDefaultDeploymentName when it is unset or empty) and
// `predictor` (predictor_class_name); per-replica counters and histograms
// add `replica` ("0", "1", ...), because that is how the loop keeps them
// (one writer thread each) and a slow replica is worth seeing.
//
// Pure function of the observation; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "loop/loop_observation.hpp"

namespace inferloop::detail {

// The deployment_name label of a loop whose config leaves deployment_name
// unset or empty. Two such loops in one process would share their series:
// name them.
inline constexpr std::string_view kDefaultDeploymentName = "default";

[[nodiscard]] std::vector<prometheus::MetricFamily> metric_families(const LoopObservation& seen);

// The same in the Prometheus text exposition format 0.0.4 (prometheus-cpp's
// TextSerializer), as /metrics serves it and render_metrics() returns it.
[[nodiscard]] std::string metrics_text(const LoopObservation& seen);

}  // namespace inferloop::detail
