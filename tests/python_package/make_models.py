#!/usr/bin/env python3
"""Trains the real XGBoost models the Python package's tests use, with the
venv's xgboost (the current PyPI one), and writes OUT/manifest.json.

  make_models.py --out DIR

Models (each saved by xgboost itself):
  binary.ubj, binary.json   binary:logistic, 8 features, 100 trees of depth 6
                            (the benchmark's shape), NaNs in the data
  regression.ubj            reg:squarederror, 5 features, 30 trees of depth 4
  multiclass.ubj            multi:softprob, 3 classes, 5 features, 10 rounds
  binary_mlflow/            binary as an MLflow model folder, with a signature
                            naming the columns f0..f7
  binary_other.ubj          binary:logistic trained on another seed (reload tests)
The tests compute every expected value from these files with xgboost itself.
ctest runs this once as the fixture python.models (tests/python_package/
CMakeLists.txt); conftest.py runs it into a temporary folder when pytest is
started by hand without INFERLOOP_TEST_MODELS.
"""
import argparse
import json
import os

import numpy as np
import xgboost as xgb

BINARY_FEATURES = 8
SMALL_FEATURES = 5


def _data(seed, rows, cols):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.05] = np.nan
    filled = np.nan_to_num(x)
    signal = filled @ rng.normal(size=cols) + 0.5 * filled[:, 0] * filled[:, 1]
    return x, signal


def _train(params, x, y, rounds):
    return xgb.train({"nthread": 1, "seed": 7, **params}, xgb.DMatrix(x, label=y),
                     num_boost_round=rounds)


def make_models(out):
    """Trains every model into `out`; returns the manifest (also written)."""
    os.makedirs(out, exist_ok=True)
    x, signal = _data(1, 4000, BINARY_FEATURES)
    binary = _train({"objective": "binary:logistic", "max_depth": 6}, x, signal > 0, 100)
    binary.save_model(os.path.join(out, "binary.ubj"))
    binary.save_model(os.path.join(out, "binary.json"))
    x_other, signal_other = _data(2, 2000, BINARY_FEATURES)
    other = _train({"objective": "binary:logistic", "max_depth": 3}, x_other, signal_other > 0.3, 20)
    other.save_model(os.path.join(out, "binary_other.ubj"))

    small, small_signal = _data(3, 1500, SMALL_FEATURES)
    regression = _train({"objective": "reg:squarederror", "max_depth": 4}, small, small_signal, 30)
    regression.save_model(os.path.join(out, "regression.ubj"))
    classes = np.digitize(small_signal, np.quantile(small_signal, [1 / 3, 2 / 3])).astype(np.float32)
    multiclass = _train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3}, small,
                        classes, 10)
    multiclass.save_model(os.path.join(out, "multiclass.ubj"))

    import pandas as pd
    import mlflow.xgboost
    from mlflow.models import infer_signature
    names = [f"f{i}" for i in range(BINARY_FEATURES)]
    sample = pd.DataFrame(np.zeros((2, BINARY_FEATURES), dtype=np.float32), columns=names)
    folder = os.path.join(out, "binary_mlflow")
    if os.path.exists(folder):
        import shutil
        shutil.rmtree(folder)
    mlflow.xgboost.save_model(binary, folder, signature=infer_signature(sample, np.zeros(2)),
                              pip_requirements=["xgboost"])

    manifest = {
        "binary": os.path.join(out, "binary.ubj"),
        "binary_json": os.path.join(out, "binary.json"),
        "binary_other": os.path.join(out, "binary_other.ubj"),
        "binary_mlflow": folder,
        "binary_columns": names,
        "regression": os.path.join(out, "regression.ubj"),
        "multiclass": os.path.join(out, "multiclass.ubj"),
        "binary_features": BINARY_FEATURES,
        "small_features": SMALL_FEATURES,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    make_models(os.path.abspath(args.out))


if __name__ == "__main__":
    main()
