// FakePredictor: drives the loop's concurrency deterministically in tests.
//
// Its output is a pure function of its input, out[row][k] = sum(row) + k, so
// a test that publishes rows filled with a snapshot's feature_seq can check
// every result for consistency (values must equal feature_seq * cols + k).
// It can be held at a gate (to make replicas busy on purpose), delayed, or
// told to throw for chosen inputs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

#include "inferloop/inference_loop.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::testing {

// A latch the test opens; predict() waits on it while it is closed.
class Gate {
 public:
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true;
};

struct FakeBehaviour {
  std::size_t num_features = 4;
  std::size_t num_outputs = 2;
  std::chrono::nanoseconds delay{0};
  Gate* gate = nullptr;
  // Throws when this returns true for the first feature of the first row.
  std::function<bool(float)> fail_if;
  // Calls to predict() that have started (incremented before the gate).
  std::atomic<std::uint64_t> entered{0};
};

class FakePredictor final : public Predictor {
 public:
  explicit FakePredictor(FakeBehaviour& behaviour) : behaviour_(behaviour) {}

  std::size_t num_features() const noexcept override { return behaviour_.num_features; }
  std::size_t num_outputs() const noexcept override { return behaviour_.num_outputs; }
  std::string describe() const override { return "FakePredictor"; }
  void warm_up() override {}

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    // Read the gate before announcing entry: a test that saw `entered` may
    // then change `gate` for the next call without racing with this one.
    Gate* gate = behaviour_.gate;
    behaviour_.entered.fetch_add(1);
    if (gate != nullptr) gate->pass();
    if (behaviour_.delay.count() > 0) std::this_thread::sleep_for(behaviour_.delay);
    if (behaviour_.fail_if && behaviour_.fail_if(features[0])) {
      throw std::runtime_error("fake failure for feature value " + std::to_string(features[0]));
    }
    const std::size_t cols = behaviour_.num_features;
    for (std::size_t r = 0; r < rows; ++r) {
      float sum = 0.0F;
      for (std::size_t c = 0; c < cols; ++c) sum += features[r * cols + c];
      for (std::size_t k = 0; k < behaviour_.num_outputs; ++k) {
        out[r * behaviour_.num_outputs + k] = sum + static_cast<float>(k);
      }
    }
  }

 private:
  FakeBehaviour& behaviour_;
};

// A registry holding "FakePredictor" bound to `behaviour`, and loop options
// that use it with a resolver needing no model file.
inline std::unique_ptr<PredictorRegistry> fake_registry(FakeBehaviour& behaviour) {
  auto registry = std::make_unique<PredictorRegistry>();
  registry->add("FakePredictor", [&behaviour](const PredictorContext&) {
    return std::make_unique<FakePredictor>(behaviour);
  });
  return registry;
}

inline ResolvedModel fake_model(const std::string& uri) {
  ResolvedModel model;
  model.uri = uri;
  return model;
}

inline InferenceConfig fake_config(int replicas = 1) {
  InferenceConfig config;
  config.model_uri = "fake://model";
  config.predictor_class_name = "FakePredictor";
  config.num_replicas = replicas;
  config.startup_timeout = std::chrono::seconds(5);
  return config;
}

}  // namespace inferloop::testing
