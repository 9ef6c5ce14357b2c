// MetricsServer: see metrics_server.hpp.
#include "metrics/metrics_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <exception>
#include <string_view>
#include <thread>
#include <utility>

#include "inferloop/error.hpp"
#include "inferloop/metrics.hpp"
#include "loop/thread_name.hpp"
#include "metrics/metric_families.hpp"
#include "util/listen_address.hpp"

namespace inferloop::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(30);
// After a failed accept (no file descriptors left, ...), wait before the next.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

http::response<http::string_body> answer(const http::request<http::string_body>& request,
                                         const MetricsServer::Observe& observe) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  const std::string_view target(request.target().data(), request.target().size());
  const bool metrics_path = target == "/metrics" || target.starts_with("/metrics?");
  if (!metrics_path) {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = "inferloop serves its metrics at /metrics only\n";
  } else if (request.method() != http::verb::get) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET");
  } else {
    try {
      response.body() = metrics_text(observe());
      response.result(http::status::ok);
      response.set(http::field::content_type,
                   beast::string_view(kMetricsContentType.data(), kMetricsContentType.size()));
    } catch (const std::exception& error) {
      // Observing allocates; nothing else throws.
      response.result(http::status::internal_server_error);
      response.body() = std::string("inferloop could not render its metrics: ") + error.what() + "\n";
    }
  }
  response.prepare_payload();
  return response;
}

// One client connection: read a request, answer it, and again while the
// client keeps the connection alive. Owned by its pending handler.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const MetricsServer::Observe& observe)
      : stream_(std::move(socket)), observe_(observe) {}

  void read() {
    request_ = {};
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

 private:
  void on_read(beast::error_code error) {
    // The client closed, sent something that is not HTTP, or timed out.
    if (error) return close();
    response_ = answer(request_, observe_);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code error, std::size_t) {
                        self->on_write(error);
                      });
  }

  void on_write(beast::error_code error) {
    if (error || !response_.keep_alive()) return close();
    read();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  const MetricsServer::Observe& observe_;
};

// What a failed bind means, in words a user can act on.
std::string why(const beast::error_code& error, const ListenAddress& address) {
  std::string reason = error.message();
  if (error == asio::error::address_in_use) reason += ": something listens there already";
  if (error == boost::system::errc::address_not_available) {
    reason += ": " + address.host + " is not an address of this machine";
  }
  if (error == asio::error::access_denied) reason += ": ports below 1024 need privileges";
  return reason;
}

}  // namespace

// Member order matters: the io_context goes before `observe` (its pending
// handlers hold sessions that use it) and after nothing it serves.
struct MetricsServer::Serving {
  explicit Serving(Observe observe_loop) : observe(std::move(observe_loop)) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (error) {
        retry.expires_after(kAcceptRetry);
        retry.async_wait([this](beast::error_code waited) {
          if (!waited) accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(socket), observe)->read();
      accept();
    });
  }

  void run() noexcept {
    name_this_thread("inferloop-metric");
    // A handler that throws (only an allocation can) drops its connection;
    // serving goes on until stop().
    for (;;) {
      try {
        io.run();
        return;
      } catch (...) {
      }
    }
  }

  const Observe observe;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer retry{io};
  std::thread thread;
};

MetricsServer::MetricsServer(const std::string& listen, Observe observe)
    : serving_(std::make_unique<Serving>(std::move(observe))) {
  const ListenAddress address = parse_listen_address(listen, "metrics_listen");
  const tcp::endpoint endpoint(
      asio::ip::make_address_v4(address.host == "localhost" ? "127.0.0.1" : address.host),
      address.port);
  tcp::acceptor& acceptor = serving_->acceptor;
  beast::error_code error;
  acceptor.open(endpoint.protocol(), error);
  // A restarted engine can listen again at once, while the old connections
  // sit in TIME_WAIT; a socket that listens there still refuses the bind.
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    throw Error("metrics_listen " + address.text() + ": cannot serve metrics there (" +
                why(error, address) +
                "); choose another HOST:PORT (port 0 takes any free port) or leave "
                "metrics_listen empty");
  }
  url_ = "http://" + address.host + ":" + std::to_string(acceptor.local_endpoint().port()) + "/metrics";
  serving_->accept();
  serving_->thread = std::thread([serving = serving_.get()] { serving->run(); });
}

MetricsServer::~MetricsServer() {
  serving_->io.stop();
  serving_->thread.join();
}

}  // namespace inferloop::detail
