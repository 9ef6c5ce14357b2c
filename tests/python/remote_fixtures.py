#!/usr/bin/env python3
"""Real serving engines on loopback for inferloop's remote-predictor tests.

  start   --work DIR [--train-python PY] [--servers mlflow-a,mlflow-b,ray]
          [--kserve-python KPY]
          Trains a small XGBoost model (with PY, an interpreter whose xgboost the
          linked libxgboost can load; default: this one), saves it as an MLflow
          model, starts every server on a free 127.0.0.1 port in its own process
          group, waits until each is ready, and writes DIR/state.json.
          On any failure it stops what it started and exits non-zero.
          Servers: mlflow-* (`mlflow models serve`), ray* (serve_ray.py), and
          kserve-* (MLServer with its xgboost runtime, the KServe v2 / Open
          Inference REST protocol; needs --kserve-python, the python of the venv
          from scripts/requirements-kserve.txt: MLServer cannot share this one).
  kill    --work DIR --name NAME    SIGKILLs one server's process group.
  restart --work DIR --name NAME    starts it again on the same port (no wait).
  stop    --work DIR                stops every server (SIGTERM, then SIGKILL).

state.json: {"model_json", "mlflow_model", "features_csv", "num_features",
"servers": {NAME: {"protocol", "url", "model_name", "pgid", "argv", "log",
                   "env", "cwd"}}}.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from server_env import server_environment  # noqa: E402

NUM_FEATURES = 5
RAY_APP = "xgb"
KSERVE_MODEL = "xgb"

TRAIN = r"""
import sys, numpy as np, xgboost as xgb
out = sys.argv[1]
rng = np.random.default_rng(20240612)
x = rng.normal(size=(600, 5)).astype(np.float32)
x[rng.random(size=x.shape) < 0.05] = np.nan
filled = np.nan_to_num(x, nan=0.0)
y = ((filled[:, 0] + 0.5 * filled[:, 1] - filled[:, 2] * filled[:, 3]) > 0).astype(np.float32)
booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "nthread": 1},
                    xgb.DMatrix(x, label=y), num_boost_round=40)
booster.save_model(out + "/model.json")
test = rng.normal(size=(200, 5)).astype(np.float32)
test[rng.random(size=test.shape) < 0.05] = np.nan
test[0, :] = np.nan
with open(out + "/features.csv", "w") as f:
    for row in test:
        # repr() of a float32 widened to double round-trips the float32 exactly.
        f.write(",".join("nan" if np.isnan(v) else repr(float(v)) for v in row) + "\n")
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_state(work):
    with open(os.path.join(work, "state.json")) as f:
        return json.load(f)


def save_state(work, state):
    path = os.path.join(work, "state.json")
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=1)
    os.replace(path + ".tmp", path)


def environment(server):
    extra = {"PYTHONUNBUFFERED": "1",
             # mlflow runs `uvicorn` by name: the venv's.
             "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    extra.update(server.get("env", {}))
    return server_environment(extra)  # scripts/server_env.py: nothing leaves the machine


def launch(server):
    log = open(server["log"], "ab")
    # Own session and process group: kill/stop reach every worker it forks.
    process = subprocess.Popen(server["argv"], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True,
                               cwd=server.get("cwd"), env=environment(server))
    server["pgid"] = process.pid
    return process


def predict_body(server):
    row = [0.0] * NUM_FEATURES
    if server["protocol"] == "mlflow":
        return "/invocations", {"dataframe_split": {
            "columns": [f"f{i}" for i in range(NUM_FEATURES)], "data": [row]}}
    return f"/{server['model_name']}/", {"array": [row]}


def readiness_requests(server):
    """What must answer 200, in order, before the server counts as ready."""
    if server["protocol"] == "kserve":
        # The protocol's own readiness: the server, then the model (loaded).
        return [urllib.request.Request(server["url"] + path) for path in
                ("/v2/health/ready", f"/v2/models/{server['model_name']}/ready")]
    path, body = predict_body(server)
    return [urllib.request.Request(server["url"] + path, data=json.dumps(body).encode(),
                                   headers={"Content-Type": "application/json"})]


def wait_ready(server, process, deadline):
    pending = readiness_requests(server)
    last = ""
    while time.time() < deadline:
        # poll(), not killpg(0): an exited child stays a zombie until reaped.
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(server['argv'])} exited with {process.returncode}; "
                               f"see {server['log']}")
        try:
            with urllib.request.urlopen(pending[0], timeout=5) as answer:
                if answer.status == 200:
                    pending.pop(0)
                    if not pending:
                        return
                    continue
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = f"{pending[0].full_url}: {error}"
        time.sleep(0.5)
    raise RuntimeError(f"{server['url']} not ready in time ({last}); see {server['log']}")


def alive(server):
    try:
        os.killpg(server["pgid"], 0)
        return True
    except (ProcessLookupError, TypeError):
        return False


def signal_group(server, sig):
    try:
        os.killpg(server["pgid"], sig)
    except (ProcessLookupError, TypeError):
        pass


