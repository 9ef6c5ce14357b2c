#!/usr/bin/env python3
"""Drives the inferloop CLI for the integration tests (tests/cli/CMakeLists.txt).

  make-model --inferloop BIN --python PY [--python-xgb17 PY17] --out DIR
      Trains the demo model (examples/train_demo_model.py) into DIR/demo-model
      with an interpreter whose xgboost the linked libxgboost can load (a library
      loads models saved by its own or an older version), writes DIR/features.csv
      (a replayable feature file), DIR/features_narrow.csv (the same without its
      last column) and DIR/expected.csv (xgboost's own
      predictions for it, from that same interpreter), and the malformed
      inputs of the hardening tests: features_headerless.csv and
      predict_headerless.csv (no header line), features_huge_cell.csv (a
      10 MB cell) and features_long_cell.csv (a 100 kB cell); and
      predict_large.csv (10,000 rows for `predict`, some cells empty).
  threads-agree --threads N --output-dir DIR -- CMD...
      Runs CMD (an `inferloop predict` without --threads) with --threads 1 and
      with --threads N, each writing DIR/threads-<n>.csv; passes when both exit
      0 and the two files are byte-identical.
  expect --rc N --regex RE [--forbid RE]... [--max-output BYTES] -- CMD...
      Runs CMD; passes when it exits with N, its output matches RE, matches
      none of the --forbid patterns and is at most BYTES long.
  check-results --results FILE [--expected FILE] [--timestamps FILE]
                [--count N] -- CMD...
      Runs CMD (which must exit 0), then checks the results CSV it wrote
      (exactly N result rows, with --count).
  interrupt --results FILE --after SECONDS -- CMD...
      Starts CMD (an `inferloop run` that would run far longer), checks after
      SECONDS (or up to 20 s more) that results are already in FILE (written
      while the run goes on), sends SIGINT, and checks that CMD exits 0 and
      that FILE keeps those results and more, every line well-formed, in
      feature_seq order.
"""
import argparse
import csv
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def version_tuple(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def python_xgboost_version(python):
    out = subprocess.run([python, "-c", "import xgboost; print(xgboost.__version__)"],
                         check=True, capture_output=True, text=True).stdout
    return version_tuple(out)


def make_model(args):
    version_out = subprocess.run([args.inferloop, "version"], check=True,
                                 capture_output=True, text=True).stdout
    match = re.search(r"xgboost (\d+\.\d+\.\d+)", version_out)
    if not match:
        sys.exit(f"cannot read the linked xgboost version from '{version_out.strip()}'")
    linked = version_tuple(match.group(1))
    candidates = [p for p in (args.python, args.python_xgb17) if p]
    chosen = None
    for python in candidates:
        if python_xgboost_version(python)[:2] <= linked[:2]:
            chosen = python
            break
    if chosen is None:
        sys.exit(f"no interpreter among {candidates} has an xgboost no newer than the linked "
                 f"{match.group(1)}; set INFERLOOP_PYTHON_XGB17 (run ./scripts/bootstrap)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([chosen, str(REPO / "examples" / "train_demo_model.py"),
                    str(out / "demo-model"), "--features-csv", str(out / "features.csv"),
                    "--csv-rows", "300"], check=True)
    # A feature file one column short of the model, for the width check.
    with open(out / "features.csv") as full, open(out / "features_narrow.csv", "w") as narrow:
        for line in full:
            narrow.write(",".join(line.rstrip("\n").split(",")[:-1]) + "\n")
    write_malformed_inputs(out)
    # Expected predictions from the same xgboost that trained the model.
    script = (
        "import sys, numpy as np, pandas as pd, xgboost\n"
        "frame = pd.read_csv(sys.argv[2])\n"
        "features = frame.drop(columns=['timestamp_ns']).astype(np.float32)\n"
        "booster = xgboost.Booster(model_file=sys.argv[1])\n"
        "booster.set_param({'nthread': 1})\n"
        "pred = booster.predict(xgboost.DMatrix(features)).astype(np.float32)\n"
        "with open(sys.argv[3], 'w') as f:\n"
        "    f.write('prediction\\n')\n"
        "    f.writelines(repr(float(v)) + '\\n' for v in pred)\n")
    model_file = next((out / "demo-model").glob("model.*"))
    subprocess.run([chosen, "-c", script, str(model_file), str(out / "features.csv"),
                    str(out / "expected.csv")], check=True)
    print(f"demo model trained by {chosen} for linked xgboost {match.group(1)}")
    return 0


