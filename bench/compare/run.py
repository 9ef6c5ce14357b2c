#!/usr/bin/env python3
"""inferloop against the reference Ray Serve loop, in one run: the driver of
bench/run_compare.sh (which builds compare_latency first; run that script,
not this file, to reproduce docs/benchmarks.md).

On one model and one feature stream it measures publish-to-result latency
(p50, p90, p99, p99.9, max) and sustained throughput of:

  ray_serve r1, r2  the reference design: a Ray Serve deployment of the model
                    behind Ray's HTTP proxy (num_replicas 1 and 2) and a Python
                    loop that takes the next features and POSTs them with
                    `requests`, one request at a time;
  mlflow_serve      `mlflow models serve --env-manager local` with the same
                    kind of Python client;
  direct            XGBoosterPredictFromDense in a tight C++ loop (the floor);
  inferloop ...     an InferenceLoop per predictor registered in this build
                    (XGBoostPredictor, and ForestPredictor when registered),
                    num_replicas 1 and 2, wait strategy spin,
                    spin_then_block and block;

then latency and throughput against rows per snapshot (1, 10, 100, 1000) and
trees (100, 500, 1000, 2000) for inferloop with the direct call as anchor.

Throughput is sustained saturation: HTTP clients keep num_replicas requests in
flight (one client thread per replica) for --http-throughput-seconds; the
direct call runs back to back; an inferloop engine thread publishes a new
snapshot continuously and the predictions the loop completes are counted.

Writes OUT/results.json (every figure and the environment), OUT/section.md
(the generated tables) and OUT/*.png; --update-docs also puts the tables
between the compare markers in docs/benchmarks.md and the PNGs in docs/img/.

Every server it starts runs in a session of its own and is ended, with every
process left in that session, when the run finishes, fails or is interrupted
(SIGINT, SIGTERM, SIGHUP).
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from server_env import OFFLINE, server_environment  # noqa: E402

os.environ.update(OFFLINE)  # the in-process MLflow and Ray clients too
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import plots  # noqa: E402  (bench/compare/plots.py)

FEATURE_NAMES = [
    "mid_price", "spread", "book_imbalance", "return_1",
    "return_10", "return_100", "volatility_50", "trade_imbalance",
]
STREAM_ROWS = 4096  # >= the largest snapshot (1000 rows), so snapshots stay distinct
KEEP_PREDICTIONS = 64  # first snapshots whose outputs every system must agree on
WAITS = ("spin", "spin_then_block", "block")
SCALING_ROWS = (1, 10, 100, 1000)
SCALING_TREES = (100, 500, 1000, 2000)


def log(message):
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- servers and their clean-up ---------------------------------------------

def _sessions_and_cmdlines():
    """(pid, session id, command line) of every process we can read."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # The command name in parentheses may hold spaces: split after it.
                fields = stat.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        yield int(entry), int(fields[3]), command


class ServerGroup:
    """Servers this run started. Each gets a session of its own (setsid), so
    that it and every process it forks can be found by session id and ended
    by pid, without touching anyone else's servers on a shared machine.
    stop_all() runs at exit, on SIGINT/SIGTERM/SIGHUP and when a run fails."""

    def __init__(self):
        self.servers = []  # (name, Popen, extra marker string or None)
        self.lock = threading.Lock()

    def start(self, name, argv, log_path, marker=None, env=None):
        log_file = open(log_path, "w", encoding="utf-8")
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env, cwd=ROOT)
        with self.lock:
            self.servers.append((name, process, marker))
        return process

    def _members(self, session_id, marker):
        return [pid for pid, sid, command in _sessions_and_cmdlines()
                if pid != os.getpid() and
                (sid == session_id or (marker and marker in command))]

    def stop(self, process, timeout=20.0):
        with self.lock:
            entries = [entry for entry in self.servers if entry[1] is process]
            self.servers = [entry for entry in self.servers if entry[1] is not process]
        for name, process, marker in entries:
            self._stop_one(name, process, marker, timeout)

    def _stop_one(self, name, process, marker, timeout):
        session_id = process.pid  # setsid: the leader's pid is the session id
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)  # the server shuts its children down
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the session (or names our Ray temp dir, for a
        # process that started a session of its own) is ended by pid.
        deadline = time.monotonic() + 10
        sent_kill = False
        while True:
            left = self._members(session_id, marker)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGTERM if not sent_kill else signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                if sent_kill:
                    log(f"{name}: processes {left} would not exit")
                    break
                sent_kill = True
                deadline = time.monotonic() + 5
            time.sleep(0.2)
        if process.poll() is None:
            process.kill()
            process.wait()
        log(f"{name}: stopped; no process of its session is left")

    def stop_all(self):
        while True:
            with self.lock:
                if not self.servers:
                    return
                entry = self.servers[-1]
            self.stop(entry[1], timeout=15.0)


SERVERS = ServerGroup()
atexit.register(SERVERS.stop_all)


def _exit_on_signal(signum, _frame):
    # Raising unwinds through every `finally` and then atexit's stop_all.
    signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


for _signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signal, _exit_on_signal)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout, what, process, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before it was "
                               f"ready; its output is in {log_path}")
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} was not ready after {timeout:.0f} s; its output is in {log_path}")


