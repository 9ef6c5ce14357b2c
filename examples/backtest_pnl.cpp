// A small event-driven backtest on the loop's backtest mode: at every market
// event the strategy publishes the event's features, reads latest() and
// holds +1 or -1 unit by the model's p(up). It runs twice: once with zero
// inference latency (the optimistic backtest) and once with a realistic one,
// where a prediction is only usable once it could have been computed live.
//
//   build/examples/backtest_pnl CONFIG.yaml FEATURES.csv [LATENCY]
//
// FEATURES.csv: timestamp_ns, then the demo model's 8 features (mid_price
// first), as examples/train_demo_model.py --features-csv writes them. LATENCY
// defaults to lognormal:2ms,1ms (the events are 1 ms apart).
#include <inferloop/inferloop.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Event {
  std::int64_t timestamp_ns = 0;
  std::vector<float> features;  // features[0] is mid_price
};

std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw inferloop::Error(path + ": cannot open the feature file");
  std::vector<Event> events;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream cells(line);
    std::string cell;
    Event event;
    std::getline(cells, cell, ',');
    event.timestamp_ns = std::stoll(cell);
    while (std::getline(cells, cell, ',')) event.features.push_back(std::stof(cell));
    events.push_back(std::move(event));
  }
  return events;
}

struct Outcome {
  double pnl = 0;
  int position_changes = 0;
  inferloop::LoopStats stats;
};

Outcome run(const inferloop::InferenceConfig& config, const std::vector<Event>& events,
            const std::string& latency) {
  // --- the backtest loop: the live loop, with a simulated clock ---
  auto clock = std::make_shared<inferloop::ManualClock>(
      inferloop::Timestamp{events.front().timestamp_ns});
  inferloop::LoopOptions options;
  options.clock = clock;
  options.backtest = inferloop::BacktestOptions{};
  options.backtest->latency = inferloop::LatencyModel::parse(latency);
  options.backtest->seed = 2024;
  inferloop::InferenceLoop loop(config, std::move(options));
  loop.start();
  inferloop::Prediction prediction = loop.make_prediction();

  Outcome outcome;
  int position = 0;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const Event& event = events[i];
    clock->set(inferloop::Timestamp{event.timestamp_ns});  // time moves only here
    loop.features().publish_checked(event.features, inferloop::Timestamp{event.timestamp_ns});
    // The newest prediction that would have been visible live at this instant.
    int wanted = 0;
    if (loop.latest(prediction)) wanted = prediction.value() > 0.5F ? 1 : -1;
    if (wanted != position) ++outcome.position_changes;
    position = wanted;
    outcome.pnl += position * (static_cast<double>(events[i + 1].features[0]) - event.features[0]);
  }
  loop.stop();
  outcome.stats = loop.stats();
  return outcome;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml FEATURES.csv [LATENCY]\n", argv[0]);
    return 2;
  }
  const inferloop::InferenceConfig config = inferloop::load_config(argv[1]);
  const std::vector<Event> events = read_events(argv[2]);
  if (events.size() < 2) throw inferloop::Error(std::string(argv[2]) + ": needs at least 2 events");
  const std::string realistic = argc == 4 ? argv[3] : "lognormal:2ms,1ms";
  std::printf("%zu events, %d simulated replica(s)\n", events.size(), config.num_replicas);
  for (const std::string& latency : {std::string("zero"), realistic}) {
    const Outcome outcome = run(config, events, latency);
    std::printf("latency %-22s PnL %+9.4f  position changes %4d  dispatched %4llu  conflated %4llu\n",
                latency.c_str(), outcome.pnl, outcome.position_changes,
                static_cast<unsigned long long>(outcome.stats.dispatched),
                static_cast<unsigned long long>(outcome.stats.conflated));
  }
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "backtest_pnl: %s\n", error.what());
  return 1;
}
