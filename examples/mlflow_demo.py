#!/usr/bin/env python3
"""The MLflow half of ./scripts/demo: a local tracking server, the demo model
registered in it, and a promotion while inferloop serves it.

  serve   --dir DIR     starts `mlflow server` on a free 127.0.0.1 port (sqlite
                        backend DIR/mlflow.db, artifacts served from
                        DIR/artifacts, log DIR/server.log) in its own process
                        group; waits until it answers; prints its URL and
                        writes it to DIR/tracking_uri.
  register --dir DIR --model MODEL_DIR [--name NAME] [--alias ALIAS]
                        logs the MLflow model folder MODEL_DIR (made by
                        train_demo_model.py) as the next version of registered
                        model NAME (default btc-direction) and points ALIAS
                        (default champion) at it; prints the version.
  stop    --dir DIR     stops the server (SIGTERM, then SIGKILL).

Only the demo uses this: tests start their servers with
tests/python/mlflow_fixtures.py.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from server_env import OFFLINE, server_environment  # noqa: E402

# This process runs MLflow's Python client (register): no telemetry from it either.
os.environ.update(OFFLINE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(args):
    os.makedirs(args.dir, exist_ok=True)
    directory = os.path.abspath(args.dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_exe = os.path.join(os.path.dirname(sys.executable), "mlflow")
    log = open(os.path.join(directory, "server.log"), "w")
    process = subprocess.Popen(
        [mlflow_exe, "server", "--backend-store-uri", f"sqlite:///{directory}/mlflow.db",
         "--artifacts-destination", f"{directory}/artifacts", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_environment())
    with open(os.path.join(directory, "server.pid"), "w") as f:
        f.write(str(process.pid))
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"mlflow server exited with {process.returncode}; see {directory}/server.log")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        stop(args)
        sys.exit(f"mlflow server did not answer on {url} within 120 s; see {directory}/server.log")
    with open(os.path.join(directory, "tracking_uri"), "w") as f:
        f.write(url)
    print(url)


def register(args):
    import mlflow
    import mlflow.xgboost
    from mlflow import MlflowClient

    with open(os.path.join(args.dir, "tracking_uri")) as f:
        mlflow.set_tracking_uri(f.read().strip())
    model = mlflow.models.Model.load(args.model)
    booster = mlflow.xgboost.load_model(args.model)
    mlflow.set_experiment("inferloop-demo")
    with mlflow.start_run():
        info = mlflow.xgboost.log_model(booster, name="model", signature=model.signature,
                                        registered_model_name=args.name)
    version = str(info.registered_model_version)
    MlflowClient().set_registered_model_alias(args.name, args.alias, version)
    print(version)


def stop(args):
    pid_file = os.path.join(args.dir, "server.pid")
    if not os.path.exists(pid_file):
        return
    with open(pid_file) as f:
        pid = int(f.read())
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    os.remove(pid_file)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "register", "stop"):
        p = sub.add_parser(name)
        p.add_argument("--dir", required=True)
        if name == "register":
            p.add_argument("--model", required=True)
            p.add_argument("--name", default="btc-direction")
            p.add_argument("--alias", default="champion")
    args = parser.parse_args(argv)
    {"serve": serve, "register": register, "stop": stop}[args.command](args)


if __name__ == "__main__":
    main(sys.argv[1:])
