#!/usr/bin/env python3
"""`inferloop predict --predictor ForestPredictor` on every model fixture that
make_models.py wrote (tests/model), both output kinds, checked against
xgboost's own predictions bit for bit.

Unlike XGBoostPredictor, ForestPredictor reads models saved by any xgboost, so
the models of an xgboost newer than the linked libxgboost are scored too, not
refused: that is the point of this check.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from check_agreement import check_scored, read_expected


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inferloop", required=True, help="the inferloop CLI")
    parser.add_argument("--fixtures", required=True,
                        help="folder holding xgb<maj>.<min>/ written by make_models.py")
    args = parser.parse_args()
    folders = sorted(d for d in os.listdir(args.fixtures) if d.startswith("xgb"))
    failures = []
    checked = 0
    with tempfile.TemporaryDirectory() as scratch:
        for folder in folders:
            root = os.path.join(args.fixtures, folder)
            with open(os.path.join(root, "manifest.json")) as f:
                manifest = json.load(f)
            features = os.path.join(root, manifest["features_csv"])
            for model in manifest["models"]:
                for kind in ("transformed", "margin"):
                    label = f"{folder}/{model['mlflow']} ({kind})"
                    output = os.path.join(scratch, f"{folder}-{model['name']}-{kind}.csv")
                    run = subprocess.run(
                        [args.inferloop, "predict", "--predictor", "ForestPredictor",
                         "--model-uri", os.path.join(root, model["mlflow"]),
                         "--output-kind", kind, "--input", features, "--output", output],
                        capture_output=True, text=True)
                    if run.returncode != 0:
                        failures.append(f"{label}: exit {run.returncode}: {run.stderr.strip()}")
                        continue
                    failures += check_scored(output, features, read_expected(
                        os.path.join(root, model[kind])), model["num_outputs"], label)
                    checked += 1
    for failure in failures[:40]:
        print("FAIL", failure)
    print(f"ForestPredictor: {checked} model/output pairs from {len(folders)} xgboost versions "
          f"scored by inferloop predict, {len(failures)} failures")
    if len(folders) < 2 or checked == 0:
        print("FAIL: expected the models of two xgboost versions")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
