#!/usr/bin/env python3
"""The reference design's ML strategy, ported to inferloop: buy when the
model's predicted price is above the mid price by more than a threshold,
sell when it is below by more than the threshold, and see what inference
latency does to it.

The model (XGBoost regression, trained here on a synthetic market) predicts
the mid price HORIZON ticks ahead (as a return in basis points; predicted
price = mid x (1 + return)). The backtest runs the reference design's
loop, in Python, on inferloop's InferenceLoop in backtest mode: for every
market event, set the ManualClock to the event's time, publish the event's
features, read latest(), trade on it. With zero latency every prediction is
there at once; with a realistic latency on NUM_REPLICAS simulated replicas
the strategy trades on the newest prediction that could have existed live,
computed from older prices.

It runs the loop twice (zero, realistic), checks that inferloop.backtest()
(the fast, columnar path) gives the very same predictions and trades, and
plots prices, visible predictions and trades for both:

  python examples/python/ml_strategy.py [--events N] [--latency SPEC] [--out DIR]

Writes DIR/ml_strategy.png. Needs numpy, pandas, xgboost, matplotlib and the
inferloop package (docs/python.md).
"""
import argparse
import os
import sys
import time

import numpy as np

import inferloop

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # examples/train_demo_model.py

HORIZON = 10             # ticks ahead the model predicts
THRESHOLD_BPS = 1.0      # trade when |predicted - mid| exceeds this, in basis points
MEAN_TICK_GAP_NS = 100_000  # a busy book: 10,000 events/s
NUM_REPLICAS = 2
REALISTIC_LATENCY = "lognormal:400us,200us"


def market(ticks, seed):
    """(timestamps_ns int64, features float32 [ticks, 8], mid prices float64).
    The features are the demo model's (examples/train_demo_model.py);
    events arrive with exponential gaps, MEAN_TICK_GAP_NS on average."""
    from train_demo_model import synthetic_market
    features, _ = synthetic_market(ticks, seed)
    rng = np.random.default_rng(seed)
    gaps = np.maximum(1, rng.exponential(MEAN_TICK_GAP_NS, size=ticks)).astype(np.int64)
    timestamps = 1_700_000_000_000_000_000 + np.cumsum(gaps)
    return timestamps, features, features[:, 0].astype(np.float64)


def train(model_file, ticks=40_000, seed=7):
    """Regression of the return over the next HORIZON ticks, in basis points."""
    import xgboost as xgb
    _, features, mid = market(ticks + HORIZON, seed)
    target = (mid[HORIZON:] / mid[:-HORIZON] - 1.0) * 1e4
    booster = xgb.train({"objective": "reg:squarederror", "max_depth": 6, "eta": 0.1,
                         "nthread": 1, "seed": seed},
                        xgb.DMatrix(features[:-HORIZON], label=target), num_boost_round=100)
    booster.save_model(model_file)


def decide(predicted_bps, mid_at_prediction, mid_now):
    """The reference design's rule: +1 buy, -1 sell, 0 keep the position."""
    predicted_price = mid_at_prediction * (1.0 + predicted_bps / 1e4)
    signal_bps = (predicted_price - mid_now) / mid_now * 1e4
    return 1 if signal_bps > THRESHOLD_BPS else -1 if signal_bps < -THRESHOLD_BPS else 0


def python_loop_backtest(config, timestamps, features, mid, latency):
    """The reference design's backtest loop, event by event, in Python.
    Returns (positions, predicted prices visible at each event, stats)."""
    clock = inferloop.ManualClock(int(timestamps[0]))
    positions = np.zeros(len(timestamps), dtype=np.int8)
    visible_price = np.full(len(timestamps), np.nan)
    position = 0
    with inferloop.InferenceLoop(config, clock=clock, latency=latency, seed=2024) as loop:
        for i, (time_ns, row) in enumerate(zip(timestamps, features)):
            clock.set(int(time_ns))                 # time moves only here
            loop.publish(row, feature_time_ns=int(time_ns))
            prediction = loop.latest()              # newest visible at this instant
            if prediction is not None:
                predicted_from = mid[prediction.feature_seq - 1]  # the event it was made from
                visible_price[i] = predicted_from * (1.0 + prediction.value / 1e4)
                position = decide(prediction.value, predicted_from, mid[i]) or position
            positions[i] = position
        clock.set(loop.backtest_idle_at())
    return positions, visible_price, loop.stats()


