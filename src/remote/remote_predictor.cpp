// RemoteEndpoints (endpoint health and routing), the remote Predictor and the
// factories registered as KServeV2Predictor, MlflowScoringPredictor and
// RayServePredictor.
//
// Lifecycle: the constructor probes every endpoint once, then starts the
// health-check thread: a Boost.Asio io_context whose steady_timer fires every
// health_check_interval and probes every endpoint with the thread's own
// HttpClient. The destructor stops the io_context and joins the thread. A
// probe is bounded by connect_timeout + request_timeout, so a stop waits at
// most that long.
#include "inferloop/remote.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "inferloop/error.hpp"
#include "remote/http_client.hpp"
#include "remote/wire_format.hpp"

namespace inferloop {

std::string_view to_string(RemoteProtocol protocol) noexcept {
  switch (protocol) {
    case RemoteProtocol::kKServeV2:
      return "KServe v2";
    case RemoteProtocol::kMlflowScoring:
      return "MLflow scoring";
    case RemoteProtocol::kRayServe:
      return "Ray Serve";
  }
  return "unknown";
}

namespace {

// What a failed attempt means for the endpoint.
enum class Failure {
  kNone,
  kEndpoint,  // refused, reset, timed out, 502/503/504: take it out, try another
  kRequest,   // any other HTTP error or a bad answer: the request's fault
};

struct Endpoint {
  explicit Endpoint(std::string base_url) : url(std::move(base_url)) {}

  const std::string url;
  // Written by replicas (false, after a failure) and the health-check thread
  // (either way). Relaxed is enough: it only steers routing, it publishes no
  // other data.
  std::atomic<bool> healthy{false};
  // Incremented/decremented by replica threads around each request; relaxed,
  // it is a bound, not a synchronisation point.
  std::atomic<std::uint32_t> in_flight{0};
  // Counters: relaxed, read only for status().
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> taken_out{0};
  std::atomic<std::uint64_t> put_back{0};
  mutable std::mutex error_mutex;
  std::string last_error;  // guarded by error_mutex
};

}  // namespace

class RemoteEndpoints::Impl {
 public:
  explicit Impl(RemoteOptions options) : options_(std::move(options)), timer_(io_) {
    validate();
    for (const std::string& url : options_.endpoints) {
      endpoints_.push_back(std::make_unique<Endpoint>(url));
    }
    probe_client_.emplace(options_.connect_timeout, options_.request_timeout);
    if (check_now() == 0) {
      std::string why;
      for (const auto& endpoint : endpoints_) {
        std::lock_guard lock(endpoint->error_mutex);
        why += "\n  " + endpoint->url + ": " + endpoint->last_error;
      }
      throw Error("no " + std::string(to_string(options_.protocol)) +
                  " endpoint is ready (every readiness check failed):" + why +
                  "\nstart the server(s) or fix `endpoints` in the config");
    }
    schedule_health_check();
    health_thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    io_.stop();
    if (health_thread_.joinable()) health_thread_.join();
  }

  const RemoteOptions& options() const noexcept { return options_; }

