#!/usr/bin/env python3
"""Trains the LightGBM models the LightGBM agreement tests compare against.

Run with the venv that has lightgbm (scripts/requirements.txt). Writes
OUT/lgb<major>.<minor>/:
  features.f32               the test rows: float32, row-major; ~10% NaN, exact
                             zeros, values inside and at LightGBM's zero band
                             (|x| <= 1e-35f counts as zero), +-inf, +-FLT_MAX
  features_cat.f32           the same for the categorical models: the
                             categorical columns hold codes, with negative,
                             fractional, huge and NaN codes mixed in
  <name>.txt                 the booster, saved by lightgbm itself (save_model)
  <name>.raw.f64             lightgbm's own predict(raw_score=True), float64
  <name>.transformed.f64     lightgbm's own predict(), float64
  refuse_<what>.txt          models inferloop must refuse (linear_tree)
  mlflow_binary/             the binary model saved by mlflow.lightgbm.save_model
                             (an MLflow model folder with the lightgbm flavor)
  manifest.json              every model: objective, shapes, files
Predictions come from Booster(model_file=...).predict on the float32 rows (the
C API reads them as float and widens each to double, as inferloop does),
stored as raw float64 so that the C++ test can compare bits.
"""
import argparse
import json
import os

import lightgbm as lgb
import numpy as np

NUM_FEATURES = 10
TRAIN_ROWS = 3000
TEST_ROWS = 3000
NAN_FRACTION = 0.10
ZERO_FRACTION = 0.05
ROUNDS = 30
ZERO_BAND = float(np.float32(1e-35))  # LightGBM's kZeroThreshold: 1e-35f widened to double


def make_features(rng, rows):
    x = rng.normal(size=(rows, NUM_FEATURES)).astype(np.float32)
    x[rng.random(size=x.shape) < ZERO_FRACTION] = 0.0
    x[rng.random(size=x.shape) < NAN_FRACTION] = np.nan
    return x


def add_edge_rows(x):
    """Rows the split test must treat exactly as LightGBM does."""
    tiny = np.float32(ZERO_BAND)
    edges = [
        np.full(NUM_FEATURES, np.nan),
        np.zeros(NUM_FEATURES),
        np.full(NUM_FEATURES, -0.0),
        np.full(NUM_FEATURES, tiny),                     # inside the zero band: zero
        np.full(NUM_FEATURES, -tiny),
        np.full(NUM_FEATURES, np.nextafter(tiny, np.float32(1))),  # just outside it
        np.full(NUM_FEATURES, np.float32(1e-38)),        # a float32 subnormal-adjacent value
        np.full(NUM_FEATURES, np.finfo(np.float32).max),
        np.full(NUM_FEATURES, -np.finfo(np.float32).max),
        np.full(NUM_FEATURES, np.inf),
        np.full(NUM_FEATURES, -np.inf),
    ]
    for i, row in enumerate(edges):
        x[i, :] = row
    return x


def score(x):
    f = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return f[:, 0] + 0.5 * f[:, 1] - f[:, 2] * f[:, 3] + np.sin(f[:, 4]) + (f[:, 5] == 0) * 0.7


def save(path, values, dtype):
    np.ascontiguousarray(values, dtype=dtype).tofile(path)


