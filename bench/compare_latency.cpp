// The in-process side of bench/run_compare.sh: publish-to-result latency and
// sustained throughput of one system on one model and one feature stream,
// for bench/compare/run.py to set against the reference Ray Serve loop.
//
// Systems:
//   --system=direct  XGBoosterPredictFromDense in a tight loop on this thread
//                    (reused proxy DMatrix, nthread=1, one warm-up call): the
//                    floor for XGBoostPredictor.
//   --system=loop    an InferenceLoop (--predictor, --replicas, --wait); the
//                    engine thread publishes a snapshot into features() and
//                    polls latest_feature_seq() until its result is visible.
//
// Each snapshot is the next --rows rows of the feature stream (--features, a
// raw little-endian float32 file of rows x model features, written by
// run.py), so every system sees the same values in the same order.
//
// Phases, in this order:
//   latency     one snapshot in flight at a time; each publish-to-visible (or
//               each direct call) timed with steady_clock, until --samples
//               samples or --latency-seconds, whichever comes first.
//   throughput  --throughput-seconds of saturation: direct calls back to back;
//               for a loop, the engine publishes a new snapshot continuously
//               (yielding the core after each publish, as an engine thread on
//               a busy machine would) and we count the predictions the loop
//               completed. Snapshots it conflated are not predictions.
//
// Output: the raw latency samples (float64 microseconds) to --samples-out,
// the predictions of the first snapshots to --predictions-out (float32, so
// run.py can check every system serves the same model), and one JSON object
// on stdout. `--list-predictors` prints PredictorRegistry::global()'s names,
// one per line, so the driver includes whatever predictors this build has.
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/inferloop.hpp"

namespace {

using steady = std::chrono::steady_clock;

struct Options {
  std::string system;
  std::string model;
  std::string features;
  std::string predictor = "XGBoostPredictor";
  int replicas = 1;
  std::string wait = "block";
  std::size_t rows = 1;
  std::size_t samples = 20000;
  double latency_seconds = 5.0;
  double throughput_seconds = 3.0;
  std::size_t predictions_to_keep = 64;  // snapshots whose outputs go to --predictions-out
  std::string samples_out;
  std::string predictions_out;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "compare_latency: %s\n", message.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto equals = arg.find('=');
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos) {
      fail("argument " + std::to_string(i) + " \"" + arg +
           "\" is not --key=value; see the comment at the top of bench/compare_latency.cpp");
    }
    values[arg.substr(2, equals - 2)] = arg.substr(equals + 1);
  }
  Options options;
  auto take = [&](const char* key, auto& target) {
    const auto found = values.find(key);
    if (found == values.end()) return;
    try {
      if constexpr (std::is_same_v<std::decay_t<decltype(target)>, std::string>) {
        target = found->second;
      } else if constexpr (std::is_same_v<std::decay_t<decltype(target)>, double>) {
        target = std::stod(found->second);
      } else {
        target = static_cast<std::decay_t<decltype(target)>>(std::stoll(found->second));
      }
    } catch (const std::exception&) {
      fail(std::string("--") + key + "=" + found->second + " is not a number");
    }
    values.erase(found);
  };
  take("system", options.system);
  take("model", options.model);
  take("features", options.features);
  take("predictor", options.predictor);
  take("replicas", options.replicas);
  take("wait", options.wait);
  take("rows", options.rows);
  take("samples", options.samples);
  take("latency-seconds", options.latency_seconds);
  take("throughput-seconds", options.throughput_seconds);
  take("keep-predictions", options.predictions_to_keep);
  take("samples-out", options.samples_out);
  take("predictions-out", options.predictions_out);
  if (!values.empty()) fail("unknown option --" + values.begin()->first);
  if (options.system != "direct" && options.system != "loop") {
    fail("--system must be direct or loop, found \"" + options.system + "\"");
  }
  if (options.model.empty() || options.features.empty()) {
    fail("--model=PATH and --features=FILE are required");
  }
  if (options.rows == 0) fail("--rows must be at least 1");
  return options;
}

