// Prometheus metrics of an InferenceLoop: counters, latency histograms and
// gauges (the serving model, busy replicas, the age of the newest result),
// every one listed in docs/metrics.md.
//
// Two ways to expose them:
//   - set metrics_listen in the config ("127.0.0.1:9464"): a started loop
//     serves them at http://HOST:PORT/metrics on a thread of its own until
//     stop(); metrics_url() says where.
//   - an engine that already runs an HTTP server serves render_metrics(loop)
//     with kMetricsContentType at a path of its choosing.
//
// Either way the metrics are computed when they are asked for, from the
// counters and histograms the loop keeps per thread anyway: recording stays
// wait-free and allocation-free, and nothing is added to the hot path. The
// caller pays for rendering: about half a millisecond and 15 kB of text per
// scrape of a one-replica loop on the machine of docs/metrics.md.
//
// Threads: both functions from any thread, at any time, also before start()
// (zero counters) and after stop() (the final ones).
#pragma once

#include <string>
#include <string_view>

#include "inferloop/inference_loop.hpp"

namespace inferloop {

// The loop's metrics in the Prometheus text exposition format 0.0.4.
[[nodiscard]] std::string render_metrics(const InferenceLoop& loop);

// The Content-Type to serve render_metrics() with.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// "http://127.0.0.1:9464/metrics" while the loop serves its metrics itself
// (metrics_listen set, the loop running; port 0 resolved to the port the
// system chose), else "".
[[nodiscard]] std::string metrics_url(const InferenceLoop& loop);

}  // namespace inferloop
