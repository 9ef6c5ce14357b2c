#!/usr/bin/env python3
"""`inferloop resolve --best-run` against the real mlflow server of the MLflow tests.

  best_run_cli_check.py --inferloop EXE --work DIR --cache DIR

Reads DIR/lightgbm.json (tests/python/mlflow_best_run_fixtures.py). Checks that
--best-run EXPERIMENT --metric loss prints the best run and its runs:/ URI
(and --mode max the other one), that the printed URI resolves with
`inferloop resolve` to a LightGBM model, that a missing experiment exits 1
with MLflow's error_code, and that --best-run without --metric and a bad
--mode are usage errors (exit 2). Exits non-zero, printing why, on any mismatch.
"""
import json
import os
import re
import shutil
import sys

from cli_check_support import parse_check_args, run


def main():
    args = parse_check_args(__doc__)
    with open(os.path.join(args.work, "state.json")) as f:
        tracking = json.load(f)["tracking_uri"]
    with open(os.path.join(args.work, "lightgbm.json")) as f:
        fixtures = json.load(f)
    shutil.rmtree(args.cache, ignore_errors=True)
    experiment = fixtures["experiments"]["main"]
    failures = []

    def check(cmd, want_rc, patterns):
        rc, out = run(cmd)
        print("$ " + " ".join(cmd[1:]) + "\n" + out)
        if rc != want_rc:
            failures.append(f"{' '.join(cmd[1:])}: exit code {rc}, expected {want_rc}")
        for pattern in patterns:
            if not re.search(pattern, out):
                failures.append(f"{' '.join(cmd[1:])}: output does not match {pattern!r}")
        return out

    base = [args.inferloop, "resolve", "--tracking-uri", tracking, "--cache-dir", args.cache]
    best = fixtures["runs"]["best"]
    out = check(base + ["--best-run", experiment, "--metric", "loss"], 0, [
        r"best run of experiment '" + re.escape(experiment) + r"' by loss \(min\)",
        r"POST .*/api/2\.0/mlflow/runs/search",
        r"run +" + best + r"  loss = 0\.1 ",
        r"model URI +runs:/" + best + r"/model\n",
    ])
    match = re.search(r"model URI +(runs:/\S+)", out)
    if match:
        check(base + [match.group(1)], 0, [r"format +LightGBM"])
    check(base + ["--best-run", experiment, "--metric", "loss", "--mode", "max"], 0, [
        r"model URI +runs:/" + fixtures["runs"]["highest"] + r"/model\n",
    ])
    check(base + ["--best-run", "no-such-experiment", "--metric", "loss"], 1, [r"RESOURCE_DOES_NOT_EXIST"])
    check(base + ["--best-run", experiment], 2, [r"--best-run EXPERIMENT and --metric NAME"])
    check(base + ["--best-run", experiment, "--metric", "loss", "--mode", "lowest"], 2,
          [r"--mode: expected min or max, found 'lowest'"])

    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
