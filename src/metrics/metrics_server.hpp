// MetricsServer: serves a loop's Prometheus metrics at http://HOST:PORT/metrics
// (the config's metrics_listen) from its own threads, for as long as it exists.
//
// Why prometheus-cpp's Exposer and not a Boost.Beast server of our own: the
// client library already has the HTTP side (civetweb, gzip when asked) and
// the text format with its escaping; writing them again would be a copy.
// What keeps the hot path clean is how we use it: nothing is registered with
// a prometheus::Registry and no prometheus::Counter or Histogram is ever
// touched per prediction (their Increment and Observe take a lock or a CAS
// loop). Instead one Collectable is called per scrape, on the exposer's
// thread, and computes every metric from a LoopObservation of the loop's own
// per-thread counters (metric_families.hpp). The exposer adds its own
// exposer_* metrics (scrapes served, bytes, its request latency).
//
// Lifecycle: the constructor listens at once (throws inferloop::Error, naming
// the address and the reason, when it cannot); the destructor stops serving,
// waiting for a scrape in progress, and joins the exposer's threads. The
// owner (the loop's facade) destroys it before anything `observe` reads.
//
// Threads: construct and destroy from one owner thread; url() from any.
// `observe` is called on the exposer's threads, possibly two at once.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "loop/loop_observation.hpp"

namespace prometheus {
class Collectable;
class Exposer;
}  // namespace prometheus

namespace inferloop::detail {

class MetricsServer {
 public:
  using Observe = std::function<LoopObservation()>;

  // `listen`: a listen address (util/listen_address.hpp), e.g. "127.0.0.1:9464".
  MetricsServer(const std::string& listen, Observe observe);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "http://127.0.0.1:9464/metrics", with the port the system chose for port 0.
  [[nodiscard]] const std::string& url() const noexcept { return url_; }

 private:
  std::shared_ptr<prometheus::Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string url_;
};

}  // namespace inferloop::detail
