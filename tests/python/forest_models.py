#!/usr/bin/env python3
"""Trains the models ForestPredictor's agreement tests compare against xgboost.

Run once per xgboost version (the current PyPI one and 1.7.4). Each run writes
OUT/xgb<major>.<minor>/:
  features.f32               the test rows: float32, row-major, ~10% NaN
  <name>.json, <name>.ubj    the booster, saved by xgboost itself
  <name>.margin.f32          xgboost's own predict(output_margin=True)
  <name>.transformed.f32     xgboost's own predict()
  vector_leaf_<objective>.*  (3.2+) multi_strategy="multi_output_tree": every leaf a
                             vector with one value per output
  refuse_<what>.<ext>        models ForestPredictor must refuse
  refuse_<what>.{margin,transformed}.f32
                             for those XGBoostPredictor serves (survival:aft;
                             gblinear where xgboost predicts it in place):
                             xgboost's inplace_predict on features.f32, the
                             call XGBoostPredictor makes
  manifest.json              every model: objective, shapes, files
Predictions come from Booster.predict on a DMatrix (XGBoost's CPU predictor),
stored as raw float32 so the C++ test can compare bits.
"""
import argparse
import json
import os

import numpy as np
import xgboost as xgb

NUM_FEATURES = 12
TRAIN_ROWS = 3000
TEST_ROWS = 3000
NAN_FRACTION = 0.10
ROUNDS = 40


def version_tuple():
    return tuple(int(part) for part in xgb.__version__.split(".")[:2])


def make_features(rng, rows):
    x = rng.normal(size=(rows, NUM_FEATURES)).astype(np.float32)
    x[rng.random(size=x.shape) < NAN_FRACTION] = np.nan
    return x


def score(x):
    f = np.nan_to_num(x, nan=0.0)
    return f[:, 0] + 0.5 * f[:, 1] - f[:, 2] * f[:, 3] + np.sin(f[:, 4])


def objectives(version):
    """name -> (params, label maker, extra DMatrix kwargs maker)."""
    def positive(s):
        return np.exp(0.3 * s).astype(np.float32)

    specs = {
        "squarederror": ({"objective": "reg:squarederror"}, lambda s: 3 * s + 10),
        "squaredlogerror": ({"objective": "reg:squaredlogerror"}, lambda s: positive(s)),
        "pseudohubererror": ({"objective": "reg:pseudohubererror"}, lambda s: 2 * s + 1),
        "logistic_reg": ({"objective": "reg:logistic"}, lambda s: 1 / (1 + np.exp(-s))),
        "binary_logistic": ({"objective": "binary:logistic"}, lambda s: (s > 0.2)),
        "binary_logistic_base": ({"objective": "binary:logistic", "base_score": 0.3},
                                 lambda s: (s > 0.2)),
        "binary_logitraw": ({"objective": "binary:logitraw"}, lambda s: (s > 0.2)),
        "binary_hinge": ({"objective": "binary:hinge"}, lambda s: (s > 0.2)),
        "poisson": ({"objective": "count:poisson"}, lambda s: np.floor(positive(s) * 3)),
        "poisson_base": ({"objective": "count:poisson", "base_score": 2.5},
                         lambda s: np.floor(positive(s) * 3)),
        "gamma": ({"objective": "reg:gamma"}, positive),
        "tweedie": ({"objective": "reg:tweedie", "tweedie_variance_power": 1.4},
                    lambda s: np.where(s > 0, positive(s), 0)),
        "cox": ({"objective": "survival:cox"},
                lambda s: np.where(s > 0, 1, -1) * (1 + np.abs(s))),
        "softprob": ({"objective": "multi:softprob", "num_class": 4},
                     lambda s: np.digitize(s, [-1, 0, 1])),
        "softmax": ({"objective": "multi:softmax", "num_class": 3},
                    lambda s: np.digitize(s, [-0.5, 0.5])),
        "rank_pairwise": ({"objective": "rank:pairwise"}, lambda s: np.digitize(s, [-1, 0, 1])),
        "rank_ndcg": ({"objective": "rank:ndcg"}, lambda s: np.digitize(s, [-1, 0, 1])),
        "rank_map": ({"objective": "rank:map"}, lambda s: (s > 0)),
        "absoluteerror": ({"objective": "reg:absoluteerror"}, lambda s: 3 * s + 10),
        "dart_logistic": ({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3,
                           "skip_drop": 0.0}, lambda s: (s > 0.2)),
        "dart_softprob": ({"objective": "multi:softprob", "num_class": 3, "booster": "dart",
                           "rate_drop": 0.2, "normalize_type": "forest"},
                          lambda s: np.digitize(s, [-0.5, 0.5])),
        "dart_gamma": ({"objective": "reg:gamma", "booster": "dart", "rate_drop": 0.25},
                       positive),
    }
    if version >= (2, 0):
        specs["quantile"] = ({"objective": "reg:quantileerror", "quantile_alpha": 0.7},
                             lambda s: 3 * s + 10)
        # Three quantiles: three output groups, and from 3.1 a base_score vector.
        specs["quantile_vector"] = ({"objective": "reg:quantileerror",
                                     "quantile_alpha": [0.2, 0.5, 0.8]}, lambda s: 3 * s + 10)
        # Two targets, one tree per target (tree_info 0, 1, 0, 1, ...).
        specs["multi_target"] = ({"objective": "reg:squarederror", "tree_method": "hist"},
                                 lambda s: np.stack([3 * s + 10, np.cos(s)], axis=1))
    if version >= (3, 2):
        # Vector leaves, in the layout xgboost 3.2 introduced (leaf_weights).
        vector = {"tree_method": "hist", "multi_strategy": "multi_output_tree"}
        specs["vector_leaf_regression"] = (
            {"objective": "reg:squarederror", **vector},
            lambda s: np.stack([3 * s + 10, np.cos(s), s * s], axis=1))
        specs["vector_leaf_logistic"] = (  # multi-label: one sigmoid per target
            {"objective": "binary:logistic", **vector},
            lambda s: np.stack([s > 0.2, s < -0.5], axis=1))
        specs["vector_leaf_poisson"] = (
            {"objective": "count:poisson", **vector},
            lambda s: np.stack([np.floor(positive(s) * 3), np.floor(positive(-s) * 2)], axis=1))
        specs["vector_leaf_softprob"] = (
            {"objective": "multi:softprob", "num_class": 4, **vector},
            lambda s: np.digitize(s, [-1, 0, 1]))
        specs["vector_leaf_quantile"] = (
            {"objective": "reg:quantileerror", "quantile_alpha": [0.2, 0.5, 0.8], **vector},
            lambda s: 3 * s + 10)
    return specs


