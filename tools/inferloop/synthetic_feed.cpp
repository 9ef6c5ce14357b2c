#include "synthetic_feed.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace inferloop::cli {
namespace {

// Per-tick parameters. examples/train_demo_model.py uses the same numbers.
constexpr double kTickVolatility = 1e-4;     // std of a tick's log return
constexpr double kImbalanceSignal = 0.3;     // how much imbalance leads the return
constexpr double kImbalancePersistence = 0.95;
constexpr double kImbalanceNoise = 0.25;
constexpr double kBaseSpread = 0.02;
constexpr double kVolatilityAlpha = 2.0 / (50.0 + 1.0);
constexpr double kTradeAlpha = 2.0 / (20.0 + 1.0);
constexpr double kBasisPoints = 1e4;
constexpr std::size_t kHistory = 101;

}  // namespace

const std::vector<std::string>& SyntheticFeed::market_feature_names() {
  static const std::vector<std::string> names = {
      "mid_price",  "spread",     "book_imbalance", "return_1",
      "return_10",  "return_100", "volatility_50",  "trade_imbalance"};
  return names;
}

SyntheticFeed::SyntheticFeed(std::size_t num_features, std::uint64_t seed)
    : num_features_(num_features),
      rng_(seed),
      log_mid_(std::log(100.0)),
      volatility_sq_(kTickVolatility * kBasisPoints * kTickVolatility * kBasisPoints),
      log_mid_history_(kHistory, std::log(100.0)) {}

std::vector<std::string> SyntheticFeed::feature_names() const {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < num_features_; ++i) {
    names.push_back(i < kMarketFeatures ? market_feature_names()[i]
                                        : "noise_" + std::to_string(i));
  }
  return names;
}

void SyntheticFeed::next(std::span<float> out) {
  assert(out.size() == num_features_);
  // The return of this tick depends on the imbalance seen before it: that lag
  // is the signal the demo model can learn.
  const double tick_return =
      kTickVolatility * (kImbalanceSignal * imbalance_ + normal_(rng_));
  log_mid_ += tick_return;
  imbalance_ = std::clamp(kImbalancePersistence * imbalance_ + kImbalanceNoise * normal_(rng_),
                          -1.0, 1.0);
  const double spread = kBaseSpread * (1.0 + 0.5 * std::abs(normal_(rng_)));
  const double trade_sign = tick_return >= 0 ? 1.0 : -1.0;
  const double trade_size = std::min(1.0, std::abs(normal_(rng_)) * 0.5);
  trade_imbalance_ += kTradeAlpha * (trade_sign * trade_size - trade_imbalance_);

  ++ticks_;
  log_mid_history_[ticks_ % kHistory] = log_mid_;
  auto return_over = [&](std::size_t ticks) {
    const double before = log_mid_history_[(ticks_ + kHistory - ticks) % kHistory];
    return (log_mid_ - before) * kBasisPoints;
  };
  const double return_1 = return_over(1);
  volatility_sq_ += kVolatilityAlpha * (return_1 * return_1 - volatility_sq_);

  const double market[kMarketFeatures] = {
      std::exp(log_mid_), spread,           imbalance_,
      return_1,           return_over(10),  return_over(100),
      std::sqrt(volatility_sq_), trade_imbalance_};
  for (std::size_t i = 0; i < num_features_; ++i) {
    out[i] = static_cast<float>(i < kMarketFeatures ? market[i] : normal_(rng_));
  }
}

}  // namespace inferloop::cli
