#!/usr/bin/env python3
"""A distributed backtest sweep on Ray: the ML strategy of ml_strategy.py
backtested for every (latency spec, num_replicas) pair, one Ray task each,
results merged into one table and one plot.

  python examples/python/ray_sweep.py [--events N] [--out DIR] [--address ADDRESS]

Without --address it starts a local Ray cluster for the run, on 127.0.0.1
only (every Ray server binds the loopback address; see start_ray()), with no
dashboard and with scripts/server_env.py's offline settings (Ray usage stats
and MLflow telemetry off) in the environment of every Ray process: nothing
leaves the machine. It stops the cluster at the end.

On a real Ray cluster the same code runs unchanged with --address auto (on
a cluster node) or --address ray://HEAD:10001 (Ray Client), provided every
node can `import inferloop` (pip install the wheel on the nodes, or give the
job a runtime_env that installs it; docs/python.md). The model goes to the
workers as bytes through Ray's object store (or give --model-uri with an
MLflow models:/ or s3:// URI every node can resolve), and the events as
numpy arrays (zero-copy on each node). Each task is one
inferloop.backtest() call: deterministic, so a task retried on another node
gives the same row.

Writes DIR/sweep.csv and DIR/sweep.png.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

LATENCIES = ["zero", "constant:200us", "lognormal:400us,200us", "lognormal:1ms,500us"]
REPLICAS = [1, 2, 4]


def backtest_task(model, config, timestamps, features, mid, latency, replicas, threshold_bps):
    """One grid point, on a Ray worker: one backtest, then the strategy's PnL.
    Defined in the script, so Ray ships it by value: workers need inferloop
    and numpy, not this file."""
    import time

    import inferloop
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(model, bytes):  # the model itself, shipped through the object store
            config = dict(config, model_uri=os.path.join(folder, "model.ubj"))
            with open(config["model_uri"], "wb") as f:
                f.write(model)
        config = dict(config, num_replicas=replicas)
        started = time.perf_counter()
        result = inferloop.backtest(config, timestamps, features, latency=latency, seed=2024)
        seconds = time.perf_counter() - started
    k = result.asof(timestamps)
    has = k >= 0
    visible_price = np.full(len(timestamps), np.nan)
    visible_price[has] = mid[result.row[k[has]]] * (1.0 + result.values[k[has]] / 1e4)
    signal_bps = (visible_price - mid) / mid * 1e4
    decision = np.where(signal_bps > threshold_bps, 1, np.where(signal_bps < -threshold_bps, -1, 0))
    index = np.where(decision != 0, np.arange(len(decision)), -1)
    last = np.maximum.accumulate(index)
    positions = np.where(last >= 0, decision[np.maximum(last, 0)], 0)
    used = np.zeros(len(timestamps), dtype=np.int64)  # age of the prediction traded on
    used[has] = timestamps[has] - result.feature_time_ns[k[has]]
    return {"latency": latency, "num_replicas": replicas,
            "pnl": float(np.sum(positions[:-1] * np.diff(mid))),
            "trades": int(np.count_nonzero(np.diff(positions))),
            "visible": len(result), "conflated": result.conflated, "stale": result.stale,
            "mean_prediction_age_us": float(used[has].mean() / 1e3),
            "rows_per_s": result.rows_per_second, "wall_s": seconds,
            "node": os.uname().nodename, "pid": os.getpid()}


def start_ray(address):
    if address:
        import ray
        ray.init(address=address)
        return ray
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    from server_env import OFFLINE
    # Every Ray process (GCS, raylet, agents, workers) inherits this
    # environment; OFFLINE includes the switch that keeps Ray's servers on
    # 127.0.0.1, which Ray reads when imported, so ray must not be imported
    # before this.
    assert "ray" not in sys.modules, "start_ray() must import ray itself"
    os.environ.update(OFFLINE)
    import ray
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    assert addresses == {"127.0.0.1"}, f"the local Ray cluster is not on loopback: {addresses}"
    return ray


def plot(path, table):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (pnl_axis, age_axis) = plt.subplots(1, 2, figsize=(12, 4))
    for latency, group in table.groupby("latency", sort=False):
        pnl_axis.plot(group["num_replicas"], group["pnl"], marker="o", label=latency)
        age_axis.plot(group["num_replicas"], group["mean_prediction_age_us"], marker="o",
                      label=latency)
    pnl_axis.set(title="strategy PnL", xlabel="num_replicas (simulated)", ylabel="PnL")
    age_axis.set(title="age of the prediction traded on", xlabel="num_replicas (simulated)",
                 ylabel="microseconds")
    for axis in (pnl_axis, age_axis):
        axis.set_xticks(REPLICAS)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--out", default=os.path.join("build", "ray_sweep"))
    parser.add_argument("--address", help="an existing Ray cluster (default: start a local one)")
    parser.add_argument("--model-uri", help="a model URI every node resolves (default: train "
                        "one here and ship its bytes)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    sys.path.insert(0, HERE)
    import ml_strategy
    timestamps, features, mid = ml_strategy.market(args.events, seed=8)
    config = {"model_uri": args.model_uri or "", "predictor_class_name": "ForestPredictor"}
    model = None
    if not args.model_uri:
        model_file = os.path.join(args.out, "price_model.ubj")
        ml_strategy.train(model_file)
        with open(model_file, "rb") as f:
            model = f.read()

    ray = start_ray(args.address)
    try:
        task = ray.remote(num_cpus=1)(backtest_task)
        shared = [ray.put(value) for value in (model, config, timestamps, features, mid)]
        pending = [task.remote(*shared, latency, replicas, ml_strategy.THRESHOLD_BPS)
                   for latency in LATENCIES for replicas in REPLICAS]
        rows = ray.get(pending)
    finally:
        ray.shutdown()

    import pandas as pd
    table = pd.DataFrame(rows)
    # Checks: zero latency never conflates, and the replica count cannot
    # matter then; a grid point rerun here gives the very same row.
    zero = table[table["latency"] == "zero"]
    assert (zero["conflated"] == 0).all() and zero["pnl"].nunique() == 1, zero
    again = backtest_task(model, config, timestamps, features, mid, LATENCIES[2], 2,
                          ml_strategy.THRESHOLD_BPS)
    remote = table[(table["latency"] == LATENCIES[2]) & (table["num_replicas"] == 2)].iloc[0]
    assert again["pnl"] == remote["pnl"] and again["conflated"] == remote["conflated"]

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.drop(columns=["node", "pid"]).to_string(index=False))
    print(f"ray_sweep.py: {len(table)} backtests on {table['node'].nunique()} node(s), "
          f"{table['pid'].nunique()} worker process(es)")
    table.to_csv(os.path.join(args.out, "sweep.csv"), index=False)
    plot(os.path.join(args.out, "sweep.png"), table)
    print(f"ray_sweep.py: table and plot written to {args.out}")


if __name__ == "__main__":
    main()
