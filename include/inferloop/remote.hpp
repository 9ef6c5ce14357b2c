// Remote predictors: the loop's replicas predict on a serving engine that
// already runs elsewhere (KServe v2 / Open Inference REST servers such as
// MLServer or Triton, MLflow's scoring server, Ray Serve HTTP deployments)
// instead of in this process. Same loop, same latest-result rule, same counters.
//
// Two ways in:
//   - YAML: `predictor_class_name: KServeV2Predictor` (or MlflowScoringPredictor,
//     RayServePredictor) plus `endpoints: [...]`; `deployment_name` names the
//     model on the server (v2 model name, Ray Serve route). The factories are
//     registered in PredictorRegistry::global().
//   - C++: build a RemoteEndpoints from RemoteOptions, register a factory that
//     calls make_remote_predictor() with it, and read its status() for
//     per-endpoint counters.
//
// Lifecycle: RemoteEndpoints probes every endpoint once in its constructor,
// then owns one health-check thread (a Boost.Asio timer) until it is
// destroyed. Predictors hold it by shared_ptr, so it lives as long as the
// loop's replicas do.
//
// Threads: a predictor made by make_remote_predictor() is used by one replica
// thread (the Predictor contract). It makes one blocking HTTP request at a
// time on its own keep-alive connection: a replica has one prediction in
// flight by construction, so an asynchronous client would add a hand-off
// without adding concurrency; the loop's other replicas run on their own
// threads meanwhile. RemoteEndpoints::status() and check_now() may be called
// from any thread.
//
// Routing: replica i uses endpoint i % endpoints.size() while that endpoint is
// healthy and below max_in_flight_per_endpoint; otherwise the next healthy one
// in order. A transport failure (refused, reset, timeout) or HTTP 502/503/504
// takes an endpoint out of rotation and the same prediction is retried on the
// next healthy endpoint; the health-check thread puts it back once its
// readiness URL answers 200 again. Any other HTTP error is the request's
// fault, not the endpoint's: predict() throws at once.
//
// Numbers: a feature float is sent as the decimal form of its exact double
// widening (JSON has only one number type), so a server that parses it as a
// double and casts to float32 gets the very same float32. Answers are parsed
// as double and cast to float, which is exact for any float32 the server
// wrote as a Python float. NaN (a missing feature) is sent as JSON null; the
// KServe v2 protocol has no missing value for FP32: MLServer reads null as NaN
// (tested), other v2 servers may refuse it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/predictor.hpp"

namespace inferloop {

enum class RemoteProtocol {
  kKServeV2,       // POST /v2/models/<model_name>/infer; ready: /v2/health/ready, /v2/models/<m>/ready
  kMlflowScoring,  // POST /invocations {"dataframe_split": ...}; ready: /ping
  kRayServe,       // POST /<model_name>/ {"array": [[...]]}; ready: /-/healthz
};

struct RemoteOptions {
  RemoteProtocol protocol = RemoteProtocol::kKServeV2;
  // Base URLs, e.g. "http://10.0.0.5:8080" (a path prefix is kept). At least one.
  std::vector<std::string> endpoints;
  // KServe v2: the model's name on the server. Ray Serve: the route prefix
  // without slashes. MLflow: unused.
  std::string model_name;
  // Features per row. Required (> 0).
  std::size_t num_features = 0;
  // Values per row the server answers; 0 = ask the server once (a row of zeros).
  std::size_t num_outputs = 0;
  // MLflow dataframe_split column names (the model signature's); empty = send
  // no column names.
  std::vector<std::string> feature_names;
  std::chrono::milliseconds connect_timeout{500};
  // Whole request, connection included.
  std::chrono::milliseconds request_timeout{2000};
  // How often the health-check thread probes every endpoint.
  std::chrono::milliseconds health_check_interval{200};
  // Requests one endpoint may have in flight from this process; a replica whose
  // endpoint is full goes to the next healthy one. >= 1.
  std::size_t max_in_flight_per_endpoint = 8;
};

// A snapshot of one endpoint's state and counters.
struct EndpointStatus {
  std::string url;
  bool healthy = false;
  std::uint64_t requests = 0;   // predictions sent to it
  std::uint64_t failures = 0;   // requests that failed (transport or HTTP error)
  std::uint64_t taken_out = 0;  // times it was taken out of rotation
  std::uint64_t put_back = 0;   // times the health check put it back
  std::uint32_t in_flight = 0;
  std::string last_error;       // empty when it never failed
};

[[nodiscard]] std::string_view to_string(RemoteProtocol protocol) noexcept;

class RemoteEndpoints {
 public:
  // Validates the options and probes every endpoint's readiness (blocking, at
  // most connect_timeout + request_timeout each). Throws inferloop::Error for
  // bad options, or when no endpoint is ready (naming each URL and why).
  explicit RemoteEndpoints(RemoteOptions options);
  ~RemoteEndpoints();  // stops and joins the health-check thread
  RemoteEndpoints(const RemoteEndpoints&) = delete;
  RemoteEndpoints& operator=(const RemoteEndpoints&) = delete;

  [[nodiscard]] const RemoteOptions& options() const noexcept;
  // Values per row; asks the server once when options().num_outputs is 0.
  // Throws inferloop::Error when no endpoint can answer.
  [[nodiscard]] std::size_t num_outputs();
  [[nodiscard]] std::vector<EndpointStatus> status() const;
  // Probes every endpoint now, as the health-check thread does; returns how
  // many are healthy.
  std::size_t check_now();

  class Impl;  // src/remote/
  [[nodiscard]] Impl& impl() noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// A predictor for one loop replica on `endpoints`. Throws inferloop::Error
// when the number of outputs cannot be learnt (see num_outputs()).
[[nodiscard]] std::unique_ptr<Predictor> make_remote_predictor(
    std::shared_ptr<RemoteEndpoints> endpoints, std::size_t replica_id);

// The factory behind the registered names: RemoteOptions from the config
// (endpoints, deployment_name, num_features or the MLmodel signature), one
// RemoteEndpoints shared by all replicas of a start().
[[nodiscard]] PredictorFactory remote_predictor_factory(RemoteProtocol protocol);

}  // namespace inferloop