// The feature stream, and the snapshot after the previous one.
class FeatureStream {
 public:
  FeatureStream(const std::string& path, std::size_t cols, std::size_t rows_per_snapshot)
      : cols_(cols), rows_(rows_per_snapshot) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) fail("cannot open the feature stream " + path + "; run bench/run_compare.sh");
    const auto bytes = static_cast<std::size_t>(in.tellg());
    if (bytes % (sizeof(float) * cols) != 0) {
      fail(path + " holds " + std::to_string(bytes) + " bytes, not whole rows of " +
           std::to_string(cols) + " float32 features (the model's num_feature)");
    }
    values_.resize(bytes / sizeof(float));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(values_.data()), static_cast<std::streamsize>(bytes));
    total_rows_ = values_.size() / cols;
    if (total_rows_ < rows_) {
      fail(path + " holds " + std::to_string(total_rows_) + " rows, fewer than --rows=" +
           std::to_string(rows_));
    }
  }

  std::span<const float> next() noexcept {
    if (next_row_ + rows_ > total_rows_) next_row_ = 0;
    const std::span<const float> snapshot(values_.data() + next_row_ * cols_, rows_ * cols_);
    next_row_ += rows_;
    return snapshot;
  }
  void rewind() noexcept { next_row_ = 0; }

 private:
  std::size_t cols_;
  std::size_t rows_;
  std::vector<float> values_;
  std::size_t total_rows_ = 0;
  std::size_t next_row_ = 0;
};

double micros_between(steady::time_point from, steady::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

struct Measurement {
  std::vector<double> latency_us;
  std::vector<float> kept_predictions;
  double throughput_seconds = 0;
  std::uint64_t throughput_predictions = 0;
  nlohmann::json extra = nlohmann::json::object();
};

void check_xgboost(int status, const char* what) {
  if (status != 0) fail(std::string(what) + " failed: " + XGBGetLastError());
}

Measurement run_direct(const Options& options) {
  const inferloop::ResolvedModel model = inferloop::resolve_model(options.model);
  BoosterHandle booster = nullptr;
  check_xgboost(XGBoosterCreate(nullptr, 0, &booster), "XGBoosterCreate");
  check_xgboost(XGBoosterLoadModel(booster, model.model_file.c_str()), "XGBoosterLoadModel");
  check_xgboost(XGBoosterSetParam(booster, "nthread", "1"), "XGBoosterSetParam(nthread)");
  bst_ulong cols = 0;
  check_xgboost(XGBoosterGetNumFeature(booster, &cols), "XGBoosterGetNumFeature");
  DMatrixHandle proxy = nullptr;
  check_xgboost(XGProxyDMatrixCreate(&proxy), "XGProxyDMatrixCreate");
  FeatureStream stream(options.features, cols, options.rows);
  const char* config =
      R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
  // The array interface names the snapshot's address, so it is formatted per
  // call, as XGBoostPredictor must do too.
  char interface[256];
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  std::vector<float> out(options.rows);
  auto predict = [&](std::span<const float> snapshot) {
    std::snprintf(interface, sizeof interface,
                  R"({"data":[%llu,true],"shape":[%zu,%llu],"typestr":"<f4","version":3})",
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(snapshot.data())),
                  options.rows, static_cast<unsigned long long>(cols));
    check_xgboost(XGBoosterPredictFromDense(booster, interface, config, proxy, &shape, &dims,
                                            &result),
                  "XGBoosterPredictFromDense");
    std::copy(result, result + options.rows, out.begin());  // the result is overwritten next call
  };
  predict(stream.next());  // warm-up: the first call configures the learner
  stream.rewind();

  Measurement measurement;
  measurement.latency_us.reserve(options.samples);
  const auto latency_deadline =
      steady::now() + std::chrono::duration<double>(options.latency_seconds);
  for (std::size_t i = 0; i < options.samples; ++i) {
    const std::span<const float> snapshot = stream.next();
    const auto start = steady::now();
    predict(snapshot);
    const auto end = steady::now();
    measurement.latency_us.push_back(micros_between(start, end));
    if (i < options.predictions_to_keep) {
      measurement.kept_predictions.insert(measurement.kept_predictions.end(), out.begin(),
                                          out.end());
    }
    if (end > latency_deadline) break;
  }

  const auto start = steady::now();
  const auto deadline = start + std::chrono::duration<double>(options.throughput_seconds);
  std::uint64_t calls = 0;
  auto now = start;
  while (now < deadline) {
    predict(stream.next());
    ++calls;
    now = steady::now();
  }
  measurement.throughput_seconds = std::chrono::duration<double>(now - start).count();
  measurement.throughput_predictions = calls;
  XGDMatrixFree(proxy);
  XGBoosterFree(booster);
  measurement.extra["num_features"] = cols;
  return measurement;
}

