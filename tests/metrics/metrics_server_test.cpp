// metrics_listen: a started loop serves its metrics over HTTP on loopback,
// stops serving with the loop, and a port it cannot listen on fails start()
// with the address and the reason.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "exposition.hpp"
#include "fake_predictor.hpp"
#include "inferloop/error.hpp"
#include "inferloop/metrics.hpp"
#include "remote/http_client.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

struct ServedLoop {
  explicit ServedLoop(const std::string& listen) {
    registry = testing::fake_registry(behaviour);
    InferenceConfig config = testing::fake_config(2);
    config.deployment_name = "served";
    config.metrics_listen = listen;
    LoopOptions options;
    options.registry = registry.get();
    options.resolver = testing::fake_model;
    loop = std::make_unique<InferenceLoop>(config, std::move(options));
  }
  testing::FakeBehaviour behaviour;
  std::unique_ptr<PredictorRegistry> registry;
  std::unique_ptr<InferenceLoop> loop;
};

detail::HttpResponse get(const std::string& url) {
  detail::HttpClient client(2000ms, 5000ms);
  detail::HttpResponse response;
  client.get(url, response);
  return response;
}

// A socket that listens on 127.0.0.1 at a port the system chose.
class Listener {
 public:
  Listener() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  [[nodiscard]] int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

TEST(MetricsServer, ServesTheRenderedMetricsWhileTheLoopRunsAndStopsWithIt) {
  ServedLoop served("127.0.0.1:0");
  EXPECT_EQ(metrics_url(*served.loop), "");  // not started
  served.loop->start();
  const std::string url = metrics_url(*served.loop);
  ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << url;
  ASSERT_TRUE(url.ends_with("/metrics")) << url;
  EXPECT_NE(url, "http://127.0.0.1:0/metrics");  // the port the system chose

  const std::vector<float> row(served.behaviour.num_features, 1.0F);
  ASSERT_TRUE(served.loop->wait_for(served.loop->features().publish(row, Timestamp{0}), 10s));
  const detail::HttpResponse response = get(url);
  ASSERT_EQ(response.status, 200) << response.transport_error;
  const testing::Exposition seen = testing::parse_exposition(response.body);
  EXPECT_TRUE(seen.problems.empty());
  EXPECT_EQ(seen.sum("inferloop_running", {{"deployment_name", "served"}}), 1);
  EXPECT_EQ(seen.sum("inferloop_snapshots_published_total"), 1);
  EXPECT_EQ(seen.sum("inferloop_predictions_total"), 1);
  // The same families render_metrics() gives an engine's own server.
  const testing::Exposition rendered = testing::parse_exposition(render_metrics(*served.loop));
  for (const auto& [family, type] : rendered.type) EXPECT_EQ(seen.type.at(family), type) << family;

  served.loop->stop();
  EXPECT_EQ(metrics_url(*served.loop), "");
  const detail::HttpResponse after = get(url);
  EXPECT_EQ(after.status, 0) << "still serving after stop()";
  EXPECT_FALSE(after.transport_error.empty());
}

TEST(MetricsServer, AnswersOnlyGetOnMetricsAndKeepsTheConnectionForTheNextScrape) {
  ServedLoop served("localhost:0");
  served.loop->start();
  const std::string url = metrics_url(*served.loop);
  ASSERT_TRUE(url.starts_with("http://localhost:")) << url;
  const std::string root = url.substr(0, url.size() - std::string("/metrics").size());
  detail::HttpClient client(2000ms, 5000ms);  // one connection, kept alive
  detail::HttpResponse response;
  client.get(url, response);
  EXPECT_EQ(response.status, 200);
  client.get(url + "?name[]=inferloop_running", response);  // a query is ignored
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("inferloop_running{"), std::string::npos);
  client.get(root + "/", response);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "inferloop serves its metrics at /metrics only\n");
  client.post_json(url, "{}", response);
  EXPECT_EQ(response.status, 405);
  client.get(url, response);
  EXPECT_EQ(response.status, 200);
}

// A connection to `port` on 127.0.0.1 that sends `bytes` and then nothing.
class RawClient {
 public:
  RawClient(int port, const std::string& bytes) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        write(fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      ADD_FAILURE() << "cannot connect to port " << port;
    }
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

 private:
  int fd_;
};

TEST(MetricsServer, ASilentOrGarbledClientDoesNotHoldUpTheNextScrape) {
  ServedLoop served("127.0.0.1:0");
  served.loop->start();
  const std::string url = metrics_url(*served.loop);
  const int port = std::stoi(url.substr(url.rfind(':') + 1));
  const RawClient silent(port, "");
  const RawClient half_a_request(port, "GET /metr");
  const RawClient garbled(port, "\x16\x03\x01 not http at all\r\n\r\n");
  EXPECT_EQ(get(url).status, 200);
}

TEST(MetricsServer, APortInUseFailsStartNamingTheAddressAndWhy) {
  const Listener taken;
  const std::string address = "127.0.0.1:" + std::to_string(taken.port());
  ServedLoop served(address);
  try {
    served.loop->start();
    FAIL() << "start() listened on a port in use";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "metrics_listen " + address + ": cannot serve metrics there (Address already in use: "
              "something listens there already); choose another HOST:PORT (port 0 takes any free "
              "port) or leave metrics_listen empty");
  }
  EXPECT_FALSE(served.loop->running());
}

TEST(MetricsServer, AnAddressNotOfThisMachineFailsStartSayingSo) {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
  ServedLoop served("192.0.2.1:9464");
  try {
    served.loop->start();
    FAIL() << "start() listened on 192.0.2.1";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("192.0.2.1 is not an address of this machine"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace inferloop
