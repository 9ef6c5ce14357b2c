#!/usr/bin/env python3
"""An S3 store (moto in server mode) and a real MLflow tracking server whose
artifacts live in it, unproxied, on loopback, for inferloop's S3 tests
(tests/mlflow/s3_integration_test.cpp, s3_live_reload_test.cpp).

  start      --work DIR [--timeout S]
             Starts `moto_server` on a free 127.0.0.1 port, creates an IAM user
             with an access key through moto's IAM API (boto3), a role it may
             assume, the bucket inferloop-models, then switches moto's
             authentication on
             (/moto-api/reset-auth): from then on every request must be
             signed with that key (or temporary credentials of the role, from
             STS AssumeRole). Starts `mlflow server --backend-store-uri
             sqlite:///DIR/mlflow.db --default-artifact-root
             s3://inferloop-models/root --no-serve-artifacts` with
             MLFLOW_S3_ENDPOINT_URL pointing at moto. With MLflow's own Python
             client (which writes to the bucket) it logs and registers two
             XGBoost models (the models of mlflow_fixtures.py, seeds 1 and 2)
             as versions 1 and 2 of "inferloop-s3", points alias champion at
             1, logs model 1 again as plain run artifacts
             (runs:/<run>/plain_model) and puts model 1's model file alone at
             s3://inferloop-models/files/model.ubj, and a folder
             s3://inferloop-models/files/escape whose keys include
             "files/escape/../../evil". Writes DIR/features.csv and
             DIR/state.json. Every server runs in its own process group with
             scripts/server_env.py's environment. On any failure it stops what
             it started and exits non-zero.
  stop       --work DIR    stops every server (SIGTERM, then SIGKILL).
  register   --work DIR --seed S [--alias NAME] [--corrupt] [--name MODEL]
             Logs and registers a model with seed S as the next version of
             MODEL (default inferloop-s3-live) and points alias NAME (default
             live) at it. --corrupt overwrites its model file in the bucket
             with garbage afterwards (MLmodel intact, sizes consistent, so the
             download succeeds and loading fails). Prints {"version",
             "corrupt", "expected_bits"} as one JSON line on stdout.
  fault      --work DIR --mode M
             (Re)starts a proxy in front of moto on a free loopback port (its
             own process group). It forwards every request unchanged (Host
             included, so signatures stay valid), except in these modes:
               truncate  a model file (model.ubj/.json/.xgb) is served cut in
                         half (Content-Length = the half; listings keep the
                         real size);
               hang      reads each request and never answers.
             (pass: nothing; a store that can be taken away by stopping it.)
             Use its url as MLFLOW_S3_ENDPOINT_URL. Counts in DIR/fault-M.json:
             {"requests", "model_downloads", "truncated", "paths"}.
  fault-stop --work DIR [--mode M]   stops one fault proxy, or all.

state.json:
  {"tracking_uri", "port", "pgid" (the tracking server), "argv", "log", "work",
   "servers": {"moto": {"url", "port", "pgid", "argv", "log"}},
   "bucket": "inferloop-models", "artifact_root": "s3://inferloop-models/root",
   "region": "us-east-1",
   "credentials": {"access_key_id", "secret_access_key"} (issued by moto's IAM),
   "role_arn", "session_credentials": {"access_key_id", "secret_access_key",
   "session_token"} (temporary, from STS AssumeRole of role_arn, valid 1 hour),
   "features_csv", "num_features", "num_rows", "registered_model": "inferloop-s3",
   "models": {"1": {"version", "seed", "run_id", "model_id", "artifact_uri": "s3://...",
                    "model_file", "model_file_size", "expected_bits": [uint32]}, "2": ...},
   "plain_model_run_id", "single_file_uri", "escape_uri",
   "cases": [{"uri", "expect_model", "registry_name", "registry_version"}],
   "registered": [...], "faults": {M: {"url", "port", "pgid", "argv", "log", "counters"}}}
Expected predictions are xgboost's, as in mlflow_fixtures.py.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mlflow_fixtures as mf  # noqa: E402  (models, expectations, fault server)
from remote_fixtures import free_port, launch, load_state, save_state, stop_server  # noqa: E402

MODEL_NAME = "inferloop-s3"
LIVE_MODEL_NAME = "inferloop-s3-live"
BUCKET = "inferloop-models"
REGION = "us-east-1"
FAULT_MODES = ("pass", "truncate", "hang")
print_result = print  # main() points it at the real stdout


def s3_environment(state):
    """What MLflow's client (boto3) needs to reach the bucket in moto."""
    return {"MLFLOW_S3_ENDPOINT_URL": state["servers"]["moto"]["url"],
            "AWS_ACCESS_KEY_ID": state["credentials"]["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": state["credentials"]["secret_access_key"],
            "AWS_DEFAULT_REGION": REGION}


def s3_client(state):
    import boto3
    return boto3.client("s3", endpoint_url=state["servers"]["moto"]["url"], region_name=REGION,
                        aws_access_key_id=state["credentials"]["access_key_id"],
                        aws_secret_access_key=state["credentials"]["secret_access_key"])


def wait_moto(moto, process, timeout):
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}; see {moto['log']}")
        try:
            with urllib.request.urlopen(moto["url"] + "/moto-api/data.json", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = str(error)
        time.sleep(0.2)
    raise RuntimeError(f"moto at {moto['url']} not answering after {timeout:.0f} s ({last})")


def prepare_moto(state):
    """An IAM user whose key may do anything, the bucket, then auth on."""
    import boto3
    # Before auth is on, moto accepts any key; these are moto's documented test values.
    setup = dict(endpoint_url=state["servers"]["moto"]["url"], region_name=REGION,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
    iam = boto3.client("iam", **setup)
    iam.create_user(UserName="inferloop-test")
    key = iam.create_access_key(UserName="inferloop-test")["AccessKey"]
    policy = iam.create_policy(PolicyName="inferloop-test-all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam.attach_user_policy(UserName="inferloop-test", PolicyArn=policy["Policy"]["Arn"])
    # A role the user may assume: temporary credentials with a session token.
    role = iam.create_role(RoleName="inferloop-test-reader", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                 "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName="inferloop-test-reader", PolicyArn=policy["Policy"]["Arn"])
    boto3.client("s3", **setup).create_bucket(Bucket=BUCKET)
    state["credentials"] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    state["role_arn"] = role["Role"]["Arn"]
    # The body is the number of requests still allowed without auth.
    request = urllib.request.Request(state["servers"]["moto"]["url"] + "/moto-api/reset-auth", data=b"0",
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        if answer.status != 200:
            raise RuntimeError(f"moto reset-auth answered {answer.status}")
    # Proof that auth is on: an unknown key must now be refused.
    import botocore.exceptions
    try:
        boto3.client("s3", **setup).list_objects_v2(Bucket=BUCKET)
        raise RuntimeError("moto still accepts unsigned or unknown keys after reset-auth")
    except botocore.exceptions.ClientError:
        pass
    # Temporary credentials (moto checks their session token), valid 1 hour.
    sts = boto3.client("sts", endpoint_url=state["servers"]["moto"]["url"], region_name=REGION,
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    temporary = sts.assume_role(RoleArn=state["role_arn"], RoleSessionName="inferloop-test",
                                DurationSeconds=3600)["Credentials"]
    state["session_credentials"] = {"access_key_id": temporary["AccessKeyId"],
                                    "secret_access_key": temporary["SecretAccessKey"],
                                    "session_token": temporary["SessionToken"]}


def client_for(state):
    os.environ.update(s3_environment(state))
    return mf.client_for(state)


def model_file_of(state, artifact_uri):
    """The model file name and size below an s3:// artifact URI."""
    parsed = urllib.parse.urlparse(artifact_uri)
    if parsed.scheme != "s3" or parsed.netloc != BUCKET:
        raise RuntimeError(f"expected an artifact URI in s3://{BUCKET}, got {artifact_uri!r}: is the "
                           "tracking server serving artifacts after all?")
    prefix = parsed.path.lstrip("/").rstrip("/") + "/"
    listed = s3_client(state).list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    for item in listed:
        name = item["Key"][len(prefix):]
        if name in mf.MODEL_FILES:
            return name, item["Size"], item["Key"]
    raise RuntimeError(f"no model file below {artifact_uri}: {[i['Key'] for i in listed]}")


def log_version(state, mlflow, client, name, seed, rows):
    booster = mf.train(seed)
    entry = mf.log_registered(mlflow, booster, name, seed)
    entry["artifact_uri"] = client.get_model_version_download_uri(name, entry["version"])
    entry["model_file"], entry["model_file_size"], entry["model_key"] = model_file_of(state, entry["artifact_uri"])
    _, entry["expected_bits"] = mf.expectations(booster, rows)
    return entry, booster


def make_models(state):
    import shutil
    import tempfile
    import mlflow.xgboost
    mlflow, client = client_for(state)
    rows = mf.features(state["work"])
    boosters = {}
    for seed in (1, 2):
        entry, boosters[seed] = log_version(state, mlflow, client, MODEL_NAME, seed, rows)
        state["models"][entry["version"]] = entry
    if sorted(state["models"]) != ["1", "2"]:
        raise RuntimeError(f"expected versions 1 and 2 of {MODEL_NAME}, got {sorted(state['models'])}")
    client.set_registered_model_alias(MODEL_NAME, "champion", "1")

    # Model 1 as plain run artifacts, uploaded by the client into the bucket.
    folder = tempfile.mkdtemp(prefix="plain-", dir=state["work"])
    try:
        saved = os.path.join(folder, "plain_model")
        mlflow.xgboost.save_model(boosters[1], saved, signature=mf.signature(boosters[1]),
                                  pip_requirements=["xgboost"])
        with mlflow.start_run(run_name="plain-artifacts") as run:
            mlflow.log_artifacts(saved, "plain_model")
        state["plain_model_run_id"] = run.info.run_id
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    # Model 1's file alone, as a model URI may name a single file.
    one = state["models"]["1"]
    body = s3_client(state).get_object(Bucket=BUCKET, Key=one["model_key"])["Body"].read()
    s3_client(state).put_object(Bucket=BUCKET, Key="files/" + one["model_file"], Body=body)
    state["single_file_uri"] = f"s3://{BUCKET}/files/{one['model_file']}"
    # A folder whose listing names a key that would leave it (S3 keys are
    # names, not paths: "../" is allowed in them).
    s3_client(state).put_object(Bucket=BUCKET, Key="files/escape/MLmodel", Body=b"flavors: {}\n")
    s3_client(state).put_object(Bucket=BUCKET, Key="files/escape/../../evil", Body=b"evil")
    state["escape_uri"] = f"s3://{BUCKET}/files/escape"

    def case(uri, model, version=""):
        return {"uri": uri, "expect_model": model, "registry_name": MODEL_NAME if version else "",
                "registry_version": version}

    state["cases"] = [
        case(one["artifact_uri"], 1),
        case(state["models"]["2"]["artifact_uri"] + "/", 2),
        case(state["single_file_uri"], 1),
        case(f"models:/{MODEL_NAME}/1", 1, "1"),
        case(f"models:/{MODEL_NAME}/2", 2, "2"),
        case(f"models:/{MODEL_NAME}@champion", 1, "1"),
        case(f"models:/{one['model_id']}", 1),
        # MLflow 3: the run's "model" folder is empty; the logged model has the files.
        case(f"runs:/{one['run_id']}/{mf.LOGGED_MODEL_NAME}", 1),
        case(f"runs:/{state['plain_model_run_id']}/plain_model", 1),
    ]


# --- subcommands --------------------------------------------------------------

def start(args):
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    if os.path.exists(os.path.join(work, "state.json")):
        stop(argparse.Namespace(work=work))  # a previous run that was not stopped
    for stale in ("mlflow.db", "features.csv", "state.json"):
        if os.path.exists(os.path.join(work, stale)):
            os.remove(os.path.join(work, stale))
    moto_port = free_port()
    moto = {"url": f"http://127.0.0.1:{moto_port}", "port": moto_port, "pgid": None,
            "argv": [os.path.join(os.path.dirname(sys.executable), "moto_server"),
                     "-H", "127.0.0.1", "-p", str(moto_port)],
            "log": os.path.join(work, "moto.log")}
    port = free_port()
    state = {"tracking_uri": f"http://127.0.0.1:{port}", "port": port, "pgid": None,
             "argv": [os.path.join(os.path.dirname(sys.executable), "mlflow"), "server",
                      "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
                      "--default-artifact-root", f"s3://{BUCKET}/root", "--no-serve-artifacts",
                      "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
             "log": os.path.join(work, "mlflow-server.log"), "work": work,
             "servers": {"moto": moto}, "bucket": BUCKET, "artifact_root": f"s3://{BUCKET}/root",
             "region": REGION, "features_csv": os.path.join(work, "features.csv"),
             "num_features": mf.NUM_FEATURES, "num_rows": mf.NUM_ROWS,
             "registered_model": MODEL_NAME, "models": {}, "cases": [], "registered": [], "faults": {}}
    try:
        process = launch(moto)
        save_state(work, state)  # so that stop can clean up even if a step fails
        wait_moto(moto, process, args.timeout)
        prepare_moto(state)
        state["env"] = s3_environment(state)  # remote_fixtures.launch adds it to the server's
        process = launch(state)
        save_state(work, state)
        mf.wait_health(state, process, args.timeout)
        make_models(state)
    except BaseException:
        stop(argparse.Namespace(work=work), state)
        raise
    save_state(work, state)
    print_result(json.dumps({"tracking_uri": state["tracking_uri"], "s3": moto["url"],
                             "cases": len(state["cases"])}))


def stop(args, state=None):
    state = state or load_state(args.work)
    stop_faults(state)
    stop_server(state)
    for server in state.get("servers", {}).values():
        stop_server(server)
    save_state(args.work, state)


def stop_faults(state, mode=None):
    for name, fault in state.get("faults", {}).items():
        if mode is None or name == mode:
            stop_server(fault, grace=3.0)


def register(args):
    state = load_state(args.work)
    mlflow, client = client_for(state)
    rows = mf.features(state["work"])
    entry, _ = log_version(state, mlflow, client, args.name, args.seed, rows)
    if args.corrupt:
        garbage = b"this is not an xgboost model\n" * 4
        s3_client(state).put_object(Bucket=BUCKET, Key=entry["model_key"], Body=garbage)
        entry["model_file_size"] = len(garbage)
        entry["expected_bits"] = None
    if args.alias:
        client.set_registered_model_alias(args.name, args.alias, entry["version"])
    state = load_state(args.work)  # re-read: nothing else may be lost
    state["registered"].append({"name": args.name, "version": entry["version"], "seed": args.seed,
                                "alias": args.alias, "corrupt": args.corrupt})
    save_state(args.work, state)
    print_result(json.dumps({"version": entry["version"], "corrupt": args.corrupt,
                             "expected_bits": entry["expected_bits"]}))


def fault(args):
    state = load_state(args.work)
    stop_faults(state, args.mode)
    port = free_port()
    counters = os.path.join(state["work"], f"fault-{args.mode}.json")
    if os.path.exists(counters):
        os.remove(counters)
    entry = {"url": f"http://127.0.0.1:{port}", "port": port, "pgid": None, "counters": counters,
             "log": os.path.join(state["work"], f"fault-{args.mode}.log"),
             "argv": [sys.executable, os.path.abspath(__file__), "fault-serve", "--work", state["work"],
                      "--mode", args.mode, "--port", str(port),
                      "--upstream", state["servers"]["moto"]["url"], "--counters", counters]}
    process = launch(entry)
    state["faults"][args.mode] = entry
    save_state(args.work, state)
    deadline = time.time() + 15
    while True:
        if process.poll() is not None:
            raise SystemExit(f"fault proxy {args.mode} exited with {process.returncode}; see {entry['log']}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.time() > deadline:
                stop_server(entry, grace=1.0)
                raise SystemExit(f"fault proxy {args.mode} not listening on {port}; see {entry['log']}")
            time.sleep(0.1)
    print_result(json.dumps({"mode": args.mode, "url": entry["url"]}))


def fault_stop(args):
    state = load_state(args.work)
    stop_faults(state, args.mode)
    save_state(args.work, state)


# --- the fault proxy (runs as its own process: fault-serve) -------------------

class S3FaultHandler(mf.FaultHandler):
    """mlflow_fixtures' fault handler (counters, replies), forwarding to S3."""
    counters = {"requests": 0, "model_downloads": 0, "truncated": 0, "paths": []}

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = urllib.parse.urlparse(self.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        # Every header as it came, Host included: the signature covers them.
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.read(), answer.getheader("Content-Type", "")
        finally:
            connection.close()

    def handle_any(self):
        self.count()
        if self.mode == "hang":
            while not self.stopping.wait(1.0):
                pass
            return
        status, body, content_type = self.forward()
        basename = urllib.parse.urlparse(self.path).path.rsplit("/", 1)[-1]
        if self.command == "GET" and basename in mf.MODEL_FILES and status == 200:
            self.count("model_downloads")
            if self.mode == "truncate":
                self.count("truncated")
                body = body[:len(body) // 2]
        self.reply(status, body, content_type or "application/xml")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def fault_serve(args):
    S3FaultHandler.mode = args.mode
    S3FaultHandler.upstream = args.upstream
    S3FaultHandler.counters_path = args.counters
    server = mf.FaultServer(("127.0.0.1", args.port), S3FaultHandler)

    def on_term(signum, frame):
        S3FaultHandler.stopping.set()
        import threading
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    server.serve_forever(poll_interval=0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "register", "fault", "fault-stop", "fault-serve"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--alias", default="live")
    parser.add_argument("--name", default=LIVE_MODEL_NAME)
    parser.add_argument("--corrupt", action="store_true")
    parser.add_argument("--mode", choices=FAULT_MODES)
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream")
    parser.add_argument("--counters")
    args = parser.parse_args()
    args.work = os.path.abspath(args.work)
    if args.command == "fault" and not args.mode:
        parser.error("fault needs --mode")
    # MLflow prints "View run ..." lines on stdout: keep stdout for our one JSON line.
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    global print_result
    print_result = lambda text: print(text, file=real_stdout, flush=True)  # noqa: E731
    {"start": start, "stop": stop, "register": register, "fault": fault, "fault-stop": fault_stop,
     "fault-serve": fault_serve}[args.command](args)


if __name__ == "__main__":
    main()
