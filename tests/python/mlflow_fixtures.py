#!/usr/bin/env python3
"""A real MLflow tracking server on loopback, and fault servers in front of it,
for inferloop's MLflow resolver tests (tests/mlflow/mlflow_integration_test.cpp).

  start      --work DIR [--timeout S]
             Starts `mlflow server` (sqlite:///DIR/mlflow.db, artifacts proxied
             from DIR/artifacts) on a free 127.0.0.1 port in its own process
             group (log DIR/mlflow-server.log), waits for /health, then with
             MLflow's own Python client trains two small XGBoost models
             (binary:logistic, 5 features, 30 trees, NaNs in the data) and
             registers them as versions 1 and 2 of "inferloop-test"; aliases
             champion -> 1 and canary -> 1; stage Production -> 2; model 1 is
             also logged as plain run artifacts (runs:/<run>/plain_model).
             Writes DIR/features.csv and DIR/state.json. On any failure it stops
             what it started and exits non-zero.
  kill       --work DIR    SIGKILLs the server's process group (waits until gone).
  restart    --work DIR    starts it again on the same port, db and artifacts;
                           waits for /health.
  stop       --work DIR    stops the server and every fault server (SIGTERM,
                           then SIGKILL).
  register   --work DIR --seed S [--alias NAME] [--corrupt] [--name MODEL]
             Trains a model with seed S, registers it as the next version of
             MODEL (default inferloop-test) and points alias NAME (default
             champion; "" = none) at it. Prints {"version", "alias",
             "corrupt", "expected", "expected_bits"} as one JSON line on
             stdout. --corrupt overwrites the model file in the artifact store
             with garbage after logging (MLmodel intact, listing consistent,
             so the download succeeds and loading fails; expected: null).
             Updates state.json: models[version], aliases, registered[], and
             the expectation of every "latest" case. Takes ~4 s.
             NOTE: it moves models:/<MODEL>/latest too; after a --corrupt one,
             the latest cases expect an error (models[v]["corrupt"] is true).
             Tests move --alias canary (champion stays on version 1).
  fault      --work DIR --mode M
             (Re)starts a fault server for mode M on a free loopback port in
             its own process group. It proxies every request to the real
             server, except:
               retry-after  the first 2 requests answer 429 + Retry-After: 1
                            with a JSON error body (REQUEST_LIMIT_EXCEEDED);
               truncate     a model file (model.ubj/.json/.xgb) is served cut in
                            half (Content-Length = the half; the listing keeps
                            the real size);
               escape       every listing holding an MLmodel also lists a file
                            "../../evil" (4 bytes), which is served if asked for;
               hang         reads each request and never answers;
               oversize     listings give the model file file_size 2^40;
               auth         every request needs "Authorization: Bearer
                            <token>" or "Authorization: Basic
                            base64(<username>:<password>)" with the fixed
                            test credentials in state.json faults.auth
                            ("token", "username", "password"); anything else
                            is answered 401 + WWW-Authenticate with MLflow's
                            JSON error body {"error_code": "UNAUTHENTICATED",
                            "message": ...}. The Authorization header is not
                            passed upstream;
               tls          proxies like the others, but speaks HTTPS only
                            (url https://127.0.0.1:P), with a self-signed
                            certificate for 127.0.0.1 and localhost (subject
                            alternative names IP:127.0.0.1, DNS:localhost)
                            made at start with `cryptography`; its PEM is
                            DIR/fault-tls-cert.pem (state.json faults.tls.cert,
                            usable as a CA bundle), its key
                            DIR/fault-tls-key.pem.
             Use its url as the tracking URI (get-download-uri answers
             mlflow-artifacts:/ without a host, so downloads go through it too).
             It counts what it did in DIR/fault-M.json: {"requests",
             "answered_429", "model_downloads", "truncated", "evil_downloads",
             "answered_401", "auth_schemes": {"Bearer"|"Basic"|"none"|other
             scheme: count of requests carrying it}, "auth_accepted",
             "auth_rejected", "tls_handshake_failures", "tls_errors": [the
             last 20 handshake errors], "paths": [the last 100 "METHOD path"
             lines]}. Credentials are never written there, nor to its log.
  fault-stop --work DIR [--mode M]    stops one fault server, or all.

state.json:
  {"tracking_uri": "http://127.0.0.1:P", "port": P, "pgid", "argv", "log",
   "work", "features_csv", "num_features": 5, "num_rows": 200,
   "registered_model": "inferloop-test", "experiment_id",
   "logged_model_name": "model",
   "models": {"1": {"version": "1", "seed", "run_id", "model_id",
                    "model_uri": "models:/m-...", "artifact_uri": "mlflow-artifacts:/...",
                    "model_file": "model.ubj", "model_file_size",
                    "expected": [repr floats], "expected_bits": [uint32],
                    "corrupt": false},
              "2": {...}},
   "plain_model_run_id",
   "aliases": {"champion": "1", "canary": "1"}, "stages": {"Production": "2"},
   "cases": [{"uri", "expect_model": 1|2 (a key of models, = the version),
              "registry_name": "inferloop-test" or "", "registry_version": "1" or "",
              "moving": "" | "alias" | "stage" | "latest"}],
   "registered": [{"name", "version", "seed", "alias", "corrupt"}],
   "faults": {M: {"url", "port", "pgid", "argv", "log", "counters"},
              "auth": {..., "token", "username", "password"},
              "tls": {..., "url": "https://127.0.0.1:P", "cert", "key"}}}
Expected predictions are xgboost's booster.predict(DMatrix(features)) as
float32, for the rows of features.csv (each float32 written as the repr of
its exact double, "nan" for missing).
"""
import argparse
import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
# The process-group helpers the remote fixtures already use.
from server_env import OFFLINE, server_environment  # noqa: E402
from remote_fixtures import (alive, descendants, free_port, load_state,  # noqa: E402
                             save_state, signal_group, stop_server)