def columnar_backtest(config, timestamps, features, mid, latency):
    """The same strategy on inferloop.backtest(): one call, then numpy."""
    result = inferloop.backtest(config, timestamps, features, latency=latency, seed=2024)
    k = result.asof(timestamps)  # the result visible at each event (-1: none yet)
    has = k >= 0
    rows = result.row[k[has]]
    predicted_bps = result.values[k[has]].astype(np.float64)
    visible_price = np.full(len(timestamps), np.nan)
    visible_price[has] = mid[rows] * (1.0 + predicted_bps / 1e4)
    signal_bps = (visible_price - mid) / mid * 1e4
    decision = np.where(signal_bps > THRESHOLD_BPS, 1, np.where(signal_bps < -THRESHOLD_BPS, -1, 0))
    positions = position_from(decision)
    return positions, visible_price, result


def position_from(decision):
    """Holds the last non-zero decision (0 before the first one)."""
    index = np.where(decision != 0, np.arange(len(decision)), -1)
    last = np.maximum.accumulate(index)
    return np.where(last >= 0, decision[np.maximum(last, 0)], 0).astype(np.int8)


def pnl(positions, mid):
    """Cumulative PnL of holding positions[i] from event i to event i + 1."""
    return np.concatenate([[0.0], np.cumsum(positions[:-1] * np.diff(mid))])


def plot(path, timestamps, mid, runs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    seconds = (timestamps - timestamps[0]) / 1e9
    shown = slice(0, min(len(mid), 3000))  # a readable window of the prices
    figure, axes = plt.subplots(len(runs) + 1, 1, figsize=(12, 3.2 * (len(runs) + 1)))
    for axis, (label, positions, visible_price) in zip(axes, runs):
        axis.plot(seconds[shown], mid[shown], color="black", lw=0.8, label="mid price")
        axis.plot(seconds[shown], visible_price[shown], color="tab:blue", lw=0.6, alpha=0.8,
                  label="prediction visible then")
        change = np.flatnonzero(np.diff(positions[shown].astype(int))) + 1
        buys = change[positions[shown][change] > 0]
        sells = change[positions[shown][change] < 0]
        axis.scatter(seconds[buys], mid[buys], marker="^", color="tab:green", s=25, label="buy")
        axis.scatter(seconds[sells], mid[sells], marker="v", color="tab:red", s=25, label="sell")
        axis.set_title(f"latency {label}")
        axis.set_ylabel("price")
        axis.legend(loc="upper left", fontsize=8)
    for label, positions, _ in runs:
        axes[-1].plot(seconds, pnl(positions, mid), label=f"latency {label}")
    axes[-1].set_title("cumulative PnL (1 unit, no costs)")
    axes[-1].set_xlabel("seconds")
    axes[-1].legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--latency", default=REALISTIC_LATENCY)
    parser.add_argument("--out", default=os.path.join("build", "ml_strategy"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model_file = os.path.join(args.out, "price_model.ubj")
    train(model_file)
    timestamps, features, mid = market(args.events, seed=8)
    config = {"model_uri": model_file, "predictor_class_name": "ForestPredictor",
              "num_replicas": NUM_REPLICAS}

    runs = []
    for latency in ("zero", args.latency):
        started = time.perf_counter()
        positions, visible_price, stats = python_loop_backtest(config, timestamps, features, mid,
                                                               latency)
        loop_seconds = time.perf_counter() - started
        fast_positions, fast_price, result = columnar_backtest(config, timestamps, features, mid,
                                                               latency)
        # The fast path must be the same backtest, not an approximation of it.
        assert np.array_equal(positions, fast_positions), "positions differ"
        assert np.array_equal(visible_price, fast_price, equal_nan=True), "predictions differ"
        assert stats.to_dict() == result.stats.to_dict(), "counters differ"
        trades = int(np.count_nonzero(np.diff(positions.astype(int))))
        print(f"latency {latency:24s} PnL {pnl(positions, mid)[-1]:+9.4f}  trades {trades:5d}  "
              f"conflated {result.conflated:6d}  stale {result.stale:5d}  "
              f"python loop {len(mid) / loop_seconds:9,.0f} events/s  "
              f"backtest() {result.rows_per_second:11,.0f} rows/s")
        runs.append((latency, positions, visible_price))
    path = os.path.join(args.out, "ml_strategy.png")
    plot(path, timestamps, mid, runs)
    print(f"ml_strategy.py: plot written to {path}")


if __name__ == "__main__":
    main()
