#!/usr/bin/env python3
"""`inferloop predict` on LightGBM models, end to end.

Scores the first rows of the LightGBM fixtures (tests/python/lightgbm_models.py)
through the CLI with ForestPredictor and, with --lightgbm-c-api, LightGBMPredictor,
from the model file and from the MLflow lightgbm-flavor folder, raw and
transformed, and requires every output to equal lightgbm's own double
prediction rounded once to float32 (the Predictor interface carries float32).
The rows include NaN, +-inf and zeros, written as the CSV reader takes them.
With --lightgbm-c-api it also points INFERLOOP_LIGHTGBM_LIBRARY at a missing
file and requires a clear refusal instead of a crash.
"""
import argparse
import csv
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

ROWS = 300


def cell(value):
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


def refuses_missing_library(inferloop, root, input_csv, scratch):
    """LightGBMPredictor with no LightGBM library to load: exit 1, a message naming the file."""
    missing = os.path.join(scratch, "no-such-lib_lightgbm.so")
    run = subprocess.run([inferloop, "predict", "--model-uri", os.path.join(root, "binary.txt"),
                          "--input", input_csv, "--output", os.path.join(scratch, "never.csv"),
                          "--predictor", "LightGBMPredictor"],
                         env={**os.environ, "INFERLOOP_LIGHTGBM_LIBRARY": missing},
                         capture_output=True, text=True)
    wanted = ("cannot load LightGBM's C library", missing, "ForestPredictor")
    if run.returncode != 1 or not all(text in run.stderr for text in wanted):
        print(f"FAIL missing library: exit {run.returncode}, stderr: {run.stderr[-2000:]}")
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inferloop", required=True, help="the inferloop CLI binary")
    parser.add_argument("--fixtures", required=True, help="the folder holding lgb<major>.<minor>/")
    parser.add_argument("--lightgbm-c-api", action="store_true",
                        help="this build has LightGBMPredictor (LightGBM's C header)")
    args = parser.parse_args()
    predictors = ["ForestPredictor"] + (["LightGBMPredictor"] if args.lightgbm_c_api else [])
    folders = glob.glob(os.path.join(args.fixtures, "lgb*"))
    if len(folders) != 1:
        sys.exit(f"expected one lgb* folder in {args.fixtures}, found {folders}")
    root = folders[0]
    features = np.fromfile(os.path.join(root, "features.f32"), dtype="<f4").reshape(-1, 10)[:ROWS]
    failures = checked = 0
    with tempfile.TemporaryDirectory() as scratch:
        input_csv = os.path.join(scratch, "features.csv")
        with open(input_csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([f"f{i}" for i in range(features.shape[1])])
            for row in features:
                writer.writerow([cell(v) for v in row])
        cases = [(predictor, name, uri, kind, suffix) for predictor in predictors
                 for name, uri in (("binary", "binary.txt"), ("binary", "mlflow_binary"),
                                   ("multiclass", "multiclass.txt"))
                 for kind, suffix in (("transformed", "transformed"), ("margin", "raw"))]
        for predictor, name, uri, kind, suffix in cases:
            want = np.fromfile(os.path.join(root, f"{name}.{suffix}.f64"), dtype="<f8")
            output_csv = os.path.join(scratch, "out.csv")
            subprocess.run([args.inferloop, "predict", "--model-uri", os.path.join(root, uri),
                            "--input", input_csv, "--output", output_csv,
                            "--predictor", predictor, "--output-kind", kind],
                           check=True, stdout=subprocess.DEVNULL)
            with open(output_csv) as f:
                rows = list(csv.DictReader(f))
            columns = [c for c in rows[0] if c.startswith("prediction")]
            got = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float32)
            expected = want[: ROWS * len(columns)].astype(np.float32).reshape(ROWS, -1)
            differ = int(np.sum(got.view(np.uint32) != expected.view(np.uint32)))
            checked += 1
            if differ:
                failures += 1
                print(f"FAIL {predictor} {uri} {kind}: {differ} outputs differ from lightgbm's")
        if args.lightgbm_c_api:
            checked += 1
            failures += not refuses_missing_library(args.inferloop, root, input_csv, scratch)
    print(f"LightGBM through inferloop predict: {checked} checks, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
