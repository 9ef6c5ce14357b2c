#!/usr/bin/env python3
"""LightGBM models and best-run experiments on the tracking server that
tests/python/mlflow_fixtures.py started, for tests/mlflow/mlflow_lightgbm_test.cpp
and tests/mlflow/best_run_cli_check.py.

  make --work DIR
      Reads DIR/state.json (the server's tracking_uri, features.csv: 200 rows
      of 5 float32 features with NaNs). With the venv's lightgbm and MLflow's
      own Python client it trains small binary LightGBM models on 5 features
      and logs (runs FINISHED unless said otherwise; every model logged with
      mlflow.lightgbm.log_model(name="model")):
        experiment "inferloop-best-run", in this order:
          worse      loss 0.30, model
          no-metric  accuracy 0.99 (no loss), model
          best       loss 0.10, model; registered as "inferloop-lgb" version 1,
                     alias "champion"
          nan        loss NaN, model
          highest    loss 0.90, model (the best with --mode max)
          failed     loss 0.01, model, status FAILED
          running    loss 0.001, no model, never ended (RUNNING)
        "inferloop-best-run-tie": tie-first, tie-second, both loss 0.5, a model each
        "inferloop-best-run-two-models": one run, loss 0.1, models "model" and
                     "challenger"
        "inferloop-best-run-no-model": one run, loss 0.1, no model
        "inferloop-best-run-empty": no runs
      Writes DIR/lightgbm.json:
        {"registered_model", "alias", "version", "experiments": {label: name},
         "runs": {label: run_id}, "models": {label: model_id},
         "expected_bits": {label: [uint32]}}
      expected_bits: lightgbm's own Booster(model_file=...).predict() on the
      rows of features.csv (float32, as inferloop reads them), each float64
      prediction narrowed to float32, as ForestPredictor delivers it.
      Runs in ~20 s; MLflow prints to stderr only.
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from server_env import OFFLINE  # noqa: E402

REGISTERED_MODEL = "inferloop-lgb"
ALIAS = "champion"
EXPERIMENTS = {
    "main": "inferloop-best-run",
    "tie": "inferloop-best-run-tie",
    "two_models": "inferloop-best-run-two-models",
    "no_model": "inferloop-best-run-no-model",
    "empty": "inferloop-best-run-empty",
}
NUM_FEATURES = 5


def read_features(path):
    import numpy as np
    rows = []
    with open(path) as f:
        for line in f:
            rows.append([float("nan") if cell == "nan" else float(cell) for cell in line.strip().split(",")])
    return np.array(rows, dtype=np.float32)


def train(seed):
    import lightgbm as lgb
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, NUM_FEATURES)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.05] = np.nan
    filled = np.nan_to_num(x, nan=0.0)
    y = ((filled @ rng.normal(size=NUM_FEATURES) + 0.5 * filled[:, 1] * filled[:, 4]) > 0).astype(np.float32)
    return lgb.train({"objective": "binary", "num_leaves": 8, "learning_rate": 0.3, "num_threads": 1,
                      "seed": seed, "deterministic": True, "verbose": -1},
                     lgb.Dataset(x, label=y), num_boost_round=20)


def expected_bits(booster, rows):
    """lightgbm's predictions of the booster as saved (what inferloop reads), as float32 bits."""
    import lightgbm as lgb
    import numpy as np
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.txt")
        booster.save_model(path)
        predicted = lgb.Booster(model_file=path).predict(rows)
    return [int(b) for b in predicted.astype(np.float32).view(np.uint32)]


def make(args):
    with open(os.path.join(args.work, "state.json")) as f:
        state = json.load(f)
    for key, value in dict(OFFLINE, PYTHONWARNINGS="ignore").items():
        os.environ.setdefault(key, value)
    import warnings
    warnings.filterwarnings("ignore")
    import mlflow
    import mlflow.lightgbm
    mlflow.set_tracking_uri(state["tracking_uri"])
    client = mlflow.MlflowClient(state["tracking_uri"])
    rows = read_features(state["features_csv"])
    out = {"registered_model": REGISTERED_MODEL, "alias": ALIAS, "experiments": EXPERIMENTS,
           "runs": {}, "models": {}, "expected_bits": {}}
    seed = [100]

    def log_model(label, name="model", registered=None):
        seed[0] += 1
        booster = train(seed[0])
        info = mlflow.lightgbm.log_model(booster, name=name, registered_model_name=registered,
                                         pip_requirements=["lightgbm"])
        out["models"][label if name == "model" else f"{label}/{name}"] = info.model_id
        out["expected_bits"][label] = expected_bits(booster, rows)
        return info

    def run(experiment, label, metrics, models=("model",), status="FINISHED", registered=None):
        mlflow.set_experiment(EXPERIMENTS[experiment])
        with mlflow.start_run(run_name=label) as active:
            out["runs"][label] = active.info.run_id
            for key, value in metrics.items():
                mlflow.log_metric(key, value)
            for name in models:
                info = log_model(label, name, registered)
                if registered:
                    out["version"] = str(info.registered_model_version)
            if status != "FINISHED":
                mlflow.end_run(status=status)
        # Distinct start times, so that "started first" is well defined.
        time.sleep(0.02)

    run("main", "worse", {"loss": 0.30})
    run("main", "no-metric", {"accuracy": 0.99})
    run("main", "best", {"loss": 0.10}, registered=REGISTERED_MODEL)
    run("main", "nan", {"loss": math.nan})
    run("main", "highest", {"loss": 0.90})
    run("main", "failed", {"loss": 0.01}, status="FAILED")
    experiment_id = mlflow.get_experiment_by_name(EXPERIMENTS["main"]).experiment_id
    running = client.create_run(experiment_id, run_name="running")
    client.log_metric(running.info.run_id, "loss", 0.001)
    out["runs"]["running"] = running.info.run_id
    client.set_registered_model_alias(REGISTERED_MODEL, ALIAS, out["version"])

    run("tie", "tie-first", {"loss": 0.5})
    run("tie", "tie-second", {"loss": 0.5})
    run("two_models", "two-models", {"loss": 0.1}, models=("model", "challenger"))
    run("no_model", "no-model", {"loss": 0.1}, models=())
    mlflow.set_experiment(EXPERIMENTS["empty"])

    with open(os.path.join(args.work, "lightgbm.json.tmp"), "w") as f:
        json.dump(out, f, indent=1)
    os.replace(os.path.join(args.work, "lightgbm.json.tmp"), os.path.join(args.work, "lightgbm.json"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["make"])
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    args.work = os.path.abspath(args.work)
    # MLflow prints "View run ..." lines on stdout.
    sys.stdout = sys.stderr
    make(args)


if __name__ == "__main__":
    main()