def descendants(pid):
    """Every live process below `pid`, read from /proc. Ray starts its workers
    in sessions of their own, so the process group alone does not reach them."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # The command may hold spaces and parentheses: split after the last ')'.
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_server(server, grace=20.0):
    if server.get("pgid") is None:
        return
    family = descendants(server["pgid"])
    signal_group(server, signal.SIGTERM)
    deadline = time.time() + grace
    while alive(server) and time.time() < deadline:
        time.sleep(0.2)
    signal_group(server, signal.SIGKILL)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server["pgid"] = None


def make_models(work, train_python):
    subprocess.run([train_python, "-c", TRAIN, work], check=True)
    import mlflow.xgboost
    import numpy as np
    import pandas as pd
    import xgboost as xgb
    from mlflow.models import infer_signature

    booster = xgb.Booster(model_file=os.path.join(work, "model.json"))
    # Double columns: the server then reads the client's numbers as doubles and
    # XGBoost casts them to float32, exactly (they are widened float32 values).
    sample = pd.DataFrame(np.zeros((2, NUM_FEATURES)), columns=[f"f{i}" for i in range(NUM_FEATURES)])
    mlflow_dir = os.path.join(work, "mlflow-model")
    if os.path.exists(mlflow_dir):
        import shutil
        shutil.rmtree(mlflow_dir)
    mlflow.xgboost.save_model(booster, mlflow_dir,
                              signature=infer_signature(sample, booster.inplace_predict(sample.values)))
    return mlflow_dir


def mlserver_folder(work, name, model_json, http_port):
    """MLServer's model repository for one server: settings.json (server-wide)
    and xgb/model-settings.json (the model, named like its folder). REST only
    matters here; gRPC cannot be turned off in MLServer 1.7, so it gets a free
    port too, and the metrics server is off (metrics_endpoint null)."""
    folder = os.path.join(work, name)
    os.makedirs(os.path.join(folder, KSERVE_MODEL), exist_ok=True)
    settings = {"host": "127.0.0.1", "http_port": http_port, "grpc_port": free_port(),
                "metrics_endpoint": None, "debug": False,
                # Predict in the server process: no worker pool to fork, so the
                # process group is the whole server.
                "parallel_workers": 0}
    model = {"name": KSERVE_MODEL, "implementation": "mlserver_xgboost.XGBoostModel",
             "parameters": {"uri": model_json}}
    for path, content in ((os.path.join(folder, "settings.json"), settings),
                          (os.path.join(folder, KSERVE_MODEL, "model-settings.json"), model)):
        with open(path, "w") as f:
            json.dump(content, f, indent=1)
    return folder


def start(args):
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    python = sys.executable
    mlflow_dir = make_models(work, args.train_python or python)
    state = {"model_json": os.path.join(work, "model.json"), "mlflow_model": mlflow_dir,
             "features_csv": os.path.join(work, "features.csv"), "num_features": NUM_FEATURES,
             "servers": {}}
    mlflow_cli = os.path.join(os.path.dirname(python), "mlflow")
    for name in args.servers.split(","):
        port = free_port()
        if name.startswith("mlflow"):
            argv = [mlflow_cli, "models", "serve", "-m", mlflow_dir, "--env-manager", "local",
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
            server = {"protocol": "mlflow", "model_name": ""}
        elif name.startswith("kserve"):
            if not args.kserve_python:
                raise SystemExit(f"server {name!r} needs --kserve-python: the python of the "
                                 "venv scripts/bootstrap makes from scripts/requirements-kserve.txt")
            folder = mlserver_folder(work, name, state["model_json"], port)
            # Absolute, not resolved: the server runs in `folder`, and a venv's
            # python is a symlink to the interpreter it was made from.
            kserve_bin = os.path.dirname(os.path.abspath(args.kserve_python))
            argv = [os.path.join(kserve_bin, "mlserver"), "start", folder]
            server = {"protocol": "kserve", "model_name": KSERVE_MODEL, "cwd": folder,
                      # Its python first on PATH, as for mlflow above.
                      "env": {"PATH": kserve_bin + os.pathsep + os.environ.get("PATH", "")}}
        elif name.startswith("ray"):
            argv = [python, os.path.join(HERE, "serve_ray.py"), "--model", state["model_json"],
                    "--port", str(port), "--name", RAY_APP, "--replicas", "3"]
            server = {"protocol": "ray", "model_name": RAY_APP}
        else:
            raise SystemExit(f"unknown server {name!r}; known: mlflow-*, ray*, kserve-*")
        server.update(url=f"http://127.0.0.1:{port}", argv=argv,
                      log=os.path.join(work, f"{name}.log"), pgid=None)
        state["servers"][name] = server
    try:
        processes = {name: launch(server) for name, server in state["servers"].items()}
        save_state(work, state)  # so that stop can clean up even if a wait fails
        deadline = time.time() + args.timeout
        for name, server in state["servers"].items():
            wait_ready(server, processes[name], deadline)
    except BaseException:
        for server in state["servers"].values():
            stop_server(server)
        save_state(work, state)
        raise
    save_state(work, state)
    print(json.dumps({name: s["url"] for name, s in state["servers"].items()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "kill", "restart", "stop"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--name")
    parser.add_argument("--train-python", default="")
    parser.add_argument("--kserve-python", default="")
    parser.add_argument("--servers", default="mlflow-a,mlflow-b,ray")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    if args.command == "start":
        start(args)
        return
    state = load_state(args.work)
    if args.command == "stop":
        for server in state["servers"].values():
            stop_server(server)
        save_state(args.work, state)
        return
    server = state["servers"][args.name]
    if args.command == "kill":
        family = descendants(server["pgid"])
        signal_group(server, signal.SIGKILL)
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while alive(server):
            time.sleep(0.05)
        server["pgid"] = None
    else:
        stop_server(server)
        launch(server)
    save_state(args.work, state)


if __name__ == "__main__":
    main()