MODEL_NAME = "inferloop-test"
LOGGED_MODEL_NAME = "model"
EXPERIMENT = "inferloop-test"
NUM_FEATURES = 5
NUM_ROWS = 200
MODEL_FILES = ("model.ubj", "model.json", "model.xgb")
FAULT_MODES = ("retry-after", "truncate", "escape", "hang", "oversize", "auth", "tls")
# The auth fault server's credentials: distinctive, so that a test can look
# for them in every message and log line inferloop produces.
AUTH_TOKEN = "tok-SECRET-4711"
AUTH_USERNAME = "alice"
AUTH_PASSWORD = "pw-SECRET-0815"
OVERSIZE = 1 << 40
print_result = print  # main() points it at the real stdout

# No network from the test machines (scripts/server_env.py), and quiet logs.
QUIET = dict(OFFLINE, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")


def environment():
    return server_environment({
        "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore",
        # mlflow runs uvicorn/gunicorn by name: the venv's.
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})


def launch(entry):
    log = open(entry["log"], "ab")
    # Own session and process group: kill/stop reach every worker it forks.
    process = subprocess.Popen(entry["argv"], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True,
                               env=environment())
    entry["pgid"] = process.pid
    return process


def wait_health(state, process, timeout):
    url = state["tracking_uri"] + "/health"
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{' '.join(state['argv'])} exited with {process.returncode}; "
                               f"see {state['log']}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = str(error)
        time.sleep(0.3)
    raise RuntimeError(f"{url} not healthy after {timeout:.0f} s ({last}); see {state['log']}")


def kill_group(entry):
    if entry.get("pgid") is None:
        return
    family = descendants(entry["pgid"])
    signal_group(entry, signal.SIGKILL)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    while alive(entry) and time.time() < deadline:
        time.sleep(0.05)
    entry["pgid"] = None


# --- models -----------------------------------------------------------------

def features(work):
    """The 200 test rows (float32, NaNs), written once to DIR/features.csv."""
    import numpy as np
    path = os.path.join(work, "features.csv")
    rng = np.random.default_rng(20250101)
    rows = rng.normal(size=(NUM_ROWS, NUM_FEATURES)).astype(np.float32)
    rows[rng.random(size=rows.shape) < 0.05] = np.nan
    rows[0, :] = np.nan
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            for row in rows:
                # repr() of a float32 widened to double round-trips the float32 exactly.
                f.write(",".join("nan" if np.isnan(v) else repr(float(v)) for v in row) + "\n")
        os.replace(path + ".tmp", path)
    return rows


def train(seed):
    import numpy as np
    import xgboost as xgb
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, NUM_FEATURES)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.05] = np.nan
    filled = np.nan_to_num(x, nan=0.0)
    weights = rng.normal(size=NUM_FEATURES)
    y = ((filled @ weights - 0.7 * filled[:, 2] * filled[:, 3]) > 0).astype(np.float32)
    return xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "nthread": 1,
                      "seed": seed}, xgb.DMatrix(x, label=y), num_boost_round=30)


