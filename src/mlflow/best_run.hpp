// The best-run lookup behind MlflowClient::best_run() (include/inferloop/
// mlflow.hpp): an experiment's runs -> the best finished one by a metric ->
// its one model as a runs:/ URI. Split from client.cpp, which holds the
// download and cache transaction; this needs only REST calls.
//
// The ranking itself (better_run(), metric_value()) is pure and tested on its
// own (tests/mlflow/mlflow_unit_test.cpp); find_best_run() adds the REST calls
// and is tested against a real `mlflow server`.
//
// Threads: one thread at a time (the RestClient's rule).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/mlflow.hpp"
#include "mlflow/rest.hpp"

namespace inferloop::detail {

// A finished run that has the metric, as ranked.
struct RankedRun {
  std::string run_id;
  double value = 0;
  std::int64_t start_time = 0;  // ms since the epoch, as MLflow records it
};

// Whether `candidate` beats `best`: a better value, else the earlier start,
// else the smaller run id. NaN never reaches here (skipped before).
[[nodiscard]] bool better_run(const RankedRun& candidate, const RankedRun& best, MetricGoal goal) noexcept;

// A metric value as MLflow's JSON writes it: a number, or "NaN", "Infinity",
// "-Infinity" (protobuf's JSON for the values JSON lacks). nullopt for
// anything else.
[[nodiscard]] std::optional<double> metric_value(const nlohmann::json& value);

// Where find_best_run() sends its requests and trace lines.
struct BestRunLookup {
  RestClient& rest;
  std::string api;  // "<tracking URI>/api/2.0/mlflow/"
  std::function<void(std::vector<std::string>& trace, const std::string& line)> note;
};

[[nodiscard]] BestRun find_best_run(const BestRunLookup& lookup, const std::string& experiment_name,
                                    const std::string& metric, MetricGoal goal);

}  // namespace inferloop::detail
