#!/usr/bin/env python3
"""Writes fuzz/corpus/model_admission/: tiny real models (a few shallow trees) that the
model admission fuzzer mutates: JSON and UBJSON, gbtree, dart and gblinear, binary,
multi-class, survival:aft, categorical splits (1.7 writes their thresholds as NaN
literals), vector leaves (3.2+: multi_strategy="multi_output_tree"), plus hand-made inputs at the gate's limits (nesting, a duplicated key).
Run it with each xgboost (current and 1.7.4) to get both schemas:
    .venv/bin/python fuzz/make_model_seed_corpus.py --out fuzz/corpus/model_admission
    .venv-xgb17/bin/python fuzz/make_model_seed_corpus.py --out fuzz/corpus/model_admission
"""
import argparse
import json
import os

import numpy as np
import pandas as pd
import xgboost as xgb


def save(booster, out, stem):
    for ext in ("json", "ubj"):
        booster.save_model(os.path.join(out, f"{stem}.{ext}"))


def hand_made(out):
    """Inputs at the gate's limits; the same for every xgboost version."""
    deep = 80  # past the gate's 64 levels, small enough to mutate
    with open(os.path.join(out, "limit_deep.json"), "w") as f:
        f.write('{"learner": ' + "[" * deep + "]" * deep + "}")
    with open(os.path.join(out, "limit_deep.ubj"), "wb") as f:
        f.write(b"{i\x07learner" + b"[" * deep + b"]" * deep + b"}")
    # One object with the key "a" twice (xgboost's UBJSON reader keeps the
    # first value, nlohmann the last).
    with open(os.path.join(out, "limit_duplicate_key.ubj"), "wb") as f:
        f.write(b"{i\x01ai\x01i\x01ai\x02}")
    # An optimized array of zero-byte entries claiming more than the file holds.
    with open(os.path.join(out, "limit_huge_count.ubj"), "wb") as f:
        f.write(b"[$Z#L" + (1 << 40).to_bytes(8, "big"))


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
        "gblinear": ({"booster": "gblinear", "objective": "reg:squarederror"}, y),
    }
    for name, (params, label) in cases.items():
        booster = xgb.train({"max_depth": 2, **params}, xgb.DMatrix(x, label=label), 2)
        save(booster, args.out, f"xgb{version}_{name}")

    daft = xgb.DMatrix(x)
    daft.set_float_info("label_lower_bound", np.exp(np.nan_to_num(x[:, 0])).astype(np.float32))
    daft.set_float_info("label_upper_bound", np.full(200, np.inf, dtype=np.float32))
    aft = xgb.train({"objective": "survival:aft", "max_depth": 2}, daft, 2)
    save(aft, args.out, f"xgb{version}_aft")

    # The label depends on the category, so the trees split on it.
    categories = rng.integers(0, 5, size=200)
    frame = pd.DataFrame({"num": x[:, 0], "cat": pd.Categorical(categories)})
    label = np.isin(categories, [1, 3]).astype(np.float32)
    dcat = xgb.DMatrix(frame, label=label, enable_categorical=True)
    booster = xgb.train({"tree_method": "hist", "max_depth": 2, "max_cat_to_onehot": 1}, dcat, 2)
    save(booster, args.out, f"xgb{version}_categorical")

    if tuple(int(part) for part in xgb.__version__.split(".")[:2]) >= (3, 2):
        dvector = xgb.DMatrix(x, label=np.stack([y, 1 - y, np.nan_to_num(x[:, 1])], axis=1))
        booster = xgb.train({"tree_method": "hist", "multi_strategy": "multi_output_tree",
                             "max_depth": 2}, dvector, 2)
        save(booster, args.out, f"xgb{version}_vector_leaf")
    hand_made(args.out)


if __name__ == "__main__":
    main()