def expectations(booster, rows):
    import numpy as np
    import xgboost as xgb
    predicted = booster.predict(xgb.DMatrix(rows)).astype(np.float32)
    return ([repr(float(v)) for v in predicted],
            [int(b) for b in predicted.view(np.uint32)])


def signature(booster):
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    # Double columns, as a trading engine's features arrive; f0..f4.
    sample = pd.DataFrame(np.zeros((2, NUM_FEATURES)), columns=[f"f{i}" for i in range(NUM_FEATURES)])
    return infer_signature(sample, booster.inplace_predict(sample.values))


def client_for(state):
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    import warnings
    warnings.filterwarnings("ignore")
    import mlflow
    mlflow.set_tracking_uri(state["tracking_uri"])
    mlflow.set_experiment(EXPERIMENT)
    return mlflow, mlflow.MlflowClient(state["tracking_uri"])


def log_registered(mlflow, booster, name, seed):
    """Logs `booster` in a run of its own and registers it; returns its entry."""
    import mlflow.xgboost
    with mlflow.start_run(run_name=f"seed-{seed}") as run:
        # pip_requirements given: MLflow would otherwise load the model in a
        # subprocess to infer them (seconds per model).
        info = mlflow.xgboost.log_model(booster, name=LOGGED_MODEL_NAME, registered_model_name=name,
                                        signature=signature(booster), pip_requirements=["xgboost"])
    return {"version": str(info.registered_model_version), "seed": seed, "run_id": run.info.run_id,
            "model_id": info.model_id, "model_uri": info.model_uri, "corrupt": False}


def local_artifact_dir(state, artifact_uri):
    """The folder under DIR/artifacts behind an mlflow-artifacts:/ URI."""
    prefix = "mlflow-artifacts:"
    if not artifact_uri.startswith(prefix):
        raise RuntimeError(f"unexpected artifact URI {artifact_uri!r}")
    relative = urllib.parse.urlparse(artifact_uri).path.lstrip("/")
    return os.path.join(state["work"], "artifacts", relative)


def describe_files(state, entry, client, name):
    entry["artifact_uri"] = client.get_model_version_download_uri(name, entry["version"])
    folder = local_artifact_dir(state, entry["artifact_uri"])
    model_file = next(f for f in MODEL_FILES if os.path.exists(os.path.join(folder, f)))
    entry["model_file"] = model_file
    entry["model_file_size"] = os.path.getsize(os.path.join(folder, model_file))
    return folder


