#!/usr/bin/env python3
"""Scores every fixture model with the real `inferloop predict` and checks
each prediction against xgboost's own, bit for bit (float32 bit patterns, so
NaN rows and signed zeros count too).

For models saved by a newer xgboost than the one inferloop links (found with
`inferloop version`), it checks the opposite: exit status 1 and an error that
names both versions.
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile


def float_bits(text):
    return struct.unpack("<I", struct.pack("<f", float(text)))[0]


def read_expected(path):
    with open(path) as f:
        return [[int(cell, 16) for cell in line.strip().split(",")] for line in f if line.strip()]


def linked_version(cli):
    out = subprocess.run([cli, "version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\(xgboost (\d+)\.(\d+)\.(\d+)\)", out)
    if not match:
        raise SystemExit(f"cannot read the linked xgboost version from `{cli} version`: {out!r}")
    return tuple(int(part) for part in match.groups())


def check_scored(output_csv, features_csv, expected, num_outputs, label):
    with open(output_csv) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    with open(features_csv) as f:
        feature_lines = [line.rstrip("\n") for line in f if line.strip()]
    header = lines[0].split(",")
    feature_header = feature_lines[0].split(",")
    names = ["prediction"] if num_outputs == 1 else [f"prediction_{k}" for k in range(num_outputs)]
    failures = []
    if header != feature_header + names:
        failures.append(f"{label}: header {header} != {feature_header + names}")
    if len(lines) - 1 != len(expected):
        failures.append(f"{label}: {len(lines) - 1} output rows, expected {len(expected)}")
    for row, (line, feature_line, want) in enumerate(zip(lines[1:], feature_lines[1:], expected)):
        cells = line.split(",")
        # The input columns come back unchanged (same float32 bits).
        inputs = cells[:len(feature_header)]
        if [float_bits(c) if not math.isnan(float(c)) else "nan" for c in inputs] != \
           [float_bits(c) if not math.isnan(float(c)) else "nan" for c in feature_line.split(",")]:
            failures.append(f"{label}: row {row + 1}: input columns changed: {inputs}")
        got = [float_bits(c) for c in cells[len(feature_header):]]
        if got != want:
            failures.append(f"{label}: row {row + 1}: got " +
                            ",".join(f"{b:08x}" for b in got) + " expected " +
                            ",".join(f"{b:08x}" for b in want))
    return failures


def check_errors(cli, fixtures, folders, linked, scratch):
    """The CLI's own errors: a header that does not match the MLmodel
    signature (exit 1, both names), and a usage error (exit 2)."""
    failures = []
    for folder in folders:
        root = os.path.join(fixtures, folder)
        with open(os.path.join(root, "manifest.json")) as f:
            manifest = json.load(f)
        if tuple(manifest["xgboost_version"])[:2] > linked[:2]:
            continue
        with open(os.path.join(root, manifest["features_csv"])) as f:
            lines = f.read().splitlines()
        renamed = os.path.join(scratch, "renamed.csv")
        with open(renamed, "w") as f:
            f.write("\n".join(["a,b,c,d,e"] + lines[1:]) + "\n")
        run = subprocess.run([cli, "predict", "--model-uri",
                              os.path.join(root, manifest["models"][0]["mlflow"]),
                              "--input", renamed, "--output", "-"], capture_output=True, text=True)
        want = f"inferloop predict: error: {renamed}:1: the header 'a,b,c,d,e' does not match the MLmodel signature"
        if run.returncode != 1 or not run.stderr.startswith(want) or "f0,f1,f2,f3,f4" not in run.stderr:
            failures.append(f"renamed header: expected exit 1 and {want!r} naming f0..f4; "
                            f"got exit {run.returncode}: {run.stderr.strip()}")
        break
    run = subprocess.run([cli, "predict", "--input", "x.csv"], capture_output=True, text=True)
    if run.returncode != 2 or not run.stderr.startswith("inferloop predict: no model"):
        failures.append(f"missing --model-uri: expected exit 2, got {run.returncode}: {run.stderr}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inferloop", required=True, help="the inferloop CLI")
    parser.add_argument("--fixtures", required=True,
                        help="folder holding xgb<maj>.<min>/ written by make_models.py")
    args = parser.parse_args()

    linked = linked_version(args.inferloop)
    folders = sorted(d for d in os.listdir(args.fixtures) if d.startswith("xgb"))
    if not folders:
        raise SystemExit(f"no xgb*/ fixture folders in {args.fixtures}; run make_models.py")
    failures = []
    checked = refused = 0
    with tempfile.TemporaryDirectory() as scratch:
        for folder in folders:
            root = os.path.join(args.fixtures, folder)
            with open(os.path.join(root, "manifest.json")) as f:
                manifest = json.load(f)
            saved = tuple(manifest["xgboost_version"])
            representable = saved[:2] <= linked[:2]
            features = os.path.join(root, manifest["features_csv"])
            for model in manifest["models"]:
                for kind in ("transformed", "margin"):
                    label = f"{folder}/{model['mlflow']} ({kind})"
                    output = os.path.join(scratch, f"{folder}-{model['name']}-{kind}.csv")
                    run = subprocess.run(
                        [args.inferloop, "predict", "--model-uri", os.path.join(root, model["mlflow"]),
                         "--output-kind", kind, "--input", features, "--output", output],
                        capture_output=True, text=True)
                    if representable:
                        if run.returncode != 0:
                            failures.append(f"{label}: exit {run.returncode}: {run.stderr.strip()}")
                            continue
                        failures += check_scored(output, features, read_expected(
                            os.path.join(root, model[kind])), model["num_outputs"], label)
                        checked += 1
                    else:
                        saved_text = ".".join(map(str, saved))
                        linked_text = ".".join(map(str, linked))
                        if run.returncode != 1 or saved_text not in run.stderr or \
                                linked_text not in run.stderr or \
                                not run.stderr.startswith("inferloop predict: "):
                            failures.append(
                                f"{label}: expected exit 1 and an error naming xgboost {saved_text} "
                                f"and {linked_text}; got exit {run.returncode}: {run.stderr.strip()}")
                        refused += 1
        failures += check_errors(args.inferloop, args.fixtures, folders, linked, scratch)
    for failure in failures[:40]:
        print("FAIL", failure)
    print(f"linked xgboost {'.'.join(map(str, linked))}: {checked} model/output pairs matched "
          f"bit for bit, {refused} refused as too new, {len(failures)} failures")
    if checked == 0:
        print("FAIL: no model was scored at all")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
