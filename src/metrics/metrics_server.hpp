// MetricsServer: serves a loop's Prometheus metrics at http://HOST:PORT/metrics
// (the config's metrics_listen) from one thread of its own, for as long as it
// exists.
//
// Why Boost.Beast and not prometheus-cpp's Exposer: the exposer's civetweb
// server polls its listening socket with a two-second timeout, so stopping
// it (and with it loop.stop()) took up to two seconds, and it adds metrics of
// its own in microseconds. Beast (header-only, already built with Asio) does
// the HTTP, prometheus-cpp's TextSerializer the text format, and stopping is
// one io_context::stop() and a join. What keeps the hot path clean is not
// the server but where the numbers come from: nothing is ever registered
// with a prometheus::Registry or incremented per prediction; each scrape
// observes the loop's own per-thread counters (metric_families.hpp).
//
// HTTP: GET (or HEAD) /metrics answers 200 with the text format; any other
// path 404, any other method 405. Connections are kept alive for the next
// scrape; a connection idle for 30 s, or a request not read within 30 s, is
// closed. Requests are served one at a time, in the order they come.
//
// Lifecycle: the constructor listens at once (throws inferloop::Error naming
// the address and the reason when it cannot) and starts the thread; the
// destructor stops serving (a scrape being rendered finishes first) and
// joins it. The owner (the loop's facade) destroys it before anything
// `observe` reads.
//
// Threads: construct and destroy from one owner thread; url() from any.
// `observe` runs on the server's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "loop/loop_observation.hpp"

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
  struct Serving;  // the io_context, the acceptor and the thread (metrics_server.cpp)
  std::unique_ptr<Serving> serving_;
  std::string url_;
};

}  // namespace inferloop::detail
