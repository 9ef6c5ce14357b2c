#!/usr/bin/env python3
"""Trains the demo model that examples/config/demo.yaml, `inferloop run` and the
benchmarks serve, and saves it as an MLflow model folder.

The model is a binary:logistic XGBoost classifier predicting whether the next
tick's mid-price return is positive, from 8 synthetic market features. The
features are the ones tools/inferloop/synthetic_feed.hpp generates, with the
same names, order, definitions and parameters:

  0 mid_price         mid price, starts at 100, log-random walk
  1 spread            ask - bid, in price units (>= 0.01)
  2 book_imbalance    (bid_size - ask_size) / (bid_size + ask_size), in [-1, 1]
  3 return_1          log return of mid over the last tick, in basis points
  4 return_10         ... over the last 10 ticks, in basis points
  5 return_100        ... over the last 100 ticks, in basis points
  6 volatility_50     exponentially weighted (span 50) std of return_1, bps
  7 trade_imbalance   exponentially weighted (span 20) signed trade volume, [-1, 1]

Usage:
  python examples/train_demo_model.py [MODEL_DIR] [--rows N] [--trees N]
                                      [--features-csv FILE --csv-rows N]

MODEL_DIR defaults to build/demo-model (relative to the current directory). An
existing MLflow model there is replaced. --features-csv also writes a feature
file that `inferloop run --features` replays (timestamp_ns + the 8 columns,
1 ms apart).

Which xgboost trains the model matters: a library can only load models saved by
its own or an older version. Debian 12's libxgboost is 1.7.4; use the
.venv-xgb17 interpreter for a build linked to it, or the .venv interpreter
(current xgboost) for a build configured with -DINFERLOOP_XGBOOST_LIBRARY
pointing at that venv's xgboost/lib/libxgboost.so.
"""
import argparse
import math
import os
import shutil
import sys

import numpy as np
import pandas as pd
import xgboost
import mlflow.xgboost
from mlflow.models import infer_signature

FEATURE_NAMES = [
    "mid_price", "spread", "book_imbalance", "return_1",
    "return_10", "return_100", "volatility_50", "trade_imbalance",
]

# Per-tick parameters: the same numbers as tools/inferloop/synthetic_feed.cpp.
TICK_VOLATILITY = 1e-4
IMBALANCE_SIGNAL = 0.3
IMBALANCE_PERSISTENCE = 0.95
IMBALANCE_NOISE = 0.25
BASE_SPREAD = 0.02
VOLATILITY_ALPHA = 2.0 / (50.0 + 1.0)
TRADE_ALPHA = 2.0 / (20.0 + 1.0)
BASIS_POINTS = 1e4
HISTORY = 101


def synthetic_market(ticks, seed):
    """Returns (features float32 [ticks, 8], next tick's return [ticks])."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(size=(ticks + 1, 4))
    log_mid = math.log(100.0)
    history = [log_mid] * HISTORY
    imbalance = 0.0
    volatility_sq = (TICK_VOLATILITY * BASIS_POINTS) ** 2
    trade_imbalance = 0.0
    rows = np.empty((ticks + 1, len(FEATURE_NAMES)), dtype=np.float64)
    tick_returns = np.empty(ticks + 1)
    for tick in range(1, ticks + 2):
        n = noise[tick - 1]
        tick_return = TICK_VOLATILITY * (IMBALANCE_SIGNAL * imbalance + n[0])
        log_mid += tick_return
        imbalance = min(1.0, max(-1.0, IMBALANCE_PERSISTENCE * imbalance + IMBALANCE_NOISE * n[1]))
        spread = BASE_SPREAD * (1.0 + 0.5 * abs(n[2]))
        trade_sign = 1.0 if tick_return >= 0 else -1.0
        trade_size = min(1.0, abs(n[3]) * 0.5)
        trade_imbalance += TRADE_ALPHA * (trade_sign * trade_size - trade_imbalance)
        history[tick % HISTORY] = log_mid

        def return_over(k):
            return (log_mid - history[(tick + HISTORY - k) % HISTORY]) * BASIS_POINTS

        return_1 = return_over(1)
        volatility_sq += VOLATILITY_ALPHA * (return_1 * return_1 - volatility_sq)
        rows[tick - 1] = [math.exp(log_mid), spread, imbalance, return_1,
                          return_over(10), return_over(100), math.sqrt(volatility_sq),
                          trade_imbalance]
        tick_returns[tick - 1] = tick_return
    # Row t's label is the return of tick t+1, which row t's imbalance leads.
    return rows[:-1].astype(np.float32), tick_returns[1:]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", nargs="?", default=os.path.join("build", "demo-model"))
    parser.add_argument("--rows", type=int, default=20000, help="training ticks (default 20000)")
    parser.add_argument("--trees", type=int, default=100, help="boosting rounds (default 100)")
    parser.add_argument("--depth", type=int, default=6, help="max_depth (default 6)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--features-csv", help="also write replayable features to this CSV")
    parser.add_argument("--csv-rows", type=int, default=2000)
    args = parser.parse_args(argv)

    features, next_return = synthetic_market(args.rows, args.seed)
    labels = (next_return > 0).astype(np.float32)
    frame = pd.DataFrame(features, columns=FEATURE_NAMES)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": args.depth, "eta": 0.1,
         "nthread": 1, "seed": args.seed},
        xgboost.DMatrix(frame, label=labels), num_boost_round=args.trees)

    model_dir = os.path.abspath(args.model_dir)
    if os.path.exists(model_dir):
        if not os.path.isfile(os.path.join(model_dir, "MLmodel")) and os.listdir(model_dir):
            sys.exit(f"train_demo_model.py: {model_dir} exists and is not an MLflow model "
                     "folder; refusing to replace it. Choose another MODEL_DIR or remove it.")
        shutil.rmtree(model_dir)
    os.makedirs(os.path.dirname(model_dir), exist_ok=True)
    predictions = booster.predict(xgboost.DMatrix(frame.head(100)))
    signature = infer_signature(frame.head(100), predictions)
    mlflow.xgboost.save_model(booster, model_dir, signature=signature)
    accuracy = float(((booster.predict(xgboost.DMatrix(frame)) > 0.5) == (labels > 0.5)).mean())
    print(f"train_demo_model.py: saved {args.trees} trees (depth {args.depth}, "
          f"{len(FEATURE_NAMES)} features, xgboost {xgboost.__version__}) to {model_dir}; "
          f"training accuracy {accuracy:.3f}")

    if args.features_csv:
        replay, _ = synthetic_market(args.csv_rows, args.seed + 1)
        start_ns = 1_700_000_000_000_000_000
        with open(args.features_csv, "w", encoding="utf-8") as out:
            out.write(",".join(["timestamp_ns"] + FEATURE_NAMES) + "\n")
            for i, row in enumerate(replay):
                # repr of a float32 widened to float round-trips exactly.
                out.write(",".join([str(start_ns + i * 1_000_000)] +
                                   [repr(float(v)) for v in row]) + "\n")
        print(f"train_demo_model.py: wrote {len(replay)} feature rows to {args.features_csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