# --- measurements --------------------------------------------------------------

def percentiles(samples_us):
    """Nearest-rank percentiles of raw samples, the same code for every system."""
    ordered = np.sort(np.asarray(samples_us, dtype=np.float64))
    count = len(ordered)

    def at(quantile):
        return float(ordered[min(count - 1, max(0, int(np.ceil(quantile * count)) - 1))])

    return {"p50_us": at(0.50), "p90_us": at(0.90), "p99_us": at(0.99),
            "p999_us": at(0.999), "max_us": float(ordered[-1]), "mean_us": float(ordered.mean()),
            "samples": count}


def run_cpp(binary, out_dir, key, **options):
    samples_path = os.path.join(out_dir, "samples", f"{key}.f64")
    predictions_path = os.path.join(out_dir, "samples", f"{key}.pred.f32")
    argv = [binary] + [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    argv += [f"--samples-out={samples_path}", f"--predictions-out={predictions_path}",
             f"--keep-predictions={KEEP_PREDICTIONS}"]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stderr}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    samples = np.fromfile(samples_path, dtype=np.float64)
    report.update(percentiles(samples))
    report["throughput_per_s"] = report["throughput_predictions"] / report["throughput_seconds"]
    report["throughput_rows_per_s"] = report["throughput_per_s"] * report["rows"]
    report["predictions"] = np.fromfile(predictions_path, dtype=np.float32)
    report["samples_file"] = os.path.relpath(samples_path, out_dir)
    return report


def http_measure(url, payload_of, stream, samples, latency_seconds, throughput_seconds,
                 concurrency, parse):
    """The reference loop: take the next features, POST them, read the answer.
    Latency: one request in flight. Throughput: `concurrency` such loops in
    threads for throughput_seconds."""
    import requests

    session = requests.Session()
    latencies = []
    kept = []
    for _ in range(20):  # warm-up: connections, replicas' first calls
        session.post(url, json=payload_of(stream[0:1])).raise_for_status()
    deadline = time.monotonic() + latency_seconds
    for i in range(samples):
        rows = stream[i % len(stream):i % len(stream) + 1]
        start = time.perf_counter_ns()
        response = session.post(url, json=payload_of(rows))
        response.raise_for_status()
        predictions = parse(response.json())
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
        if i < KEEP_PREDICTIONS:
            kept.extend(predictions)
        if time.monotonic() > deadline:
            break

    counts = [0] * concurrency
    stop_at = time.monotonic() + throughput_seconds

    def client(index):
        own = requests.Session()
        i = index
        while time.monotonic() < stop_at:
            rows = stream[i % len(stream):i % len(stream) + 1]
            own.post(url, json=payload_of(rows)).raise_for_status()
            counts[index] += 1
            i += concurrency

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    report = percentiles(latencies)
    report.update({"rows": 1, "throughput_predictions": sum(counts), "throughput_seconds": elapsed,
                   "throughput_per_s": sum(counts) / elapsed,
                   "throughput_rows_per_s": sum(counts) / elapsed,
                   "client_threads": concurrency,
                   "predictions": np.asarray(kept, dtype=np.float32)})
    return report, np.asarray(latencies)