def write_malformed_inputs(out):
    """The inputs of the CSV hardening tests, derived from features.csv."""
    lines = (out / "features.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    # No header line: the first row must be refused, not taken as the header.
    (out / "features_headerless.csv").write_text("\n".join(rows) + "\n")
    (out / "predict_headerless.csv").write_text(
        "\n".join(row.split(",", 1)[1] for row in rows) + "\n")
    # 10,000 rows for `predict`: two whole 4,096-row batches, which a thread
    # pool splits, and a remainder; features.csv's rows, cycled, with one
    # cell of every tenth row empty (missing).
    cells = [row.split(",")[1:] for row in rows]
    large = [header.split(",", 1)[1]]
    for i in range(10_000):
        row = list(cells[i % len(cells)])
        if i % 10 == 0:
            row[i % len(row)] = ""
        large.append(",".join(row))
    (out / "predict_large.csv").write_text("\n".join(large) + "\n")
    # One enormous cell (10 MB: over the line limit) and one long one (100 kB).
    first = rows[0].split(",")
    for name, size in (("features_huge_cell.csv", 10 << 20), ("features_long_cell.csv", 100_000)):
        cells = first[:1] + ["x" * size] + first[2:]
        (out / name).write_text(header + "\n" + ",".join(cells) + "\n")


def run(command):
    print("+", " ".join(command), flush=True)
    proc = subprocess.run(command, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    print(output)
    return proc.returncode, output


def expect(args):
    print("+", " ".join(args.command), flush=True)
    proc = subprocess.run(args.command, capture_output=True)
    output = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    rc = proc.returncode
    # A runaway message is shown only in part.
    print(output if len(output) <= 20000 else output[:20000] + f"\n[... {len(output)} chars in all]")
    ok = True
    if rc != args.rc:
        print(f"FAIL: exit status {rc}, expected {args.rc}")
        ok = False
    if not re.search(args.regex, output, re.MULTILINE):
        print(f"FAIL: output does not match /{args.regex}/")
        ok = False
    for pattern in args.forbid:
        if re.search(pattern, output, re.MULTILINE):
            print(f"FAIL: output matches the forbidden /{pattern}/")
            ok = False
    if args.max_output is not None and len(output) > args.max_output:
        print(f"FAIL: {len(output)} characters of output, expected at most {args.max_output}")
        ok = False
    return 0 if ok else 1


RESULT_HEADER = ["feature_seq", "feature_time_ns", "published_at_ns", "started_at_ns",
                 "completed_at_ns", "model_version", "replica_id", "row", "prediction"]


def result_lines(path):
    """The results file's lines; only complete ones (ending in a newline)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return text.split("\n")[:-1]


def check_result_lines(lines):
    """Failures of a results file given as lines: header, fields, order."""
    failures = []
    if not lines or lines[0].split(",") != RESULT_HEADER:
        return [f"header {lines[:1]}, expected {','.join(RESULT_HEADER)}"]
    previous_seq = 0
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != len(RESULT_HEADER):
            failures.append(f"line {number}: {len(fields)} fields: {line[:200]!r}")
            continue
        try:
            seq = int(fields[0])
            [int(field) for field in fields[1:8]]
            value = float(fields[8])
        except ValueError:
            failures.append(f"line {number}: not numbers: {line[:200]!r}")
            continue
        if seq <= previous_seq:
            failures.append(f"line {number}: feature_seq {seq} not above {previous_seq}")
        previous_seq = seq
        if not 0.0 <= value <= 1.0:
            failures.append(f"line {number}: prediction {value} is not a probability")
    return failures


def interrupt(args):
    results = Path(args.results)
    if results.exists():
        results.unlink()
    print("+", " ".join(args.command), flush=True)
    proc = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(args.after)
    # Results must be on disk while the run goes on; a loaded machine gets
    # some more time to write the first ones (the run lasts a minute).
    deadline = time.monotonic() + 20
    while len(result_lines(results)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    while_running = result_lines(results)
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        print(output)
        print("FAIL: still running 60 s after SIGINT")
        return 1
    print(output)
    failures = []
    if len(while_running) < 2:
        failures.append(f"{len(while_running)} lines in {results} after {args.after} s of running; "
                        "expected the header and results written while the run goes on")
    if proc.returncode != 0:
        failures.append(f"exit status {proc.returncode} after SIGINT, expected 0")
    if "(interrupted)" not in output:
        failures.append("the summary does not say the run was interrupted")
    final = result_lines(results)
    failures += check_result_lines(final)
    if final[:len(while_running)] != while_running:
        failures.append("the lines written while running were not kept as they were")
    match = re.search(r"results +(\d+) written to", output)
    if not match or int(match.group(1)) != len(final) - 1:
        failures.append(f"the summary's result count ({match and match.group(1)}) is not the "
                        f"file's {len(final) - 1} result lines")
    for failure in failures[:20]:
        print("FAIL:", failure)
    print(f"{len(while_running)} lines while running, {len(final)} at the end, "
          f"{len(failures)} failures")
    return 1 if failures else 0


def check_results(args):
    rc, output = run(args.command)
    if rc != 0:
        print(f"FAIL: exit status {rc}, expected 0")
        return 1
    failures = []
    with open(args.results, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    want = ["feature_seq", "feature_time_ns", "published_at_ns", "started_at_ns", "completed_at_ns",
            "model_version", "replica_id", "row", "prediction"]
    if header != want:
        failures.append(f"header {header}, expected {want}")
    if not rows:
        failures.append("no result rows")
    if args.count is not None and len(rows) != args.count:
        failures.append(f"{len(rows)} result rows, expected exactly {args.count}")
    previous_seq = 0
    for line, row in enumerate(rows, start=2):
        seq = int(row["feature_seq"])
        if seq <= previous_seq:
            failures.append(f"line {line}: feature_seq {seq} not above {previous_seq}")
        previous_seq = seq
        if int(row["completed_at_ns"]) < int(row["published_at_ns"]):
            failures.append(f"line {line}: completed_at_ns before published_at_ns")
        if not int(row["published_at_ns"]) <= int(row["started_at_ns"]) <= int(row["completed_at_ns"]):
            failures.append(f"line {line}: started_at_ns outside published_at_ns..completed_at_ns")
        value = np.float32(row["prediction"])
        if not 0.0 <= value <= 1.0:
            failures.append(f"line {line}: prediction {value} is not a probability")
        if row["model_version"] != "1":
            failures.append(f"line {line}: model_version {row['model_version']}, expected 1")
    if args.expected:
        # One snapshot per feature-file row, so feature_seq k is row k.
        with open(args.expected) as f:
            expected = [np.float32(v) for v in f.read().split()[1:]]
        with open(args.timestamps, newline="") as f:
            timestamps = [int(r["timestamp_ns"]) for r in csv.DictReader(f)]
        for row in rows:
            seq = int(row["feature_seq"])
            if seq > len(expected):
                failures.append(f"feature_seq {seq} beyond the {len(expected)} file rows")
                continue
            got = np.float32(row["prediction"])
            if got.tobytes() != expected[seq - 1].tobytes():
                failures.append(f"feature_seq {seq}: prediction {got!r} != xgboost's "
                                f"{expected[seq - 1]!r}")
            if int(row["feature_time_ns"]) != timestamps[seq - 1]:
                failures.append(f"feature_seq {seq}: feature_time_ns {row['feature_time_ns']} "
                                f"!= the file's {timestamps[seq - 1]}")
        # The file is replayed to the end, and the last snapshot is never conflated away.
        if rows and int(rows[-1]["feature_seq"]) != len(expected):
            failures.append(f"last result is feature_seq {rows[-1]['feature_seq']}, "
                            f"expected the file's last row {len(expected)}")
    for failure in failures[:20]:
        print("FAIL:", failure)
    print(f"{len(rows)} result rows checked, {len(failures)} failures")
    return 1 if failures else 0


def threads_agree(args):
    outputs = []
    for threads in ("1", args.threads):
        output = Path(args.output_dir) / f"threads-{threads}.csv"
        rc, _ = run(args.command + ["--threads", threads, "--output", str(output)])
        if rc != 0:
            print(f"FAIL: exit {rc} with --threads {threads}")
            return 1
        outputs.append(output.read_bytes())
    lines = outputs[0].count(b"\n")
    if lines < 2:
        print(f"FAIL: --threads 1 wrote {lines} lines, expected a header and rows")
        return 1
    if outputs[0] != outputs[1]:
        print(f"FAIL: --threads 1 and --threads {args.threads} wrote different files")
        return 1
    print(f"--threads 1 and --threads {args.threads}: {lines} identical lines")
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("make-model")
    p.add_argument("--inferloop", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--python-xgb17", default="")
    p.add_argument("--out", required=True)
    p = sub.add_parser("expect")
    p.add_argument("--rc", type=int, required=True)
    p.add_argument("--regex", required=True)
    p.add_argument("--forbid", action="append", default=[])
    p.add_argument("--max-output", type=int)
    p.add_argument("command", nargs="+")
    p = sub.add_parser("check-results")
    p.add_argument("--results", required=True)
    p.add_argument("--expected")
    p.add_argument("--timestamps")
    p.add_argument("--count", type=int)
    p.add_argument("command", nargs="+")
    p = sub.add_parser("interrupt")
    p.add_argument("--results", required=True)
    p.add_argument("--after", type=float, required=True)
    p.add_argument("command", nargs="+")
    p = sub.add_parser("threads-agree")
    p.add_argument("--threads", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("command", nargs="+")
    args = parser.parse_args()
    return {"make-model": make_model, "expect": expect, "check-results": check_results,
            "interrupt": interrupt, "threads-agree": threads_agree}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