def xgboost_only(out, manifest, file, booster, x_test):
    """A model ForestPredictor refuses but the admission gate admits, so that
    XGBoostPredictor serves it: its predictions through XGBoosterPredictFromDense."""
    stem = file.rsplit(".", 1)[0]
    try:
        margin = booster.inplace_predict(x_test, predict_type="margin", missing=np.nan)
        transformed = booster.inplace_predict(x_test, predict_type="value", missing=np.nan)
    except xgb.core.XGBoostError as error:
        # gblinear in 1.7 has no inplace prediction: XGBoostPredictor's
        # warm-up gets libxgboost's error, which the test expects.
        reason = str(error).splitlines()[0].split(": ", 1)[-1]
        manifest["xgboost_only"].append({"file": file, "unsupported": reason})
        return
    save_f32(os.path.join(out, f"{stem}.margin.f32"), margin)
    save_f32(os.path.join(out, f"{stem}.transformed.f32"), transformed)
    rows = x_test.shape[0]
    manifest["xgboost_only"].append({
        "file": file, "rows": rows, "features": "features.f32",
        "outputs": int(np.asarray(transformed).size // rows),
        "margin": f"{stem}.margin.f32", "transformed": f"{stem}.transformed.f32"})


def aft_model(out, manifest, x_train, x_test):
    """survival:aft, which ForestPredictor refuses: xgboost 1.7.4 transforms it
    with float expf, 3.2.0 with double exp (its DMatrix needs label bounds)."""
    s = score(x_train)
    lower = np.exp(0.3 * s).astype(np.float32)
    upper = np.where(s > 0.5, np.inf, lower).astype(np.float32)  # right-censored above 0.5
    dtrain = xgb.DMatrix(x_train)
    dtrain.set_float_info("label_lower_bound", lower)
    dtrain.set_float_info("label_upper_bound", upper)
    params = {"objective": "survival:aft", "aft_loss_distribution": "logistic",
              "aft_loss_distribution_scale": 1.2, "max_depth": 5, "eta": 0.3, "seed": 11,
              "nthread": 1}
    booster = xgb.train(params, dtrain, 3)
    booster.save_model(os.path.join(out, "refuse_aft.ubj"))
    manifest["refuse"].append({"file": "refuse_aft.ubj", "reason": "survival:aft"})
    xgboost_only(out, manifest, "refuse_aft.ubj", booster, x_test)


def save_f32(path, values):
    np.ascontiguousarray(values, dtype="<f4").tofile(path)


def write_model(out, name, booster, dtest, manifest, objective, extra=None):
    for ext in ("json", "ubj"):
        booster.save_model(os.path.join(out, f"{name}.{ext}"))
    margin = booster.predict(dtest, output_margin=True)
    transformed = booster.predict(dtest)
    rows = dtest.num_row()
    save_f32(os.path.join(out, f"{name}.margin.f32"), margin)
    save_f32(os.path.join(out, f"{name}.transformed.f32"), transformed)
    entry = {
        "name": name,
        "objective": objective,
        "rows": rows,
        "margin_outputs": int(np.asarray(margin).size // rows),
        "transformed_outputs": int(np.asarray(transformed).size // rows),
        "features": "features.f32",
    }
    entry.update(extra or {})
    manifest["models"].append(entry)


def categorical_models(rng, out, manifest, version):
    """Numeric + categorical columns, trained from pandas category dtype."""
    import pandas as pd

    cardinalities = [3, 9, 40]

    def frame(rows):
        data = {f"num{i}": rng.normal(size=rows).astype(np.float32) for i in range(3)}
        for i, k in enumerate(cardinalities):
            codes = rng.integers(0, k, size=rows).astype(np.float32)
            codes[rng.random(size=rows) < NAN_FRACTION] = np.nan
            data[f"cat{i}"] = codes
        for i in range(3):
            data[f"num{i}"][rng.random(size=rows) < NAN_FRACTION] = np.nan
        return pd.DataFrame(data)

    def as_categorical(df):
        df = df.copy()
        for i, k in enumerate(cardinalities):
            df[f"cat{i}"] = pd.Categorical(df[f"cat{i}"], categories=list(range(k)))
        return df

    def label(df):
        f = df.fillna(0).to_numpy(dtype=np.float64)
        return (f[:, 0] + np.isin(f[:, 4], [1, 3, 7]) * 2 - (f[:, 5] % 5 == 2) + f[:, 3] % 2)

    train, test = frame(TRAIN_ROWS), frame(TEST_ROWS)
    numeric_test = test.to_numpy(dtype=np.float32)
    save_f32(os.path.join(out, "features_cat.f32"), numeric_test)
    dtrain = xgb.DMatrix(as_categorical(train), label=label(train), enable_categorical=True)
    dtest = xgb.DMatrix(as_categorical(test), enable_categorical=True)
    for name, onehot in (("cat_partition", 1), ("cat_onehot", 64)):
        params = {"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 5,
                  "max_cat_to_onehot": onehot, "seed": 7}
        booster = xgb.train(params, dtrain, ROUNDS)
        write_model(out, name, booster, dtest, manifest, "reg:squarederror",
                    {"features": "features_cat.f32", "num_features": numeric_test.shape[1]})


def category_names_model(out, manifest):
    """xgboost 3.1+ records a model's categories (`cats`) and re-encodes a
    DataFrame whose categories come in another order. inferloop takes rows of
    floats: a categorical feature holds the category's code in the training
    order. The model is trained on string categories listed unsorted; the
    expected outputs are xgboost's predictions on a DataFrame that lists the
    categories in the reverse order (so xgboost must re-encode), and the
    features file holds the training codes."""
    import pandas as pd

    rng = np.random.default_rng(31)  # its own: the other fixtures' rows stay the same
    names = ["sell", "hold", "buy", "halt", "auction", "closed"]

    def frame(rows, categories):
        values = rng.choice(names, size=rows)
        data = pd.DataFrame({"num0": rng.normal(size=rows).astype(np.float32),
                             "venue": pd.Categorical(values, categories=categories)})
        data.loc[rng.random(size=rows) < NAN_FRACTION, "venue"] = np.nan
        return data

    train = frame(TRAIN_ROWS, names)
    label = train["num0"].fillna(0).to_numpy() + train["venue"].isin(["buy", "auction"]) * 2.0
    booster = xgb.train({"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 4,
                         "max_cat_to_onehot": 1, "seed": 7},
                        xgb.DMatrix(train, label=label, enable_categorical=True), ROUNDS)
    test = frame(TEST_ROWS, names)
    reordered = test.copy()
    reordered["venue"] = reordered["venue"].cat.reorder_categories(list(reversed(names)))
    dreordered = xgb.DMatrix(reordered, enable_categorical=True)
    # The re-encoding is what makes the reversed order predict the same.
    assert np.array_equal(booster.predict(dreordered),
                          booster.predict(xgb.DMatrix(test, enable_categorical=True)))
    codes = test["venue"].cat.codes.to_numpy().astype(np.float32)
    codes[codes < 0] = np.nan
    numeric_test = np.stack([test["num0"].to_numpy(dtype=np.float32), codes], axis=1)
    save_f32(os.path.join(out, "features_cat_names.f32"), numeric_test)
    write_model(out, "cat_names_recoded", booster, dreordered, manifest, "reg:squarederror",
                {"features": "features_cat_names.f32", "num_features": 2})


def refused_models(rng, out, manifest, version, x_test):
    x = make_features(rng, 500)
    y = score(x)
    dtrain = xgb.DMatrix(x, label=y)
    linear = xgb.train({"booster": "gblinear", "objective": "reg:squarederror"}, dtrain, 3)
    linear.save_model(os.path.join(out, "refuse_gblinear.json"))
    manifest["refuse"].append({"file": "refuse_gblinear.json", "reason": "gblinear"})
    xgboost_only(out, manifest, "refuse_gblinear.json", linear, x_test)
    if version < (2, 0):
        tree = xgb.train({"objective": "reg:squarederror"}, dtrain, 3)
        # Versions before 2.1 write the legacy binary format for an unknown extension.
        tree.save_model(os.path.join(out, "refuse_legacy.bin"))
        manifest["refuse"].append({"file": "refuse_legacy.bin", "reason": "legacy binary"})
    if version >= (3, 2):
        # Vector leaves in the layout of xgboost 2.0-3.1, which 3.2 no longer
        # loads: made from a 3.2 model by dropping leaf_weights (the earlier
        # layout's leaves keep their vectors in base_weights, as 3.2's do too).
        dmulti = xgb.DMatrix(x, label=np.stack([y, -y], axis=1))
        multi = xgb.train({"tree_method": "hist", "multi_strategy": "multi_output_tree",
                           "objective": "reg:squarederror"}, dmulti, 3)
        document = json.loads(multi.save_raw("json"))
        document["version"] = [3, 1, 3]
        for tree in document["learner"]["gradient_booster"]["model"]["trees"]:
            del tree["leaf_weights"]
        with open(os.path.join(out, "refuse_vector_leaf_before_3_2.json"), "w") as f:
            json.dump(document, f)
        manifest["refuse"].append({"file": "refuse_vector_leaf_before_3_2.json",
                                   "reason": "vector leaf layout before 3.2"})


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="folder to write xgb<major>.<minor>/ into")
    args = parser.parse_args()
    version = version_tuple()
    out = os.path.join(args.out, f"xgb{version[0]}.{version[1]}")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240605)

    x_train, x_test = make_features(rng, TRAIN_ROWS), make_features(rng, TEST_ROWS)
    # Extremes the split test must treat like xgboost (which rejects infinities in a
    # DMatrix): a row of all NaN and the largest finite floats.
    x_test[0, :] = np.nan
    x_test[1, :6] = np.finfo(np.float32).max
    x_test[2, :6] = -np.finfo(np.float32).max
    save_f32(os.path.join(out, "features.f32"), x_test)
    s_train = score(x_train)
    dtest = xgb.DMatrix(x_test)
    manifest = {"xgboost_version": xgb.__version__, "num_features": NUM_FEATURES, "models": [],
                "refuse": [], "xgboost_only": []}

    for name, (params, make_label) in objectives(version).items():
        label = np.asarray(make_label(s_train), dtype=np.float32)
        dtrain = xgb.DMatrix(x_train, label=label)
        if params["objective"].startswith("rank:"):
            dtrain.set_group([100] * (TRAIN_ROWS // 100))
        full = {"max_depth": 5, "eta": 0.3, "seed": 11, "nthread": 1, **params}
        booster = xgb.train(full, dtrain, ROUNDS)
        write_model(out, name, booster, dtest, manifest, params["objective"],
                    {"num_features": NUM_FEATURES})

    aft_model(out, manifest, x_train, x_test)
    categorical_models(rng, out, manifest, version)
    if version >= (3, 1):
        category_names_model(out, manifest)
    refused_models(rng, out, manifest, version, x_test)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest['models'])} models to {out}")


if __name__ == "__main__":
    main()