def measure_ray(args, out_dir, model_file, stream, results, samples):
    temp_dir = tempfile.mkdtemp(prefix="ilcmp-", dir="/tmp")  # short: Ray's socket paths
    port = free_port()
    log_path = os.path.join(out_dir, "ray_server.log")
    env = server_environment()
    log(f"starting Ray Serve (port {port}, temp dir {temp_dir}); this takes a while")
    process = SERVERS.start("ray_serve", [sys.executable, os.path.join(HERE, "ray_server.py"),
                                          "--model", model_file, "--port", str(port),
                                          "--temp-dir", temp_dir],
                            log_path, marker=temp_dir, env=env)
    try:
        def ready():
            with open(log_path, encoding="utf-8", errors="replace") as output:
                return "READY" in output.read()

        wait_until(ready, 300, "the Ray Serve server", process, log_path)
        for replicas in (1, 2):
            key = f"ray_serve r{replicas}"
            log(f"{key}: measuring")
            report, latencies = http_measure(
                f"http://127.0.0.1:{port}/r{replicas}",
                lambda rows: {"features": rows.tolist()}, stream, args.http_samples,
                args.http_latency_seconds, args.http_throughput_seconds, replicas,
                lambda body: body["predictions"])
            report.update({"family": "ray_serve", "replicas": replicas})
            results[key] = report
            samples[key] = latencies
    finally:
        SERVERS.stop(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


def measure_mlflow(args, out_dir, model_dir, stream, results, samples):
    port = free_port()
    log_path = os.path.join(out_dir, "mlflow_serve.log")
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    # mlflow execs `uvicorn` by name: the venv's bin folder must be on PATH
    # even when the venv is not activated.
    env = server_environment({"PATH": os.path.dirname(sys.executable) + os.pathsep +
                              os.environ.get("PATH", "")})
    log(f"starting mlflow models serve (port {port})")
    process = SERVERS.start("mlflow_serve", [mlflow_cli, "models", "serve", "-m", model_dir,
                                             "--env-manager", "local", "-h", "127.0.0.1",
                                             "-p", str(port), "-w", "1"], log_path, env=env)
    try:
        import requests

        def ready():
            try:
                return requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, 180, "mlflow models serve", process, log_path)
        log("mlflow_serve: measuring")
        report, latencies = http_measure(
            f"http://127.0.0.1:{port}/invocations",
            lambda rows: {"dataframe_split": {"columns": FEATURE_NAMES, "data": rows.tolist()}},
            stream, args.http_samples, args.http_latency_seconds, args.http_throughput_seconds, 1,
            lambda body: body["predictions"])
        report.update({"family": "mlflow_serve", "replicas": 1})
        results["mlflow_serve"] = report
        samples["mlflow_serve"] = latencies
    finally:
        SERVERS.stop(process)


# --- environment ---------------------------------------------------------------

def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


def cmake_cache(build_dir):
    values = {}
    with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8") as cache:
        for line in cache:
            match = re.match(r"^([A-Za-z_]+):[A-Z]+=(.*)$", line.strip())
            if match:
                values[match.group(1)] = match.group(2)
    return values


def environment(build_dir, libxgboost):
    import matplotlib
    import mlflow
    import ray
    import requests
    import xgboost

    lscpu = command_output(["lscpu"])
    field = lambda name: (re.search(rf"^{name}:\s*(.+)$", lscpu, re.M) or [None, "?"])[1].strip()
    cache = cmake_cache(build_dir)
    build_type = cache.get("CMAKE_BUILD_TYPE", "")
    flags = " ".join(filter(None, [cache.get("CMAKE_CXX_FLAGS", ""),
                                   cache.get(f"CMAKE_CXX_FLAGS_{build_type.upper()}", "")]))
    compiler = command_output([cache.get("CMAKE_CXX_COMPILER", "c++"), "--version"])
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": field("Model name"), "cpus": os.cpu_count(),
        "threads_per_core": field(r"Thread\(s\) per core"), "hypervisor": field("Hypervisor vendor"),
        "kernel": platform.release(),
        "compiler": compiler.splitlines()[0] if compiler else "?",
        "build_type": build_type, "cxx_flags": f"{flags} -std=c++20".strip(),
        "libxgboost_cpp": libxgboost, "xgboost_python": xgboost.__version__,
        "ray": ray.__version__, "mlflow": mlflow.__version__, "requests": requests.__version__,
        "matplotlib": matplotlib.__version__, "python": platform.python_version(),
        "load_average_start": list(os.getloadavg()),
    }


