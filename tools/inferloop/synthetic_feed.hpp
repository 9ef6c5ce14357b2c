// SyntheticFeed: a seeded, deterministic stand-in for a market data feed, so
// that `inferloop run` can exercise a model without any recorded data.
//
// One instrument. Each next() advances a random-walk mid price by one tick
// and writes one feature row. The features, in this order (the same names,
// order and definitions as examples/train_demo_model.py, which trains the demo
// model on them):
//
//   0 mid_price         mid price, starts at 100, log-random walk
//   1 spread            ask - bid, in price units (>= 0.01)
//   2 book_imbalance    (bid_size - ask_size) / (bid_size + ask_size), in [-1, 1]
//   3 return_1          log return of mid over the last tick, in basis points
//   4 return_10         ... over the last 10 ticks, in basis points
//   5 return_100        ... over the last 100 ticks, in basis points
//   6 volatility_50     exponentially weighted (span 50) std of return_1, bps
//   7 trade_imbalance   exponentially weighted (span 20) signed trade volume, [-1, 1]
//
// Order-book imbalance leads the next return a little, which is what the demo
// model learns. A model wider than 8 features gets extra columns noise_8,
// noise_9, ... (standard normal); a narrower one gets the first num_features.
//
// Determinism: the same seed and num_features give the same rows on the same
// standard library (std::normal_distribution's algorithm is the library's).
//
// Thread safety: none; one thread owns a feed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace inferloop::cli {

class SyntheticFeed {
 public:
  static constexpr std::size_t kMarketFeatures = 8;

  SyntheticFeed(std::size_t num_features, std::uint64_t seed);

  // Advances one tick and writes num_features() values.
  // REQUIRES: out.size() == num_features().
  void next(std::span<float> out);

  [[nodiscard]] std::size_t num_features() const noexcept { return num_features_; }
  // Column names for num_features() columns.
  [[nodiscard]] std::vector<std::string> feature_names() const;
  // The names of the 8 market features, in order.
  [[nodiscard]] static const std::vector<std::string>& market_feature_names();

 private:
  std::size_t num_features_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
  double log_mid_;
  double imbalance_ = 0.0;
  double volatility_sq_;
  double trade_imbalance_ = 0.0;
  // The last 101 log mids, a ring buffer, for the multi-tick returns.
  std::vector<double> log_mid_history_;
  std::size_t ticks_ = 0;
};

}  // namespace inferloop::cli