def make_models(state):
    import shutil
    import tempfile
    import mlflow.xgboost
    mlflow, client = client_for(state)
    rows = features(state["work"])
    state["experiment_id"] = mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    boosters = {}
    for seed in (1, 2):
        booster = train(seed)
        entry = log_registered(mlflow, booster, MODEL_NAME, seed)
        entry["expected"], entry["expected_bits"] = expectations(booster, rows)
        describe_files(state, entry, client, MODEL_NAME)
        state["models"][entry["version"]] = entry
        boosters[entry["version"]] = booster
    if sorted(state["models"]) != ["1", "2"]:
        raise RuntimeError(f"expected versions 1 and 2 of {MODEL_NAME}, got {sorted(state['models'])}"
                           " (is the database fresh?)")
    for alias in ("champion", "canary"):
        client.set_registered_model_alias(MODEL_NAME, alias, "1")
        state["aliases"][alias] = "1"
    client.transition_model_version_stage(MODEL_NAME, "2", "Production")
    state["stages"]["Production"] = "2"

    # Model 1 again, as plain run artifacts (no logged model, no registry).
    folder = tempfile.mkdtemp(prefix="plain-", dir=state["work"])
    try:
        saved = os.path.join(folder, "plain_model")
        mlflow.xgboost.save_model(boosters["1"], saved, signature=signature(boosters["1"]),
                                  pip_requirements=["xgboost"])
        with mlflow.start_run(run_name="plain-artifacts") as run:
            mlflow.log_artifacts(saved, "plain_model")
        state["plain_model_run_id"] = run.info.run_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    host = f"127.0.0.1:{state['port']}"
    one = state["models"]["1"]
    artifact_path = urllib.parse.urlparse(one["artifact_uri"]).path.lstrip("/")

    def case(uri, model, version="", moving=""):
        return {"uri": uri, "expect_model": model,
                "registry_name": MODEL_NAME if version else "", "registry_version": version,
                "moving": moving}

    state["cases"] = [
        case(f"models:/{MODEL_NAME}/1", 1, "1"),
        case(f"models:/{MODEL_NAME}/2", 2, "2"),
        case(f"models:/{MODEL_NAME}@champion", 1, "1", "alias"),
        case(f"models:/{MODEL_NAME}/latest", 2, "2", "latest"),
        case(f"models:/{MODEL_NAME}/LATEST", 2, "2", "latest"),
        case(f"models:/{MODEL_NAME}/Production", 2, "2", "stage"),
        case(f"models:/{MODEL_NAME}/production", 2, "2", "stage"),
        case(f"models:/{one['model_id']}", 1),
        # MLflow 3: the run holds no artifacts under "model"; the logged model does.
        case(f"runs:/{one['run_id']}/{LOGGED_MODEL_NAME}", 1),
        case(f"runs:/{state['plain_model_run_id']}/plain_model", 1),
        case(one["artifact_uri"], 1),
        case(f"mlflow-artifacts://{host}/{artifact_path}", 1),
        case(f"http://{host}/api/2.0/mlflow-artifacts/artifacts/{artifact_path}", 1),
    ]


# --- subcommands --------------------------------------------------------------