# --- models and the feature stream ---------------------------------------------

def train_models(args, models_dir):
    """MLflow model folders of 100..2000 trees, all trained on the same data by
    the xgboost the C++ side links (saved as UBJSON, which every system here
    loads)."""
    os.makedirs(models_dir, exist_ok=True)
    paths = {}
    for trees in sorted(set((100,) + (SCALING_TREES if not args.quick else (100, 500)))):
        model_dir = os.path.join(models_dir, f"trees-{trees}")
        paths[trees] = model_dir
        stamp = os.path.join(model_dir, "MLmodel")
        if os.path.isfile(stamp) and not args.retrain:
            log(f"model with {trees} trees: reusing {model_dir} (--retrain to train again)")
            continue
        argv = [args.train_python, os.path.join(ROOT, "examples", "train_demo_model.py"),
                model_dir, "--trees", str(trees)]
        if trees == 100:
            argv += ["--features-csv", os.path.join(models_dir, "stream.csv"),
                     "--csv-rows", str(STREAM_ROWS)]
        log(f"training {trees} trees with {args.train_python}")
        subprocess.run(argv, check=True)
    return paths


def model_file_of(model_dir):
    for name in ("model.ubj", "model.json", "model.xgb"):
        if os.path.isfile(os.path.join(model_dir, name)):
            return os.path.join(model_dir, name)
    raise RuntimeError(f"no model file in {model_dir}; remove it and run again")


def load_stream(models_dir, out_dir):
    csv_path = os.path.join(models_dir, "stream.csv")
    stream = np.loadtxt(csv_path, delimiter=",", skiprows=1, dtype=np.float64)[:, 1:]
    stream = stream.astype(np.float32)  # the CSV holds float32 values exactly
    f32_path = os.path.join(out_dir, "stream.f32")
    stream.tofile(f32_path)
    return stream, f32_path


# --- the run -----------------------------------------------------------------

