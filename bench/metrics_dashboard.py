#!/usr/bin/env python3
"""Plots what Prometheus saw of a real `inferloop run` (docs/metrics.md's figure).

  metrics_dashboard.py --inferloop BIN --config CONFIG --out PNG
                       [--prometheus /usr/bin/prometheus] [--phase-seconds 20]
                       [--check-dashboard docs/grafana-dashboard.json]

Starts Debian's Prometheus on 127.0.0.1 (a free port, a temporary storage
folder, a one-second scrape interval, nothing remote), then two `inferloop run
--metrics` phases one after the other on the same address: 500 snapshots/s,
then 5000/s (more than one replica can keep up with, so conflation shows).
Afterwards it asks Prometheus' HTTP API (query_range) for the queries of
docs/grafana-dashboard.json and draws the same four panels with matplotlib.
With --check-dashboard, every query of that Grafana dashboard (its variables
set to all deployments and a 5 s rate window) must also run without error and
return data. Everything runs on loopback; the folder is removed at the end.
"""
import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# The dashboard's queries (docs/grafana-dashboard.json), for the one target scraped.
SEL = '{job="inferloop"}'
PANELS = [
    ("Snapshots and predictions per second", "1/s", [
        ("published", f"sum(rate(inferloop_snapshots_published_total{SEL}[5s]))"),
        ("predicted", f"sum(rate(inferloop_predictions_total{SEL}[5s]))"),
        ("conflated", f"sum(rate(inferloop_snapshots_conflated_total{SEL}[5s]))"),
    ]),
    ("Publish-to-visible latency (5 s window)", "us", [
        ("p50", f"histogram_quantile(0.5, sum by (le) (rate(inferloop_publish_to_visible_seconds_bucket{SEL}[5s]))) * 1e6"),
        ("p99", f"histogram_quantile(0.99, sum by (le) (rate(inferloop_publish_to_visible_seconds_bucket{SEL}[5s]))) * 1e6"),
    ]),
    ("Age of the newest result (at each scrape)", "us", [
        ("age", f"inferloop_latest_result_age_seconds{SEL} * 1e6"),
    ]),
    ("Predict time and queue wait, p99 (5 s window)", "us", [
        ("predict p99", f"histogram_quantile(0.99, sum by (le) (rate(inferloop_predict_duration_seconds_bucket{SEL}[5s]))) * 1e6"),
        ("queue wait p99", f"histogram_quantile(0.99, sum by (le) (rate(inferloop_queue_wait_seconds_bucket{SEL}[5s]))) * 1e6"),
    ]),
]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(prometheus, path, **params):
    url = f"{prometheus}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait_ready(prometheus, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(prometheus + "/-/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("metrics_dashboard.py: Prometheus did not become ready")


def check_dashboard(prometheus, path, at):
    with open(path) as file:
        dashboard = json.load(file)
    checked = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            query = (target["expr"].replace("$__rate_interval", "5s")
                     .replace("$deployment_name", ".*"))
            answer = api(prometheus, "/api/v1/query", query=query, time=at - 3)
            if answer.get("status") != "success" or not answer["data"]["result"]:
                sys.exit(f"metrics_dashboard.py: {path}: panel '{panel['title']}': "
                         f"no data for {query}: {answer}")
            checked += 1
    print(f"metrics_dashboard.py: {checked} queries of {path} return data")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inferloop", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--prometheus", default="/usr/bin/prometheus")
    parser.add_argument("--phase-seconds", type=int, default=20)
    parser.add_argument("--check-dashboard")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="inferloop-dashboard-")
    metrics_port, prometheus_port = free_port(), free_port()
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    with open(os.path.join(folder, "prometheus.yml"), "w") as config:
        config.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                     "scrape_configs:\n  - job_name: inferloop\n    static_configs:\n"
                     f"      - targets: ['127.0.0.1:{metrics_port}']\n")
    log = open(os.path.join(folder, "prometheus.log"), "w")
    prometheus = subprocess.Popen(
        [args.prometheus, f"--config.file={folder}/prometheus.yml",
         f"--storage.tsdb.path={folder}/data", f"--web.listen-address=127.0.0.1:{prometheus_port}",
         "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(prometheus_url)
        load_before = os.getloadavg()
        start = time.time()
        for rate in (500, 5000):
            subprocess.run([args.inferloop, "run", args.config, "--duration", str(args.phase_seconds),
                            "--rate", str(rate), "--quiet", "--metrics", f"127.0.0.1:{metrics_port}"],
                           check=True, stdout=subprocess.DEVNULL)
        time.sleep(2)  # a last scrape after the end
        end = time.time()
        load_after = os.getloadavg()
        if args.check_dashboard:
            check_dashboard(prometheus_url, args.check_dashboard, end)

        figure, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
        for axis, (title, unit, queries) in zip(axes.flat, PANELS):
            for label, query in queries:
                answer = api(prometheus_url, "/api/v1/query_range", query=query, start=start,
                             end=end, step=1)
                for series in answer["data"]["result"]:
                    times = [float(t) - start for t, _ in series["values"]]
                    values = [float(v) for _, v in series["values"]]
                    axis.plot(times, values, label=label, linewidth=1.2)
            axis.set_title(title, fontsize=10)
            axis.set_ylabel(unit)
            axis.axvline(args.phase_seconds, color="grey", linestyle=":", linewidth=1)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8, loc="upper left")
        for axis in axes[1]:
            axis.set_xlabel("seconds (500 snapshots/s, then 5000/s)")
        figure.suptitle(
            f"inferloop run --metrics, scraped by Prometheus every second "
            f"({cpu_model()}, {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
            f"{load_after[0]:.1f} after)", fontsize=10)
        figure.tight_layout()
        figure.savefig(args.out, dpi=90)
        print(f"metrics_dashboard.py: wrote {args.out}")
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
