#!/usr/bin/env python3
"""`inferloop resolve` against the real mlflow server of the MLflow tests.

  resolve_cli_check.py --inferloop EXE --work DIR --cache DIR

Reads DIR/state.json (tests/python/mlflow_fixtures.py), resolves
models:/<name>@champion with the CLI and checks that it prints each REST call,
the registry version, the cached copy, the model format and the xgboost
version that saved it, and the input signature; then that an unknown alias
exits 1 with MLflow's error_code. Exits non-zero, printing why, on any mismatch.
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
        state = json.load(f)
    shutil.rmtree(args.cache, ignore_errors=True)
    name = state["registered_model"]
    version = state["aliases"]["champion"]
    tracking = state["tracking_uri"]
    failures = []

    rc, out = run([args.inferloop, "resolve", f"models:/{name}@champion",
                   "--tracking-uri", tracking, "--cache-dir", args.cache])
    print(out)
    expected = [
        r"GET .*/api/2\.0/mlflow/registered-models/alias\?name=" + re.escape(name) + r"&alias=champion",
        r"get-download-uri",
        r"registry +" + re.escape(name) + r" version " + re.escape(version) + r"\n",
        r"cached at +" + re.escape(os.path.abspath(args.cache)) + r"/models/[0-9a-f]{40}\n",
        r"format +UBJSON, saved by xgboost 3\.\d+\.\d+",
        r"signature +" + str(state["num_features"]) + r" inputs: f0:",
        r"\(moving reference\)",
    ]
    if rc != 0:
        failures.append(f"exit code {rc}, expected 0")
    for pattern in expected:
        if not re.search(pattern, out):
            failures.append(f"output does not match {pattern!r}")

    rc, out = run([args.inferloop, "resolve", f"models:/{name}@no-such-alias",
                   "--tracking-uri", tracking, "--cache-dir", args.cache])
    print(out)
    if rc != 1:
        failures.append(f"unknown alias: exit code {rc}, expected 1")
    if "INVALID_PARAMETER_VALUE" not in out or "no-such-alias" not in out:
        failures.append("unknown alias: MLflow's error_code and the alias are not in the message")

    shutil.rmtree(args.cache, ignore_errors=True)
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
