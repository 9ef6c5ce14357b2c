#!/usr/bin/env python3
"""Trains the small real XGBoost models inferloop's model tests load.

Run once per xgboost version (the current PyPI one and 1.7.4, Debian's
libxgboost): each run writes OUT/xgb<major>.<minor>/ holding, for binary:logistic,
reg:squarederror and multi:softprob (3 classes):
  <name>.json, <name>.ubj          the booster saved by xgboost itself
  <name>.bin                       (xgboost 1.x only) the legacy binary format
  <name>_mlflow/                   mlflow.xgboost.save_model, with a signature
  <name>.transformed.hex, <name>.margin.hex
                                   xgboost's own predictions for features.csv,
                                   one row per line, float32 bits as hex, so
                                   the comparison is bit for bit
and features.csv (the test rows, ~5% NaN plus one all-NaN row) and
manifest.json describing all of it.
"""
import argparse
import json
import os
import sys

import numpy as np
import xgboost as xgb

NUM_FEATURES = 5
TRAIN_ROWS = 400
TEST_ROWS = 60
FEATURE_NAMES = [f"f{i}" for i in range(NUM_FEATURES)]

OBJECTIVES = {
    "binary": {"objective": "binary:logistic"},
    "regression": {"objective": "reg:squarederror"},
    "multiclass": {"objective": "multi:softprob", "num_class": 3},
}


def make_data(rng, rows):
    x = rng.normal(size=(rows, NUM_FEATURES)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.05] = np.nan
    return x


def labels(name, x):
    filled = np.nan_to_num(x, nan=0.0)
    score = filled[:, 0] + 0.5 * filled[:, 1] - filled[:, 2] * filled[:, 3]
    if name == "binary":
        return (score > 0).astype(np.float32)
    if name == "regression":
        return (3.0 * score + 10.0).astype(np.float32)
    return np.digitize(score, [-0.5, 0.5]).astype(np.float32)


def hex_rows(values, rows):
    bits = np.ascontiguousarray(values, dtype=np.float32).reshape(rows, -1).view(np.uint32)
    return "".join(",".join(f"{b:08x}" for b in row) + "\n" for row in bits)


def format_float(value):
    # repr() of a float32 widened to double round-trips the float32 exactly.
    return "nan" if np.isnan(value) else repr(float(value))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="folder to write xgb<maj>.<min>/ into")
    args = parser.parse_args()

    version = [int(part) for part in xgb.__version__.split(".")[:3]]
    out = os.path.join(args.out, f"xgb{version[0]}.{version[1]}")
    os.makedirs(out, exist_ok=True)

    import mlflow.xgboost
    import pandas as pd
    from mlflow.models import infer_signature

    rng = np.random.default_rng(20240611)
    x_train = make_data(rng, TRAIN_ROWS)
    x_test = make_data(rng, TEST_ROWS)
    x_test[0, :] = np.nan  # every feature missing: all default branches

    with open(os.path.join(out, "features.csv"), "w") as f:
        f.write(",".join(FEATURE_NAMES) + "\n")
        for row in x_test:
            f.write(",".join(format_float(v) for v in row) + "\n")

    manifest = {"xgboost_version": version, "num_features": NUM_FEATURES, "rows": TEST_ROWS,
                "features_csv": "features.csv", "models": []}
    for name, params in OBJECTIVES.items():
        dtrain = xgb.DMatrix(x_train, label=labels(name, x_train), missing=np.nan,
                             feature_names=FEATURE_NAMES)
        booster = xgb.train({**params, "max_depth": 4, "eta": 0.3, "nthread": 1, "seed": 7},
                            dtrain, num_boost_round=15)
        booster.save_model(os.path.join(out, f"{name}.json"))
        booster.save_model(os.path.join(out, f"{name}.ubj"))
        if version[0] < 2:
            # The legacy binary format (the default of xgboost < 2.1 for any
            # other extension), which libxgboost 3.1+ no longer reads.
            booster.save_model(os.path.join(out, f"{name}.bin"))

        # inplace_predict goes through XGBoosterPredictFromDense, the call
        # inferloop makes, on a float32 dense array with NaN as missing.
        transformed = booster.inplace_predict(x_test, predict_type="value", missing=np.nan)
        margin = booster.inplace_predict(x_test, predict_type="margin", missing=np.nan)
        num_outputs = int(np.asarray(transformed).size // TEST_ROWS)
        with open(os.path.join(out, f"{name}.transformed.hex"), "w") as f:
            f.write(hex_rows(transformed, TEST_ROWS))
        with open(os.path.join(out, f"{name}.margin.hex"), "w") as f:
            f.write(hex_rows(margin, TEST_ROWS))

        mlflow_dir = os.path.join(out, f"{name}_mlflow")
        if os.path.exists(mlflow_dir):
            import shutil
            shutil.rmtree(mlflow_dir)
        frame = pd.DataFrame(x_test, columns=FEATURE_NAMES)
        signature = infer_signature(frame, np.asarray(transformed))
        mlflow.xgboost.save_model(booster, mlflow_dir, signature=signature)

        manifest["models"].append({
            "name": name, "objective": params["objective"], "num_outputs": num_outputs,
            "json": f"{name}.json", "ubj": f"{name}.ubj", "mlflow": f"{name}_mlflow",
            "legacy_binary": f"{name}.bin" if version[0] < 2 else None,
            "transformed": f"{name}.transformed.hex", "margin": f"{name}.margin.hex"})

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {out} (xgboost {xgb.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