inferloop::WaitStrategy parse_wait(const std::string& name) {
  for (auto strategy : {inferloop::WaitStrategy::kSpin, inferloop::WaitStrategy::kSpinThenBlock,
                        inferloop::WaitStrategy::kBlock}) {
    if (inferloop::to_string(strategy) == name) return strategy;
  }
  fail("--wait must be spin, spin_then_block or block, found \"" + name + "\"");
}

Measurement run_loop(const Options& options) {
  inferloop::InferenceConfig config;
  config.deployment_name = "compare";
  config.model_uri = options.model;
  config.predictor_class_name = options.predictor;
  config.num_replicas = options.replicas;
  config.wait_strategy = parse_wait(options.wait);
  config.max_rows = options.rows;
  inferloop::InferenceLoop loop(config);
  loop.start();
  inferloop::FeatureSlot& slot = loop.features();
  FeatureStream stream(options.features, slot.cols(), options.rows);
  const auto clock = inferloop::system_clock();
  inferloop::Prediction prediction = loop.make_prediction();

  Measurement measurement;
  measurement.latency_us.reserve(options.samples);
  const auto latency_deadline =
      steady::now() + std::chrono::duration<double>(options.latency_seconds);
  for (std::size_t i = 0; i < options.samples; ++i) {
    const std::span<const float> snapshot = stream.next();
    const auto start = steady::now();
    const std::uint64_t feature_seq = slot.publish(snapshot, clock->now());
    // Poll like a considerate engine thread: yield the core now and then, so
    // that on a machine with few cores the loop's own threads get to run.
    for (unsigned spins = 1; loop.latest_feature_seq() < feature_seq; ++spins) {
      if (spins % 64 == 0) std::this_thread::yield();
    }
    const auto end = steady::now();
    measurement.latency_us.push_back(micros_between(start, end));
    if (i < options.predictions_to_keep) {
      if (!loop.latest(prediction) || prediction.feature_seq != feature_seq) {
        fail("the result visible for snapshot " + std::to_string(feature_seq) +
             " belongs to snapshot " + std::to_string(prediction.feature_seq));
      }
      const auto values = prediction.values();
      measurement.kept_predictions.insert(measurement.kept_predictions.end(), values.begin(),
                                          values.end());
    }
    if (end > latency_deadline) break;
  }
  const inferloop::LoopStats after_latency = loop.stats();

  const auto start = steady::now();
  const auto deadline = start + std::chrono::duration<double>(options.throughput_seconds);
  auto now = start;
  while (now < deadline) {
    (void)slot.publish(stream.next(), clock->now());
    std::this_thread::yield();
    now = steady::now();
  }
  // Predictions completed inside the window; in-flight ones finish after it
  // and are not counted.
  const inferloop::LoopStats after_throughput = loop.stats();
  measurement.throughput_seconds = std::chrono::duration<double>(now - start).count();
  measurement.throughput_predictions = after_throughput.predictions - after_latency.predictions;
  loop.stop();
  const inferloop::LoopStats final_stats = loop.stats();
  measurement.extra["num_features"] = slot.cols();
  measurement.extra["predictor_describe"] = loop.model_info().predictor;
  measurement.extra["loop_publish_to_visible_p50_us"] =
      std::chrono::duration<double, std::micro>(after_latency.publish_to_visible.p50).count();
  measurement.extra["throughput_conflated"] = after_throughput.conflated - after_latency.conflated;
  measurement.extra["errors"] = final_stats.errors;
  return measurement;
}

template <typename T>
void write_binary(const std::string& path, const std::vector<T>& values) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(T)));
  if (!out) fail("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list-predictors") {
    for (const std::string& name : inferloop::PredictorRegistry::global().names()) {
      std::cout << name << '\n';
    }
    return 0;
  }
  const Options options = parse_options(argc, argv);
  Measurement measurement;
  try {
    measurement = options.system == "direct" ? run_direct(options) : run_loop(options);
  } catch (const std::exception& error) {
    fail(error.what());
  }
  write_binary(options.samples_out, measurement.latency_us);
  write_binary(options.predictions_out, measurement.kept_predictions);
  nlohmann::json report = measurement.extra;
  report["system"] = options.system;
  report["rows"] = options.rows;
  report["latency_samples"] = measurement.latency_us.size();
  report["throughput_seconds"] = measurement.throughput_seconds;
  report["throughput_predictions"] = measurement.throughput_predictions;
  std::string linked;
  for (int part : inferloop::linked_xgboost_version()) {
    if (!linked.empty()) linked += '.';
    linked += std::to_string(part);
  }
  report["libxgboost"] = linked;
  std::cout << report.dump() << '\n';
  return 0;
}
