#!/usr/bin/env python3
"""Writes fuzz/corpus/forest_reader/: tiny real models (a few shallow trees) that the model
reader fuzzer mutates: JSON and UBJSON, gbtree and dart, binary, multi-class,
categorical. Run it with each xgboost (current and 1.7.4) to get both schemas:
    .venv/bin/python fuzz/make_seed_corpus.py --out fuzz/corpus/forest_reader
    .venv-xgb17/bin/python fuzz/make_seed_corpus.py --out fuzz/corpus/forest_reader
"""
import argparse
import os

import numpy as np
import pandas as pd
import xgboost as xgb


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    version = "".join(xgb.__version__.split(".")[:2])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) > 0).astype(np.float32)
    cases = {
        "logistic": ({"objective": "binary:logistic"}, y),
        "dart": ({"objective": "reg:squarederror", "booster": "dart", "rate_drop": 0.5}, y),
        "softprob": ({"objective": "multi:softprob", "num_class": 3},
                     np.digitize(np.nan_to_num(x[:, 1]), [-0.5, 0.5])),
    }
    for name, (params, label) in cases.items():
        booster = xgb.train({"max_depth": 2, **params}, xgb.DMatrix(x, label=label), 2)
        for ext in ("json", "ubj"):
            booster.save_model(os.path.join(args.out, f"xgb{version}_{name}.{ext}"))
    frame = pd.DataFrame({"num": x[:, 0], "cat": pd.Categorical(rng.integers(0, 5, size=200))})
    dcat = xgb.DMatrix(frame, label=y, enable_categorical=True)
    booster = xgb.train({"tree_method": "hist", "max_depth": 2, "max_cat_to_onehot": 1}, dcat, 2)
    for ext in ("json", "ubj"):
        booster.save_model(os.path.join(args.out, f"xgb{version}_categorical.{ext}"))


if __name__ == "__main__":
    main()
