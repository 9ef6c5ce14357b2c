#!/usr/bin/env python3
"""Drives `inferloop backtest` for the tests in tests/backtest/CMakeLists.txt.

  same-bytes --inferloop BIN --config YAML --features CSV --latency SPEC --out DIR
      Runs the backtest twice with --threads 1, then with --threads 2 and 8;
      passes when the four results files are byte-identical and the run
      conflated at least one snapshot (so that the schedule mattered).
  replay-live --inferloop BIN --config YAML --features CSV --out DIR
      Records latencies with `inferloop run --results`, replays them with
      `inferloop backtest --latency replay:FILE`, and checks that each
      dispatch k took the k-th recorded latency (cycled) and that every
      result is visible no earlier than its publish time plus that latency.
  make-events --inferloop BIN --python PY [--python-xgb17 PY17] --out DIR
      Trains the demo model into DIR/model with an interpreter the linked
      libxgboost can load, and writes 20000 events to DIR/events.csv.
  pnl -- CMD...
      Runs examples/backtest_pnl; passes when it reports a PnL for zero and
      for realistic latency, the realistic run conflated snapshots, and the
      stale signal earned less than the fresh one.
"""
import argparse
import csv
import re
import subprocess
import sys
from pathlib import Path


def run(command):
    print("+", " ".join(str(c) for c in command), flush=True)
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    print(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"FAIL: exit status {proc.returncode}")
    return proc.stdout


def counter(output, name):
    match = re.search(rf"\b{name} (\d+)", output)
    if not match:
        sys.exit(f"FAIL: no '{name}' counter in the summary")
    return int(match.group(1))


def same_bytes(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    outputs = []
    for index, threads in enumerate([1, 1, 2, 8]):
        results = out / f"results-{index}-threads{threads}.csv"
        outputs.append(run([args.inferloop, "backtest", args.config, "--features", args.features,
                            "--latency", args.latency, "--threads", threads, "--seed", "7",
                            "--results", results]))
        files.append(results)
    reference = files[0].read_bytes()
    failures = [f"{f.name} differs from {files[0].name}" for f in files[1:]
                if f.read_bytes() != reference]
    for name in ["dispatched", "conflated", "stale"]:
        values = {counter(o, name) for o in outputs}
        if len(values) != 1:
            failures.append(f"{name} differs between runs: {sorted(values)}")
    if counter(outputs[0], "conflated") == 0:
        failures.append("nothing was conflated: pick a slower latency so the test means something")
    lines = reference.decode().count("\n") - 1
    for failure in failures:
        print("FAIL:", failure)
    print(f"{len(files)} runs, {lines} result rows each, {len(failures)} failures")
    return 1 if failures else 0


def read_results(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def replay_live(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    live = out / "live-results.csv"
    run([args.inferloop, "run", args.config, "--features", args.features, "--rate", "2000",
         "--quiet", "--results", live])
    recorded = []
    previous = None
    for row in read_results(live):
        if row["feature_seq"] != previous:
            recorded.append(int(row["completed_at_ns"]) - int(row["started_at_ns"]))
            previous = row["feature_seq"]
    replayed = out / "replayed-results.csv"
    output = run([args.inferloop, "backtest", args.config, "--features", args.features,
                  "--latency", f"replay:{live}", "--results", replayed])
    failures = []
    if f"({len(recorded)} latencies, cycled)" not in output:
        failures.append(f"the summary does not report the {len(recorded)} recorded latencies")
    results = read_results(replayed)
    # One simulated replica finishes its snapshots in dispatch order, so no
    # result is stale and the results file holds every dispatch, in order:
    # dispatch k is the k-th distinct feature_seq and must have drawn
    # recorded[k % n]. With stale results that mapping is lost, and the
    # checks below would prove less: refuse to pass then.
    if counter(output, "stale") != 0:
        failures.append(f"{counter(output, 'stale')} stale results: this check needs a config "
                        "with one replica (num_replicas: 1)")
    seqs = []
    for row in results:
        if not seqs or seqs[-1][0] != row["feature_seq"]:
            seqs.append((row["feature_seq"], row))
    if len(seqs) != counter(output, "dispatched"):
        failures.append(f"{len(seqs)} results but {counter(output, 'dispatched')} dispatched")
    for k, (seq, row) in enumerate(seqs):
        latency = recorded[k % len(recorded)]
        published = int(row["published_at_ns"])
        started = int(row["started_at_ns"])
        completed = int(row["completed_at_ns"])
        if completed - started != latency:
            failures.append(f"feature_seq {seq} (dispatch {k}) took {completed - started} ns, "
                            f"recorded {latency} ns")
        if started < published:
            failures.append(f"feature_seq {seq}: started at {started}, before its publish at "
                            f"{published}")
        # Visible no earlier than publish + the latency recorded for this
        # dispatch (from the live run, not from the row itself).
        if completed < published + latency:
            failures.append(f"feature_seq {seq}: visible at {completed}, before publish "
                            f"{published} + recorded latency {latency}")
    for failure in failures[:20]:
        print("FAIL:", failure)
    print(f"{len(recorded)} latencies recorded, {len(results)} result rows replayed, "
          f"{len(failures)} failures")
    return 1 if failures else 0


def make_events(args):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    import cli_driver  # noqa: E402  (tests/cli: picks the interpreter by xgboost version)
    version_out = run([args.inferloop, "version"])
    linked = cli_driver.version_tuple(re.search(r"xgboost (\S+)\)", version_out).group(1))
    chosen = next((p for p in (args.python, args.python_xgb17)
                   if p and cli_driver.python_xgboost_version(p)[:2] <= linked[:2]), None)
    if chosen is None:
        sys.exit("FAIL: no interpreter has an xgboost the linked libxgboost can load")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run([chosen, cli_driver.REPO / "examples" / "train_demo_model.py", out / "model",
         "--features-csv", out / "events.csv", "--csv-rows", "20000"])
    return 0


def pnl(args):
    output = run(args.command)
    lines = re.findall(r"^latency (\S+) +PnL +([-+][0-9.]+) .*conflated +(\d+)$", output, re.M)
    failures = []
    if len(lines) != 2 or lines[0][0] != "zero":
        failures.append(f"expected a 'latency zero' line and one more, found {lines}")
    else:
        (_, fresh, fresh_conflated), (name, stale, stale_conflated) = lines
        if int(fresh_conflated) != 0:
            failures.append(f"zero latency conflated {fresh_conflated} snapshots")
        if int(stale_conflated) == 0:
            failures.append(f"{name} conflated nothing")
        if not float(stale) < float(fresh):
            failures.append(f"PnL with {name} ({stale}) is not below zero latency's ({fresh})")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("same-bytes")
    for name in ["--inferloop", "--config", "--features", "--latency", "--out"]:
        p.add_argument(name, required=True)
    p = sub.add_parser("replay-live")
    for name in ["--inferloop", "--config", "--features", "--out"]:
        p.add_argument(name, required=True)
    p = sub.add_parser("make-events")
    for name in ["--inferloop", "--python", "--out"]:
        p.add_argument(name, required=True)
    p.add_argument("--python-xgb17", default="")
    p = sub.add_parser("pnl")
    p.add_argument("command", nargs="+")
    args = parser.parse_args()
    return {"same-bytes": same_bytes, "replay-live": replay_live, "make-events": make_events,
            "pnl": pnl}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