def write_model(out, name, booster, x_test, manifest, objective, features="features.f32",
                extra=None):
    path = os.path.join(out, f"{name}.txt")
    booster.save_model(path)
    loaded = lgb.Booster(model_file=path)  # what inferloop reads: the file
    raw = loaded.predict(x_test, raw_score=True)
    transformed = loaded.predict(x_test)
    rows = x_test.shape[0]
    save(os.path.join(out, f"{name}.raw.f64"), raw, "<f8")
    save(os.path.join(out, f"{name}.transformed.f64"), transformed, "<f8")
    entry = {
        "name": name,
        "objective": objective,
        "rows": rows,
        "num_features": int(x_test.shape[1]),
        "outputs": int(np.asarray(transformed).size // rows),
        "trees": int(loaded.num_trees()),
        "features": features,
    }
    entry.update(extra or {})
    manifest["models"].append(entry)


def objectives():
    """name -> (params, label maker). Each objective LightGBM can save."""
    def positive(s):
        return np.exp(0.3 * s)

    return {
        "binary": ({"objective": "binary"}, lambda s: s > 0.2),
        # A sigmoid other than 1: LightGBM reads it back with its own Atof.
        "binary_sigmoid": ({"objective": "binary", "sigmoid": 0.7}, lambda s: s > 0.2),
        "multiclass": ({"objective": "multiclass", "num_class": 4},
                       lambda s: np.digitize(s, [-1, 0, 1])),
        "multiclassova": ({"objective": "multiclassova", "num_class": 3, "sigmoid": 1.3},
                          lambda s: np.digitize(s, [-0.5, 0.5])),
        "regression": ({"objective": "regression"}, lambda s: 3 * s + 10),
        "regression_sqrt": ({"objective": "regression", "reg_sqrt": True},
                            lambda s: 3 * s + 1),
        "regression_l1": ({"objective": "regression_l1"}, lambda s: 3 * s + 10),
        "huber": ({"objective": "huber"}, lambda s: 3 * s + 10),
        "fair": ({"objective": "fair"}, lambda s: 3 * s + 10),
        "quantile": ({"objective": "quantile", "alpha": 0.7}, lambda s: 3 * s + 10),
        "mape": ({"objective": "mape"}, lambda s: 3 * s + 20),
        "poisson": ({"objective": "poisson"}, lambda s: np.floor(positive(s) * 3)),
        "gamma": ({"objective": "gamma"}, positive),
        "tweedie": ({"objective": "tweedie", "tweedie_variance_power": 1.4},
                    lambda s: np.where(s > 0, positive(s), 0)),
        "cross_entropy": ({"objective": "cross_entropy"}, lambda s: 1 / (1 + np.exp(-s))),
        "cross_entropy_lambda": ({"objective": "cross_entropy_lambda"},
                                 lambda s: 1 / (1 + np.exp(-s))),
        "lambdarank": ({"objective": "lambdarank"}, lambda s: np.digitize(s, [-1, 0, 1])),
        "rank_xendcg": ({"objective": "rank_xendcg"}, lambda s: np.digitize(s, [-1, 0, 1])),
        # Random forest: the transformed output averages the trees (average_output).
        "rf_binary": ({"objective": "binary", "boosting": "rf", "bagging_freq": 1,
                       "bagging_fraction": 0.7, "feature_fraction": 0.8}, lambda s: s > 0.2),
        "dart_regression": ({"objective": "regression", "boosting": "dart", "drop_rate": 0.3},
                            lambda s: 3 * s + 10),
        # zero_as_missing: every split has missing_type Zero (NaN counts as zero too).
        "zero_as_missing": ({"objective": "regression", "zero_as_missing": True},
                            lambda s: 3 * s + 10),
        # use_missing=false: missing_type None, NaN goes where 0 goes.
        "no_missing": ({"objective": "binary", "use_missing": False}, lambda s: s > 0.2),
    }


def categorical_models(rng, out, manifest):
    """Columns 6..9 categorical (LightGBM's bitset splits), 0..5 numeric."""
    cardinalities = [3, 12, 40, 70]

    def frame(rows, test):
        x = make_features(rng, rows)
        for i, k in enumerate(cardinalities):
            codes = rng.integers(0, k, size=rows).astype(np.float32)
            codes[rng.random(size=rows) < NAN_FRACTION] = np.nan
            if test:
                # What a caller may send: negative, fractional, huge codes.
                odd = rng.random(size=rows)
                codes[odd < 0.02] = -1.0
                codes[(odd >= 0.02) & (odd < 0.04)] = -0.5
                codes[(odd >= 0.04) & (odd < 0.06)] += 0.75
                codes[(odd >= 0.06) & (odd < 0.07)] = 1e10
                codes[(odd >= 0.07) & (odd < 0.08)] = 2147483647.0
                codes[(odd >= 0.08) & (odd < 0.09)] = 5000.0
            x[:, 6 + i] = codes
        return x

    def label(x):
        f = np.nan_to_num(x, nan=0.0)
        return (f[:, 0] + np.isin(f[:, 6], [1]) * 2 - (f[:, 7] % 5 == 2)
                + np.isin(f[:, 8], [3, 7, 11, 30]) * 1.5 + (f[:, 9] % 3 == 0))

    x_train, x_test = frame(TRAIN_ROWS, False), frame(TEST_ROWS, True)
    x_test[0, :] = np.nan
    save(os.path.join(out, "features_cat.f32"), x_test, "<f4")
    categorical = list(range(6, 10))
    for name, params in (
        ("cat_regression", {"objective": "regression", "max_cat_to_onehot": 4}),
        ("cat_binary", {"objective": "binary", "max_cat_to_onehot": 4, "cat_smooth": 1.0}),
        ("cat_multiclass", {"objective": "multiclass", "num_class": 3, "max_cat_to_onehot": 64}),
    ):
        y = label(x_train)
        if params["objective"] == "binary":
            y = y > 1.0
        elif params["objective"] == "multiclass":
            y = np.digitize(y, [0.5, 1.5])
        data = lgb.Dataset(x_train, label=y, categorical_feature=categorical,
                           free_raw_data=False)
        full = {"num_leaves": 31, "learning_rate": 0.2, "seed": 11, "num_threads": 1,
                "verbose": -1, "min_data_per_group": 5, **params}
        booster = lgb.train(full, data, ROUNDS)
        write_model(out, name, booster, x_test, manifest, params["objective"],
                    "features_cat.f32", {"categorical": True})


def refused_models(rng, out, manifest):
    x = make_features(rng, 600)
    y = score(x)
    params = {"objective": "regression", "linear_tree": True, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), 3)
    booster.save_model(os.path.join(out, "refuse_linear_tree.txt"))
    manifest["refuse"].append({"file": "refuse_linear_tree.txt", "reason": "linear_tree"})