def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="the Release build folder")
    parser.add_argument("--out", help="results folder (default BUILD/compare)")
    parser.add_argument("--train-python", required=True,
                        help="python whose xgboost the C++ side can load models from")
    parser.add_argument("--retrain", action="store_true", help="train the models even if present")
    parser.add_argument("--update-docs", action="store_true",
                        help="write the tables into docs/benchmarks.md and the plots to docs/img")
    parser.add_argument("--quick", action="store_true",
                        help="a short run for trying the harness out (not for publishing)")
    parser.add_argument("--http-samples", type=int, default=1000)
    parser.add_argument("--http-latency-seconds", type=float, default=15)
    parser.add_argument("--http-throughput-seconds", type=float, default=8)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--latency-seconds", type=float, default=6)
    parser.add_argument("--throughput-seconds", type=float, default=3)
    parser.add_argument("--scaling-samples", type=int, default=5000)
    parser.add_argument("--scaling-seconds", type=float, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.http_samples, args.http_latency_seconds, args.http_throughput_seconds = 100, 3, 2
        args.samples, args.latency_seconds, args.throughput_seconds = 2000, 1, 1
        args.scaling_samples, args.scaling_seconds = 500, 0.5

    build_dir = os.path.abspath(args.build)
    out_dir = os.path.abspath(args.out or os.path.join(build_dir, "compare"))
    os.makedirs(os.path.join(out_dir, "samples"), exist_ok=True)
    binary = os.path.join(build_dir, "bench", "compare_latency")
    started = time.monotonic()

    models = train_models(args, os.path.join(build_dir, "compare-models"))
    stream, stream_path = load_stream(os.path.join(build_dir, "compare-models"), out_dir)
    main_model = models[100]
    registered = command_output([binary, "--list-predictors"]).split()
    predictors = [name for name in ("XGBoostPredictor", "ForestPredictor") if name in registered]
    log(f"predictors registered in this build: {', '.join(registered)}; measuring "
        f"{', '.join(predictors)}")

    results, samples = {}, {}
    common = {"model": main_model, "features": stream_path, "samples": args.samples,
              "latency_seconds": args.latency_seconds,
              "throughput_seconds": args.throughput_seconds}
    log("direct XGBoost C API: measuring")
    results["direct"] = dict(run_cpp(binary, out_dir, "direct", system="direct", **common),
                             family="direct", replicas=1)
    libxgboost = results["direct"]["libxgboost"]
    env = environment(build_dir, libxgboost)
    for predictor in predictors:
        for replicas in (1, 2):
            for wait in WAITS:
                key = f"inferloop {predictor} r{replicas} {wait}"
                log(f"{key}: measuring")
                results[key] = dict(run_cpp(binary, out_dir, key.replace(" ", "_"),
                                            system="loop", predictor=predictor,
                                            replicas=replicas, wait=wait, **common),
                                    family="inferloop", predictor=predictor, replicas=replicas,
                                    wait=wait)

    scaling = {"rows": [], "trees": []}
    scaling_common = {"features": stream_path, "samples": args.scaling_samples,
                      "latency_seconds": args.scaling_seconds,
                      "throughput_seconds": args.scaling_seconds}
    scaled_systems = [("direct", {"system": "direct"})] + [
        (f"inferloop {p} r1 block", {"system": "loop", "predictor": p, "replicas": 1,
                                     "wait": "block"}) for p in predictors]
    for axis, values in (("rows", SCALING_ROWS), ("trees", sorted(models))):
        for value in values:
            for name, options in scaled_systems:
                rows = value if axis == "rows" else 1
                trees = value if axis == "trees" else 100
                log(f"scaling {name}: {rows} rows, {trees} trees")
                report = run_cpp(binary, out_dir, f"scale_{axis}_{value}_{name.replace(' ', '_')}",
                                 model=models[trees], rows=rows, **options, **scaling_common)
                report.pop("predictions")
                scaling[axis].append(dict(report, name=name, trees=trees))

    measure_mlflow(args, out_dir, main_model, stream, results, samples)
    measure_ray(args, out_dir, model_file_of(main_model), stream, results, samples)

    for key, report in results.items():
        if key in samples:
            path = os.path.join(out_dir, "samples", key.replace(" ", "_") + ".f64")
            samples[key].astype(np.float64).tofile(path)
            report["samples_file"] = os.path.relpath(path, out_dir)
    # Same model everywhere: every system's first predictions against the direct call's.
    reference_predictions = results["direct"]["predictions"]
    for report in results.values():
        mine = report.pop("predictions")
        count = min(len(mine), len(reference_predictions))
        report["predictions_checked"] = int(count)
        report["max_abs_diff_vs_direct"] = (
            float(np.max(np.abs(mine[:count] - reference_predictions[:count]))) if count else None)
    reference_p50 = results["ray_serve r1"]["p50_us"]
    for report in results.values():
        report["speedup_vs_ray_p50"] = reference_p50 / report["p50_us"]

    env["load_average_end"] = list(os.getloadavg())
    env["harness_seconds"] = round(time.monotonic() - started)
    env["predictors_registered"] = registered
    env["stream_rows"] = int(len(stream))
    env["predictors_measured"] = predictors
    env["model"] = {"trees": 100, "max_depth": 6, "features": len(FEATURE_NAMES),
                    "objective": "binary:logistic",
                    "trained_by": command_output([args.train_python, "-c",
                                                  "import xgboost; print(xgboost.__version__)"]
                                                 ).strip()}
    env["settings"] = {name: getattr(args, name) for name in
                       ("http_samples", "http_latency_seconds", "http_throughput_seconds",
                        "samples", "latency_seconds", "throughput_seconds", "scaling_samples",
                        "scaling_seconds", "quick")}
    document = {"environment": env, "results": results, "scaling": scaling,
                "reference": "ray_serve r1"}
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as out:
        json.dump(document, out, indent=1)
    images = plots.write_all(document, out_dir)
    section = plots.markdown(document, image_dir="img")
    with open(os.path.join(out_dir, "section.md"), "w", encoding="utf-8") as out:
        out.write(section)
    print(section)
    if args.update_docs:
        plots.update_docs(os.path.join(ROOT, "docs", "benchmarks.md"), section)
        os.makedirs(os.path.join(ROOT, "docs", "img"), exist_ok=True)
        for image in images:
            shutil.copy(image, os.path.join(ROOT, "docs", "img", os.path.basename(image)))
        log("updated docs/benchmarks.md and docs/img/")
    log(f"done in {env['harness_seconds']} s; results in {out_dir}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as interrupt:
        log(f"interrupted ({interrupt}); stopping the servers this run started")
        SERVERS.stop_all()
        sys.exit(130)
