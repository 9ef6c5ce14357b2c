// MetricsServer: see metrics_server.hpp.
#include "metrics/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include "inferloop/error.hpp"
#include "metrics/metric_families.hpp"
#include "util/listen_address.hpp"

namespace inferloop::detail {
namespace {

class LoopCollectable final : public prometheus::Collectable {
 public:
  explicit LoopCollectable(MetricsServer::Observe observe) : observe_(std::move(observe)) {}

  // On an exposer thread, once per scrape.
  std::vector<prometheus::MetricFamily> Collect() const override {
    // An exception must not unwind into civetweb's C code. Observing
    // allocates (labels, the newest result's copy) and nothing else throws;
    // under memory pressure that scrape shows only the exposer's metrics.
    try {
      return metric_families(observe_());
    } catch (...) {
      return {};
    }
  }

 private:
  const MetricsServer::Observe observe_;
};

// civetweb only says "possible problem binding to port"; binding a socket the
// same way tells why (in use, not this machine's address, a privileged port).
std::string why_not_listening(const ListenAddress& address) {
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_port = htons(address.port);
  const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
  if (inet_pton(AF_INET, host.c_str(), &where.sin_addr) != 1) return "not an IPv4 address";
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  if (probe < 0) return std::strerror(errno);
  std::string reason = "the HTTP server could not start";
  if (bind(probe, reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) {
    const int error = errno;
    reason = std::strerror(error);
    if (error == EADDRINUSE) reason += ": something listens there already";
    if (error == EADDRNOTAVAIL) reason += ": " + address.host + " is not an address of this machine";
    if (error == EACCES) reason += ": ports below 1024 need privileges";
  }
  close(probe);
  return reason;
}

}  // namespace

MetricsServer::MetricsServer(const std::string& listen, Observe observe)
    : collectable_(std::make_shared<LoopCollectable>(std::move(observe))) {
  const ListenAddress address = parse_listen_address(listen, "metrics_listen");
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address.text(), /*num_threads=*/2);
  } catch (const std::exception&) {
    throw Error("metrics_listen " + address.text() + ": cannot serve metrics there (" +
                why_not_listening(address) +
                "); choose another HOST:PORT (port 0 takes any free port) or leave "
                "metrics_listen empty");
  }
  exposer_->RegisterCollectable(collectable_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  const int port = ports.empty() ? address.port : ports.front();
  url_ = "http://" + address.host + ":" + std::to_string(port) + "/metrics";
}

// The exposer first: its destructor stops civetweb, which waits for a
// scrape in progress (inside collectable_) to finish.
MetricsServer::~MetricsServer() { exposer_.reset(); }

}  // namespace inferloop::detail