def mlflow_folder(out, x_test):
    """The binary model as mlflow.lightgbm saves it, with a signature."""
    import shutil

    import mlflow.lightgbm
    from mlflow.models import infer_signature

    folder = os.path.join(out, "mlflow_binary")
    shutil.rmtree(folder, ignore_errors=True)
    booster = lgb.Booster(model_file=os.path.join(out, "binary.txt"))
    mlflow.lightgbm.save_model(booster, folder,
                               signature=infer_signature(x_test[:5], booster.predict(x_test[:5])))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="folder to write lgb<major>.<minor>/ into")
    args = parser.parse_args()
    major, minor = (int(part) for part in lgb.__version__.split(".")[:2])
    out = os.path.join(args.out, f"lgb{major}.{minor}")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20241128)

    x_train = make_features(rng, TRAIN_ROWS)
    x_test = add_edge_rows(make_features(rng, TEST_ROWS))
    save(os.path.join(out, "features.f32"), x_test, "<f4")
    s_train = score(x_train)
    manifest = {"lightgbm_version": lgb.__version__, "models": [], "refuse": []}

    for name, (params, make_label) in objectives().items():
        label = np.asarray(make_label(s_train), dtype=np.float64)
        data = lgb.Dataset(x_train, label=label)
        if params["objective"] in ("lambdarank", "rank_xendcg"):
            data.set_group([100] * (TRAIN_ROWS // 100))
        full = {"num_leaves": 31, "learning_rate": 0.2, "seed": 11, "num_threads": 1,
                "verbose": -1, "deterministic": True, **params}
        booster = lgb.train(full, data, ROUNDS)
        write_model(out, name, booster, x_test, manifest, params["objective"])

    categorical_models(rng, out, manifest)
    refused_models(rng, out, manifest)
    mlflow_folder(out, x_test)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest['models'])} models to {out}")


if __name__ == "__main__":
    main()
