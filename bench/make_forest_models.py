#!/usr/bin/env python3
"""Trains the models bench/forest_bench.cpp measures: binary:logistic on 32
features, 100 trees x depth 6, 500 x 6 and 1000 x 8, saved as UBJSON, plus
10,000 feature rows (float32, 10% NaN) in features.f32.

Run it with the python whose xgboost matches the libxgboost the benchmark
links (Debian's 1.7.4: the .venv-xgb17 venv), because libxgboost 1.7 silently
mispredicts models saved by xgboost 3.1+:
    .venv-xgb17/bin/python bench/make_forest_models.py --out build/forest-bench-models
"""
import argparse
import os

import xgboost as xgb

from bench_rows import bench_rows

SHAPES = [(100, 6), (500, 6), (1000, 8)]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x, y, test = bench_rows()
    dtrain = xgb.DMatrix(x, label=y)
    for trees, depth in SHAPES:
        name = os.path.join(args.out, f"forest_{trees}x{depth}.ubj")
        if os.path.exists(name):
            continue
        params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.05,
                  "tree_method": "hist", "nthread": 2, "seed": 3}
        xgb.train(params, dtrain, trees).save_model(name)
        print("wrote", name)
    test.astype("<f4").tofile(os.path.join(args.out, "features.f32"))


if __name__ == "__main__":
    main()