def start(args):
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    old = os.path.join(work, "state.json")
    if os.path.exists(old):
        # A previous run that was not stopped: stop it, then start afresh.
        stop(argparse.Namespace(work=work))
    for stale in ("mlflow.db", "artifacts", "features.csv", "state.json"):
        path = os.path.join(work, stale)
        if os.path.isdir(path):
            import shutil
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    port = free_port()
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    state = {"tracking_uri": f"http://127.0.0.1:{port}", "port": port, "pgid": None,
             "argv": [mlflow_cli, "server",
                      "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
                      "--artifacts-destination", f"{work}/artifacts",
                      "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
             "log": os.path.join(work, "mlflow-server.log"), "work": work,
             "features_csv": os.path.join(work, "features.csv"),
             "num_features": NUM_FEATURES, "num_rows": NUM_ROWS,
             "registered_model": MODEL_NAME, "logged_model_name": LOGGED_MODEL_NAME,
             "models": {}, "aliases": {}, "stages": {}, "cases": [], "registered": [],
             "faults": {}}
    try:
        process = launch(state)
        save_state(work, state)  # so that stop can clean up even if a step fails
        wait_health(state, process, args.timeout)
        make_models(state)
    except BaseException:
        stop_server(state)
        save_state(work, state)
        raise
    save_state(work, state)
    print_result(json.dumps({"tracking_uri": state["tracking_uri"], "cases": len(state["cases"])}))


def kill(args):
    state = load_state(args.work)
    kill_group(state)
    save_state(args.work, state)


def restart(args):
    state = load_state(args.work)
    stop_server(state)
    process = launch(state)
    save_state(args.work, state)
    wait_health(state, process, args.timeout)


def stop_faults(state, mode=None):
    for name, fault in state.get("faults", {}).items():
        if mode is None or name == mode:
            stop_server(fault, grace=3.0)


def stop(args):
    state = load_state(args.work)
    stop_faults(state)
    stop_server(state)
    save_state(args.work, state)


def register(args):
    state = load_state(args.work)
    mlflow, client = client_for(state)
    rows = features(state["work"])
    booster = train(args.seed)
    entry = log_registered(mlflow, booster, args.name, args.seed)
    if args.corrupt:
        folder = describe_files(state, entry, client, args.name)
        with open(os.path.join(folder, entry["model_file"]), "wb") as f:
            f.write(b"this is not an xgboost model\n" * 4)
        entry["model_file_size"] = os.path.getsize(os.path.join(folder, entry["model_file"]))
        entry["corrupt"] = True
        entry["expected"], entry["expected_bits"] = None, None
    else:
        entry["expected"], entry["expected_bits"] = expectations(booster, rows)
        describe_files(state, entry, client, args.name)
    if args.alias:
        client.set_registered_model_alias(args.name, args.alias, entry["version"])
    state = load_state(args.work)  # re-read: nothing else may be lost
    if args.name == MODEL_NAME:
        state["models"][entry["version"]] = entry
        if args.alias:
            state["aliases"][args.alias] = entry["version"]
        # latest names the new version, corrupt or not (a test resolving a
        # case whose model is corrupt expects an error).
        for case in state["cases"]:
            if case["moving"] == "latest":
                case["expect_model"] = int(entry["version"])
                case["registry_version"] = entry["version"]
    state["registered"].append({"name": args.name, "version": entry["version"], "seed": args.seed,
                                "alias": args.alias, "corrupt": args.corrupt})
    save_state(args.work, state)
    print_result(json.dumps({"version": entry["version"], "alias": args.alias, "corrupt": args.corrupt,
                      "expected": entry["expected"], "expected_bits": entry["expected_bits"]}))


def fault(args):
    state = load_state(args.work)
    stop_faults(state, args.mode)
    port = free_port()
    counters = os.path.join(state["work"], f"fault-{args.mode}.json")
    if os.path.exists(counters):
        os.remove(counters)
    scheme = "https" if args.mode == "tls" else "http"
    entry = {"url": f"{scheme}://127.0.0.1:{port}", "port": port, "pgid": None, "counters": counters,
             "log": os.path.join(state["work"], f"fault-{args.mode}.log"),
             "argv": [sys.executable, os.path.abspath(__file__), "fault-serve", "--work",
                      state["work"], "--mode", args.mode, "--port", str(port),
                      "--upstream", state["tracking_uri"], "--counters", counters]}
    if args.mode == "auth":
        entry.update(token=AUTH_TOKEN, username=AUTH_USERNAME, password=AUTH_PASSWORD)
    if args.mode == "tls":
        entry["cert"] = os.path.join(state["work"], "fault-tls-cert.pem")
        entry["key"] = os.path.join(state["work"], "fault-tls-key.pem")
        make_certificate(entry["cert"], entry["key"])
        entry["argv"] += ["--cert", entry["cert"], "--key", entry["key"]]
    process = launch(entry)
    state["faults"][args.mode] = entry
    save_state(args.work, state)
    deadline = time.time() + 15
    while True:
        if process.poll() is not None:
            raise SystemExit(f"fault server {args.mode} exited with {process.returncode}; "
                             f"see {entry['log']}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if args.mode == "tls":
                    # A full handshake, verified against the new certificate:
                    # a bare connect would count as a failed handshake.
                    context = ssl.create_default_context(cafile=entry["cert"])
                    with context.wrap_socket(probe, server_hostname="127.0.0.1"):
                        pass
                break
        except OSError:
            if time.time() > deadline:
                stop_server(entry, grace=1.0)
                raise SystemExit(f"fault server {args.mode} not listening on {port}; see {entry['log']}")
            time.sleep(0.1)
    print_result(json.dumps({"mode": args.mode, "url": entry["url"]}))


def make_certificate(cert_path, key_path):
    """A self-signed certificate (its own CA) for 127.0.0.1 and localhost."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "inferloop test fault server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        # Self-signed and used as its own CA bundle: OpenSSL 3 wants CA:TRUE
        # (and keyCertSign) on a certificate it treats as a trust anchor.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    for path, data in ((key_path, key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())),
                       (cert_path, certificate.public_bytes(serialization.Encoding.PEM))):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    os.chmod(key_path, 0o600)


def fault_stop(args):
    state = load_state(args.work)
    stop_faults(state, args.mode)
    save_state(args.work, state)


# --- the fault server (runs as its own process: fault-serve) -------------------

class FaultHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = ""
    upstream = ""
    counters_path = ""
    counters = {"requests": 0, "answered_429": 0, "model_downloads": 0, "truncated": 0,
                "evil_downloads": 0, "answered_401": 0, "auth_schemes": {}, "auth_accepted": 0,
                "auth_rejected": 0, "tls_handshake_failures": 0, "tls_errors": [], "paths": []}
    lock = threading.Lock()
    stopping = threading.Event()

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        sys.stderr.write("fault %s: %s\n" % (self.mode, format % args))

    def count(self, key=None, scheme=None):
        with self.lock:
            if key is None:
                self.counters["requests"] += 1
                self.counters["paths"] = (self.counters["paths"] + [f"{self.command} {self.path}"])[-100:]
            else:
                self.counters[key] += 1
            if scheme is not None:
                schemes = self.counters["auth_schemes"]
                schemes[scheme] = schemes.get(scheme, 0) + 1
            return self.save_counters()

    @classmethod
    def save_counters(cls):
        """Writes the counters file; call with the lock held."""
        snapshot = json.dumps(cls.counters, indent=1)
        with open(cls.counters_path + ".tmp", "w") as f:
            f.write(snapshot)
        os.replace(cls.counters_path + ".tmp", cls.counters_path)
        return cls.counters["requests"]

    @classmethod
    def count_tls_failure(cls, error):
        with cls.lock:
            cls.counters["tls_handshake_failures"] += 1
            cls.counters["tls_errors"] = (cls.counters["tls_errors"] + [str(error)])[-20:]
            cls.save_counters()

    def authorized(self):
        """auth mode: whether the request carries the test credentials.
        Counts the scheme it used; the credentials themselves are compared,
        never recorded."""
        import base64
        import hmac
        header = self.headers.get("Authorization")
        if header is None:
            scheme, value = "none", ""
        else:
            scheme, _, value = header.strip().partition(" ")
            # A scheme name is a token; anything else is reported as "other".
            scheme = scheme if scheme.isalnum() and len(scheme) <= 20 else "other"
            value = value.strip()
        ok = False
        if scheme.lower() == "bearer":
            ok = hmac.compare_digest(value.encode(), AUTH_TOKEN.encode())
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.encode(), validate=True)
            except ValueError:
                decoded = b""
            ok = hmac.compare_digest(decoded, f"{AUTH_USERNAME}:{AUTH_PASSWORD}".encode())
        self.count("auth_accepted" if ok else "auth_rejected", scheme=scheme)
        return ok

    def reply(self, status, body, content_type="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        passed = ("content-type", "accept") if self.mode == "auth" else \
            ("content-type", "authorization", "accept")
        headers = {k: v for k, v in self.headers.items() if k.lower() in passed}
        request = urllib.request.Request(self.upstream + self.path, data=body, headers=headers,
                                         method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get("Content-Type", "")

    def handle_any(self):
        number = self.count()
        if self.mode == "hang":
            # Read the request, never answer (until the server is stopped).
            while not self.stopping.wait(1.0):
                pass
            return
        if self.mode == "auth" and not self.authorized():
            # What MLflow's basic-auth app answers (mlflow server --app-name
            # basic-auth), with MLflow's JSON error shape.
            body = json.dumps({"error_code": "UNAUTHENTICATED",
                               "message": "You are not authenticated. Please see "
                                          "https://www.mlflow.org/docs/latest/auth/index.html"
                                          "#authenticating-to-mlflow on how to authenticate."}).encode()
            self.count("answered_401")
            # The request body (if any) is read so that the connection stays usable.
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.reply(401, body, extra=[("WWW-Authenticate", 'Basic realm="mlflow"')])
            return
        if self.mode == "retry-after" and number <= 2:
            body = json.dumps({"error_code": "REQUEST_LIMIT_EXCEEDED",
                               "message": f"fault server: too many requests ({number} of 2)"}).encode()
            self.count("answered_429")
            self.reply(429, body, extra=[("Retry-After", "1")])
            return
        path = urllib.parse.urlparse(self.path).path
        artifacts = "/api/2.0/mlflow-artifacts/artifacts"
        if self.mode == "escape" and path.startswith(artifacts) and "evil" in path:
            self.count("evil_downloads")
            self.reply(200, b"evil", "application/octet-stream")
            return
        status, body, content_type = self.forward()
        basename = path.rsplit("/", 1)[-1]
        if path.startswith(artifacts + "/") and basename in MODEL_FILES and status == 200:
            self.count("model_downloads")
            if self.mode == "truncate":
                self.count("truncated")
                body = body[:len(body) // 2]
        elif path == artifacts and status == 200 and self.mode in ("escape", "oversize"):
            listing = json.loads(body or b"{}")
            files = listing.get("files", [])
            if self.mode == "escape" and any(f.get("path") == "MLmodel" for f in files):
                files.append({"path": "../../evil", "is_dir": False, "file_size": 4})
            if self.mode == "oversize":
                for f in files:
                    if f.get("path") in MODEL_FILES:
                        f["file_size"] = OVERSIZE
            body = json.dumps(listing).encode()
        self.reply(status, body, content_type or "application/json")

    do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = handle_any


class FaultServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = False

    def finish_request(self, request, client_address):
        if self.tls:
            # The TLS handshake runs here, in the request's thread, not in
            # accept(): a client that stalls or rejects the certificate
            # blocks nobody else, and its failure is counted.
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as error:
                FaultHandler.count_tls_failure(error)
                sys.stderr.write(f"fault tls: handshake with {client_address} failed: {error}\n")
                return
        super().finish_request(request, client_address)


def fault_serve(args):
    FaultHandler.mode = args.mode
    FaultHandler.upstream = args.upstream
    FaultHandler.counters_path = args.counters
    server = FaultServer(("127.0.0.1", args.port), FaultHandler)
    if args.mode == "tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
        server.tls = True

    def on_term(signum, frame):
        FaultHandler.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    server.serve_forever(poll_interval=0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "kill", "restart", "stop", "register",
                                            "fault", "fault-stop", "fault-serve"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--name", default=MODEL_NAME)
    parser.add_argument("--corrupt", action="store_true")
    parser.add_argument("--mode", choices=FAULT_MODES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream")
    parser.add_argument("--counters")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    args.work = os.path.abspath(args.work)
    if args.command == "fault" and not args.mode:
        parser.error("fault needs --mode")
    # MLflow prints "View run ..." lines on stdout: keep stdout for our one
    # JSON line (register's is parsed by tests).
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    global print_result
    print_result = lambda text: print(text, file=real_stdout, flush=True)  # noqa: E731
    {"start": start, "kill": kill, "restart": restart, "stop": stop, "register": register,
     "fault": fault, "fault-stop": fault_stop, "fault-serve": fault_serve}[args.command](args)


if __name__ == "__main__":
    main()
