#!/usr/bin/env python3
"""Writes fuzz/corpus/lightgbm_model/: tiny real LightGBM text models (two or three
shallow trees) that the LightGBM model fuzzer mutates: binary, multiclass, regression
with missing_type Zero, a random forest, categorical bitset splits, and a linear-tree
model (refused). Run it with the venv that has lightgbm:
    .venv/bin/python fuzz/make_lightgbm_seed_corpus.py --out fuzz/corpus/lightgbm_model
"""
import argparse
import os

import lightgbm as lgb
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    x[:, 2] = rng.integers(0, 6, size=400)
    y = np.nan_to_num(x[:, 0]) + (x[:, 2] == 3)
    small = {"num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1, "num_threads": 1, "seed": 1}
    models = {
        "binary": ({"objective": "binary"}, y > 0.5, None),
        "multiclass": ({"objective": "multiclass", "num_class": 3}, np.digitize(y, [0, 1]), None),
        "zero_as_missing": ({"objective": "regression", "zero_as_missing": True}, y, None),
        "rf": ({"objective": "regression", "boosting": "rf", "bagging_freq": 1,
                "bagging_fraction": 0.5}, y, None),
        "categorical": ({"objective": "poisson", "max_cat_to_onehot": 2, "min_data_per_group": 5,
                         "cat_smooth": 1},
                        3 * np.isin(x[:, 2], [1, 3, 4]) + np.nan_to_num(x[:, 0]) ** 2, [2]),
        "linear_tree": ({"objective": "regression", "linear_tree": True}, y, None),
    }
    for name, (params, label, categorical) in models.items():
        data = lgb.Dataset(x, label=label, categorical_feature=categorical or "auto")
        booster = lgb.train({**small, **params}, data, 2)
        booster.save_model(os.path.join(out, f"{name}.txt"))


if __name__ == "__main__":
    main()
