// The README's example as a program: load a config, start the loop, publish
// one feature snapshot, read the newest prediction.
//
//   build/examples/quickstart examples/config/demo.yaml
//
// The 8 feature values are the demo model's (examples/train_demo_model.py):
// mid_price, spread, book_imbalance, return_1, return_10, return_100,
// volatility_50, trade_imbalance.
#include <inferloop/inferloop.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <vector>

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml\n", argv[0]);
    return 2;
  }
  // --- the README example starts here ---
  inferloop::InferenceLoop loop(inferloop::load_config(argv[1]));
  loop.start();  // resolves the model, loads it into every replica, starts the threads

  // The engine thread publishes the newest features whenever they change (wait-free).
  std::vector<float> features = {100.0f, 0.02f, 0.35f, 0.8f, 1.5f, -2.0f, 1.1f, 0.2f};
  std::uint64_t feature_seq =
      loop.features().publish_checked(features, inferloop::system_clock()->now());

  // Any thread reads the newest prediction: wait-free, no allocation.
  inferloop::Prediction prediction = loop.make_prediction();
  loop.wait_for(feature_seq, std::chrono::seconds(1));  // only so the demo has a result to show
  if (loop.latest(prediction)) {
    std::printf("p(up)=%.6f for feature_seq %llu\n", prediction.value(),
                static_cast<unsigned long long>(prediction.feature_seq));
  }
  // --- the README example ends here ---
  return prediction.feature_seq == feature_seq ? 0 : 1;
} catch (const std::exception& error) {
  std::fprintf(stderr, "quickstart: %s\n", error.what());
  return 1;
}
