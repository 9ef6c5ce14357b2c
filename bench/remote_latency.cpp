// Latency of one prediction (one row) on each path: in-process XGBoostPredictor
// (the anchor) and each remote protocol, measured in the same run.
//
//   remote_latency --model M.json --features F.csv [--requests N]
//                  [--mlflow URL] [--ray URL] [--ray-name NAME] [--v2 URL] [--v2-name NAME]
//
// Prints, per path: p50, p99, mean (microseconds) and p50 relative to the
// anchor. The servers come from tests/python/remote_fixtures.py start; see
// docs/scaling.md for the exact commands. Each call is Predictor::predict(),
// the hop a loop replica makes; the loop adds the same hand-off to every path.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/predictor.hpp"
#include "inferloop/remote.hpp"

namespace {

using inferloop::Predictor;

std::vector<std::vector<float>> read_rows(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw inferloop::Error("cannot open features file " + path);
  std::vector<std::vector<float>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<float> row;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) {
      row.push_back(cell == "nan" ? std::numeric_limits<float>::quiet_NaN()
                                  : static_cast<float>(std::strtod(cell.c_str(), nullptr)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Summary {
  double p50_us, p99_us, mean_us;
};

Summary measure(Predictor& predictor, const std::vector<std::vector<float>>& rows, int requests) {
  float out = 0;
  for (int i = 0; i < 50; ++i) predictor.predict(rows[i % rows.size()], 1, {&out, 1});  // warm
  std::vector<double> micros(requests);
  for (int i = 0; i < requests; ++i) {
    const auto start = std::chrono::steady_clock::now();
    predictor.predict(rows[i % rows.size()], 1, {&out, 1});
    micros[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }
  double sum = 0;
  for (double value : micros) sum += value;
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 99 / 100], sum / requests};
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  if (!args.contains("--model") || !args.contains("--features")) {
    std::fprintf(stderr, "usage: remote_latency --model M.json --features F.csv [--requests N] "
                         "[--mlflow URL] [--ray URL] [--ray-name NAME] [--v2 URL] [--v2-name NAME]\n");
    return 2;
  }
  try {
    const auto rows = read_rows(args["--features"]);
    const int requests = args.contains("--requests") ? std::stoi(args["--requests"]) : 3000;
    inferloop::InferenceConfig config;
    config.model_uri = args["--model"];
    const inferloop::ResolvedModel model = inferloop::resolve_model(config.model_uri);
    inferloop::SharedPredictorState shared;
    auto local = inferloop::PredictorRegistry::global().create("XGBoostPredictor",
                                                                {config, model, 0, shared});
    std::printf("%-28s %10s %10s %10s %12s\n", "path", "p50_us", "p99_us", "mean_us", "p50/anchor");
    const Summary anchor = measure(*local, rows, requests);
    std::printf("%-28s %10.1f %10.1f %10.1f %12.1f\n", "in-process XGBoostPredictor",
                anchor.p50_us, anchor.p99_us, anchor.mean_us, 1.0);
    auto remote = [&](const char* label, inferloop::RemoteProtocol protocol, const std::string& url,
                      const std::string& name) {
      inferloop::RemoteOptions options;
      options.protocol = protocol;
      options.endpoints = {url};
      options.model_name = name;
      options.num_features = rows.front().size();
      if (protocol == inferloop::RemoteProtocol::kMlflowScoring) {
        for (std::size_t i = 0; i < options.num_features; ++i) {
          options.feature_names.push_back("f" + std::to_string(i));
        }
      }
      auto predictor = inferloop::make_remote_predictor(
          std::make_shared<inferloop::RemoteEndpoints>(options), 0);
      const Summary summary = measure(*predictor, rows, requests);
      std::printf("%-28s %10.1f %10.1f %10.1f %12.1f\n", label, summary.p50_us, summary.p99_us,
                  summary.mean_us, summary.p50_us / anchor.p50_us);
    };
    if (args.contains("--mlflow")) {
      remote("MLflow scoring (remote)", inferloop::RemoteProtocol::kMlflowScoring, args["--mlflow"], "");
    }
    if (args.contains("--ray")) {
      remote("Ray Serve (remote)", inferloop::RemoteProtocol::kRayServe, args["--ray"],
             args.contains("--ray-name") ? args["--ray-name"] : "xgb");
    }
    if (args.contains("--v2")) {
      remote("KServe v2 (remote)", inferloop::RemoteProtocol::kKServeV2, args["--v2"],
             args.contains("--v2-name") ? args["--v2-name"] : "xgb");
    }
    std::printf("requests per path: %d, one row of %zu features each\n", requests, rows.front().size());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "remote_latency: error: %s\n", error.what());
    return 1;
  }
  return 0;
}
