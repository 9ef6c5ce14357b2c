#!/usr/bin/env python3
"""Trains the models bench/lightgbm_bench.cpp measures: LightGBM binary models
on 32 features, 100 trees of depth 6, 500 x 6 and 1000 x 8 (num_leaves
2^depth), saved as text models (lgb_<trees>x<depth>.txt), plus 10,000 feature
rows (float32, 10% NaN) in features.f32 and, per model, lightgbm's own
predict() of those rows in double (lgb_<trees>x<depth>.f64), against which the
benchmark checks both predictors bit for bit.

    .venv/bin/python bench/make_lightgbm_models.py --out BUILD_DIR/lightgbm-bench-models
"""
import argparse
import os

import lightgbm as lgb

from bench_rows import bench_rows

SHAPES = [(100, 6), (500, 6), (1000, 8)]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x, y, test = bench_rows()
    test.astype("<f4").tofile(os.path.join(args.out, "features.f32"))
    for trees, depth in SHAPES:
        name = os.path.join(args.out, f"lgb_{trees}x{depth}")
        if not os.path.exists(name + ".txt"):
            params = {"objective": "binary", "max_depth": depth, "num_leaves": 2 ** depth,
                      "learning_rate": 0.05, "min_data_in_leaf": 5, "num_threads": 2,
                      "seed": 3, "verbose": -1}
            lgb.train(params, lgb.Dataset(x, label=y), trees).save_model(
                name + ".txt")
            print("wrote", name + ".txt")
        booster = lgb.Booster(model_file=name + ".txt")
        booster.predict(test).astype("<f8").tofile(name + ".f64")


if __name__ == "__main__":
    main()
