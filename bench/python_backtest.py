#!/usr/bin/env python3
"""Backtest throughput from Python: inferloop.backtest() beside the same
backtest through the CLI (`inferloop backtest`) and beside xgboost's own
inplace_predict() and inferloop.predict() on the same rows, in one run.

  python bench/python_backtest.py --cli PATH/TO/inferloop [--rows N] [--out DIR] [--repeat K]

(bench/run_python_backtest.sh builds a Release tree and runs this.)

The workload: a binary:logistic model of 100 trees of depth 6 on the demo
model's 8 market features (trained here with the venv's xgboost), and N rows
of the demo market (examples/train_demo_model.py) 1 ms apart, replayed with
latency lognormal:40us,15us on one simulated replica: no snapshot is
conflated, so every row is predicted (the most work a backtest can have).
Every configuration runs K times; the table gives the best wall time of each
(the machine may be shared) and the CPU time per row of that run, and every
output is checked bit for bit against xgboost's. The load average before and
after says how loaded the machine was.
"""
import os

# numpy's OpenBLAS threads spin after a BLAS call and would take CPU from
# what is measured; nothing here needs BLAS. Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

LATENCY = "lognormal:40us,15us"
GAP_NS = 1_000_000


def workload(out, rows):
    """(model file, timestamps, features), cached in `out`."""
    import xgboost as xgb
    model = os.path.join(out, "bench-100x6.ubj")
    features_file = os.path.join(out, f"features-{rows}.npy")
    if not os.path.exists(model) or not os.path.exists(features_file):
        from train_demo_model import synthetic_market
        train, next_return = synthetic_market(20_000, seed=7)
        booster = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1,
                             "nthread": 1, "seed": 7},
                            xgb.DMatrix(train, label=(next_return > 0).astype(np.float32)),
                            num_boost_round=100)
        booster.save_model(model)
        features, _ = synthetic_market(rows, seed=8)
        np.save(features_file, features)
    features = np.load(features_file)
    timestamps = 1_700_000_000_000_000_000 + np.arange(rows, dtype=np.int64) * GAP_NS
    return model, timestamps, features


def write_csv(path, timestamps, features):
    """The CLI's feature file: timestamp_ns, then the features, exactly."""
    if os.path.exists(path):
        return
    with open(path + ".tmp", "w") as f:
        f.write("timestamp_ns," + ",".join(f"f{i}" for i in range(features.shape[1])) + "\n")
        # %.9g round-trips a float32 exactly.
        np.savetxt(f, np.column_stack([timestamps.astype(np.float64), features]),
                   delimiter=",", fmt=["%d"] + ["%.9g"] * features.shape[1])
    os.replace(path + ".tmp", path)


def best_of(repeat, run):
    """(best wall seconds, CPU seconds of that run, its return value)."""
    best = None
    for _ in range(repeat):
        cpu = time.process_time()
        wall = time.perf_counter()
        value = run()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, value)
    return best


def cli_run(cli, config, csv, results, threads):
    """One `inferloop backtest`: (its own rows/s line, the process's wall seconds)."""
    started = time.perf_counter()
    completed = subprocess.run([cli, "backtest", config, "--features", csv, "--latency", LATENCY,
                                "--threads", str(threads), "--results", results],
                               check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = re.search(r"throughput\s+(\d+) rows/s", completed.stdout)
    return float(match.group(1)), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the inferloop command-line tool")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default=os.path.join("build-bench", "python-backtest"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    import xgboost as xgb
    import inferloop
    load_before = os.getloadavg()
    model, timestamps, features = workload(args.out, args.rows)
    rows = len(features)
    config = {"model_uri": model, "predictor_class_name": "ForestPredictor"}
    config_file = os.path.join(args.out, "bench.yaml")
    with open(config_file, "w") as f:
        f.write(f"model_uri: {model}\npredictor_class_name: ForestPredictor\n")
    csv = os.path.join(args.out, f"features-{rows}.csv")
    write_csv(csv, timestamps, features)

    booster = xgb.Booster(model_file=model)
    expected = booster.predict(xgb.DMatrix(features))
    table = []

    def record(name, wall, cpu, note=""):
        table.append((name, rows / wall, cpu / rows * 1e9 if cpu is not None else None, note))

    cpus = len(os.sched_getaffinity(0))
    for threads in sorted({1, 2, cpus}):
        wall, cpu, result = best_of(args.repeat, lambda: inferloop.backtest(
            config, timestamps, features, latency=LATENCY, threads=threads))
        assert len(result) == rows and result.conflated == 0
        assert np.array_equal(result.values.view(np.uint32), expected[result.row].view(np.uint32))
        record(f"inferloop.backtest(threads={threads})", wall, cpu, "numpy in, columns out")
    for threads in sorted({1, 2, cpus}):
        best = None
        for _ in range(args.repeat):
            measured = cli_run(args.cli, config_file, csv, os.path.join(args.out, "cli-results.csv"),
                               threads)
            best = measured if best is None or measured[0] > best[0] else best
        table.append((f"inferloop backtest --threads {threads} (CLI)", best[0], None,
                      f"its own line; whole process incl. CSV in/out {rows / best[1]:,.0f} rows/s"))
    for threads in sorted({1, 2, cpus}):
        wall, cpu, got = best_of(args.repeat, lambda: inferloop.predict(model, features,
                                                                        threads=threads))
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
        record(f"inferloop.predict(threads={threads})", wall, cpu, "batch scoring, no loop")
    for nthread in sorted({1, 2, cpus}):
        booster.set_param({"nthread": nthread})
        wall, cpu, got = best_of(args.repeat, lambda: booster.inplace_predict(features))
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
        record(f"xgboost inplace_predict(nthread={nthread})", wall, cpu, f"xgboost {xgb.__version__}")
    load_after = os.getloadavg()

    cpu_name = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu_name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"\n{rows:,} rows x {features.shape[1]} features, 100 trees x depth 6, latency {LATENCY}, "
          f"best of {args.repeat}")
    print(f"machine: {cpu_name}, {cpus} CPUs; Python {platform.python_version()}; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"\n| what | rows/s (wall) | CPU ns/row | note |\n| --- | ---: | ---: | --- |")
    for name, rate, ns, note in table:
        print(f"| {name} | {rate:,.0f} | {'' if ns is None else f'{ns:,.0f}'} | {note} |")


if __name__ == "__main__":
    main()