  std::size_t check_now() {
    std::lock_guard lock(probe_mutex_);
    std::size_t healthy = 0;
    for (const auto& endpoint : endpoints_) {
      const std::optional<std::string> problem = probe(*endpoint);
      if (!problem) {
        if (!endpoint->healthy.exchange(true, std::memory_order_relaxed) && probed_once_) {
          endpoint->put_back.fetch_add(1, std::memory_order_relaxed);
        }
        ++healthy;
      } else {
        set_error(*endpoint, *problem);
        if (endpoint->healthy.exchange(false, std::memory_order_relaxed)) {
          endpoint->taken_out.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    probed_once_ = true;
    return healthy;
  }

  std::vector<EndpointStatus> status() const {
    std::vector<EndpointStatus> out;
    for (const auto& endpoint : endpoints_) {
      EndpointStatus status;
      status.url = endpoint->url;
      status.healthy = endpoint->healthy.load(std::memory_order_relaxed);
      status.requests = endpoint->requests.load(std::memory_order_relaxed);
      status.failures = endpoint->failures.load(std::memory_order_relaxed);
      status.taken_out = endpoint->taken_out.load(std::memory_order_relaxed);
      status.put_back = endpoint->put_back.load(std::memory_order_relaxed);
      status.in_flight = endpoint->in_flight.load(std::memory_order_relaxed);
      std::lock_guard lock(endpoint->error_mutex);
      status.last_error = endpoint->last_error;
      out.push_back(std::move(status));
    }
    return out;
  }

  std::size_t num_outputs(detail::HttpClient& client) {
    std::lock_guard lock(outputs_mutex_);
    if (num_outputs_ == 0) {
      num_outputs_ = options_.num_outputs;
      if (num_outputs_ == 0) {
        // One row of zeros: every server accepts it (not all accept null).
        const std::vector<float> row(options_.num_features, 0.0F);
        std::vector<float> answer;
        predict(client, 0, row, 1, answer);
        if (answer.empty()) {
          throw Error("the " + std::string(to_string(options_.protocol)) +
                      " server answered no values for one row; set num_outputs explicitly");
        }
        num_outputs_ = answer.size();
      }
    }
    return num_outputs_;
  }

  // Predicts on the replica's home endpoint, failing over to the next healthy
  // ones. `values` gets every number of the answer. Throws inferloop::Error.
  void predict(detail::HttpClient& client, std::size_t replica_id, std::span<const float> features,
               std::size_t rows, std::vector<float>& values) {
    thread_local std::string body;
    thread_local detail::HttpResponse response;
    body = detail::encode_request(options_, features, rows);
    const std::size_t count = endpoints_.size();
    const std::size_t home = replica_id % count;
    std::string failures;
    for (std::size_t step = 0; step < count; ++step) {
      Endpoint& endpoint = *endpoints_[(home + step) % count];
      if (!endpoint.healthy.load(std::memory_order_relaxed)) {
        failures += "\n  " + endpoint.url + ": out of rotation (" + last_error(endpoint) + ")";
        continue;
      }
      if (endpoint.in_flight.fetch_add(1, std::memory_order_relaxed) >=
          options_.max_in_flight_per_endpoint) {
        endpoint.in_flight.fetch_sub(1, std::memory_order_relaxed);
        failures += "\n  " + endpoint.url + ": at max_in_flight_per_endpoint (" +
                    std::to_string(options_.max_in_flight_per_endpoint) + ")";
        continue;
      }
      const std::string url = detail::predict_url(options_, endpoint.url);
      endpoint.requests.fetch_add(1, std::memory_order_relaxed);
      client.post_json(url, body, response);
      endpoint.in_flight.fetch_sub(1, std::memory_order_relaxed);

      std::string problem;
      Failure failure = Failure::kNone;
      if (!response.transport_error.empty()) {
        problem = "POST " + url + " failed: " + response.transport_error;
        failure = Failure::kEndpoint;
      } else if (response.status != 200) {
        problem = "POST " + url + " answered HTTP " + std::to_string(response.status) + ": " +
                  detail::server_message(response.body);
        failure = (response.status == 502 || response.status == 503 || response.status == 504)
                      ? Failure::kEndpoint
                      : Failure::kRequest;
      } else {
        try {
          detail::decode_response(options_.protocol, response.body, url, values);
          return;
        } catch (const Error& error) {
          problem = error.what();
          failure = Failure::kRequest;
        }
      }
      endpoint.failures.fetch_add(1, std::memory_order_relaxed);
      set_error(endpoint, problem);
      if (failure == Failure::kRequest) {
        throw Error(problem + " (" + std::to_string(rows) + " row(s) of " +
                    std::to_string(options_.num_features) +
                    " features; check that the server serves this model)");
      }
      if (endpoint.healthy.exchange(false, std::memory_order_relaxed)) {
        endpoint.taken_out.fetch_add(1, std::memory_order_relaxed);
      }
      failures += "\n  " + problem + " (taken out of rotation)";
    }
    throw Error("no healthy " + std::string(to_string(options_.protocol)) +
                " endpoint could predict:" + failures +
                "\nthe health check puts an endpoint back once it answers its readiness URL");
  }

 private:
  void validate() const {
    const std::string what = std::string(to_string(options_.protocol)) + " remote predictor: ";
    if (options_.endpoints.empty()) {
      throw Error(what + "no endpoints; set `endpoints: [\"http://host:port\"]` in the config "
                         "(or RemoteOptions::endpoints)");
    }
    for (const std::string& url : options_.endpoints) {
      if (!url.starts_with("http://") && !url.starts_with("https://")) {
        throw Error(what + "endpoint \"" + url +
                    "\" is not an http:// or https:// URL, e.g. \"http://10.0.0.5:8080\"");
      }
    }
    if (options_.protocol != RemoteProtocol::kMlflowScoring && options_.model_name.empty()) {
      throw Error(what + "no model name; set `deployment_name` in the config (the " +
                  (options_.protocol == RemoteProtocol::kKServeV2
                       ? "model's name on the v2 server"
                       : "Ray Serve route prefix, without slashes") +
                  ")");
    }
    if (options_.num_features == 0) {
      throw Error(what + "the number of features is unknown; set `num_features` in the config "
                         "(or point model_uri at an MLflow model folder with a signature)");
    }
    if (!options_.feature_names.empty() && options_.feature_names.size() != options_.num_features) {
      throw Error(what + std::to_string(options_.feature_names.size()) + " feature names for " +
                  std::to_string(options_.num_features) + " features; give one name per feature");
    }
    if (options_.max_in_flight_per_endpoint == 0) {
      throw Error(what + "max_in_flight_per_endpoint is 0; it must be at least 1");
    }
    if (options_.health_check_interval.count() <= 0) {
      throw Error(what + "health_check_interval must be positive");
    }
  }

  // Nothing when every readiness URL answers 200, else why not.
  std::optional<std::string> probe(Endpoint& endpoint) {
    for (const std::string& url : detail::readiness_urls(options_, endpoint.url)) {
      probe_client_->get(url, probe_response_);
      if (!probe_response_.transport_error.empty()) {
        return "GET " + url + " failed: " + probe_response_.transport_error;
      }
      if (probe_response_.status != 200) {
        return "GET " + url + " answered HTTP " + std::to_string(probe_response_.status) + ": " +
               detail::server_message(probe_response_.body);
      }
    }
    return std::nullopt;
  }

  void schedule_health_check() {
    timer_.expires_after(options_.health_check_interval);
    timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;  // cancelled: stopping
      check_now();
      schedule_health_check();
    });
  }

  static std::string last_error(const Endpoint& endpoint) {
    std::lock_guard lock(endpoint.error_mutex);
    return endpoint.last_error.empty() ? "readiness check failed" : endpoint.last_error;
  }

  static void set_error(Endpoint& endpoint, const std::string& problem) {
    std::lock_guard lock(endpoint.error_mutex);
    endpoint.last_error = problem;
  }

  const RemoteOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;  // fixed after construction

  // Probes run on the health-check thread and in check_now() callers; one at a time.
  std::mutex probe_mutex_;
  std::optional<detail::HttpClient> probe_client_;  // guarded by probe_mutex_
  detail::HttpResponse probe_response_;             // guarded by probe_mutex_
  bool probed_once_ = false;                        // guarded by probe_mutex_

  std::mutex outputs_mutex_;
  std::size_t num_outputs_ = 0;  // guarded by outputs_mutex_

  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;  // used only on the health-check thread after start
  std::thread health_thread_;
};

RemoteEndpoints::RemoteEndpoints(RemoteOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
RemoteEndpoints::~RemoteEndpoints() = default;
const RemoteOptions& RemoteEndpoints::options() const noexcept { return impl_->options(); }
std::vector<EndpointStatus> RemoteEndpoints::status() const { return impl_->status(); }
std::size_t RemoteEndpoints::check_now() { return impl_->check_now(); }

std::size_t RemoteEndpoints::num_outputs() {
  detail::HttpClient client(impl_->options().connect_timeout, impl_->options().request_timeout);
  return impl_->num_outputs(client);
}

namespace {

class RemotePredictor final : public Predictor {
 public:
  RemotePredictor(std::shared_ptr<RemoteEndpoints> endpoints, std::size_t replica_id)
      : endpoints_(std::move(endpoints)),
        replica_id_(replica_id),
        client_(endpoints_->options().connect_timeout, endpoints_->options().request_timeout),
        num_outputs_(endpoints_->impl().num_outputs(client_)) {}

  std::size_t num_features() const noexcept override {
    return endpoints_->options().num_features;
  }
  std::size_t num_outputs() const noexcept override { return num_outputs_; }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    endpoints_->impl().predict(client_, replica_id_, features, rows, answer_);
    if (answer_.size() != out.size()) {
      throw Error("the " + std::string(to_string(endpoints_->options().protocol)) +
                  " server answered " + std::to_string(answer_.size()) + " values for " +
                  std::to_string(rows) + " row(s), expected " + std::to_string(out.size()) +
                  " (" + std::to_string(num_outputs_) +
                  " per row); do all endpoints serve the same model?");
    }
    std::copy(answer_.begin(), answer_.end(), out.begin());
  }

  // A row of zeros rather than NaN: it opens this replica's connection, and
  // not every protocol can carry a missing value.
  void warm_up() override {
    const std::vector<float> row(num_features(), 0.0F);
    std::vector<float> scratch(num_outputs_);
    predict(row, 1, scratch);
  }

  std::string describe() const override {
    const RemoteOptions& options = endpoints_->options();
    std::string out = std::string(to_string(options.protocol)) + " remote predictor";
    if (!options.model_name.empty()) out += " '" + options.model_name + "'";
    out += " on";
    for (const std::string& url : options.endpoints) out += " " + url;
    return out + " (replica " + std::to_string(replica_id_) + ")";
  }

 private:
  std::shared_ptr<RemoteEndpoints> endpoints_;
  std::size_t replica_id_;
  detail::HttpClient client_;  // this replica's keep-alive connection(s)
  std::size_t num_outputs_;
  std::vector<float> answer_;  // reused: keeps its capacity
};

}  // namespace

std::unique_ptr<Predictor> make_remote_predictor(std::shared_ptr<RemoteEndpoints> endpoints,
                                                 std::size_t replica_id) {
  if (!endpoints) throw Error("make_remote_predictor: endpoints is null");
  return std::make_unique<RemotePredictor>(std::move(endpoints), replica_id);
}

PredictorFactory remote_predictor_factory(RemoteProtocol protocol) {
  return [protocol](const PredictorContext& context) -> std::unique_ptr<Predictor> {
    std::shared_ptr<RemoteEndpoints> endpoints;
    {
      std::lock_guard lock(context.shared.mutex);
      std::shared_ptr<void>& entry = context.shared.entries["inferloop.remote_endpoints"];
      if (!entry) {
        const InferenceConfig& config = context.config;
        RemoteOptions options;
        options.protocol = protocol;
        options.endpoints = config.endpoints;
        options.model_name = config.deployment_name.value_or("");
        options.num_features = config.num_features != 0 ? config.num_features
                                                        : context.model.signature_inputs.size();
        for (const SignatureColumn& column : context.model.signature_inputs) {
          options.feature_names.push_back(column.name);
        }
        entry = std::make_shared<RemoteEndpoints>(std::move(options));
      }
      endpoints = std::static_pointer_cast<RemoteEndpoints>(entry);
    }
    return make_remote_predictor(std::move(endpoints), context.replica_id);
  };
}

}  // namespace inferloop
