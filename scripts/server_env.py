"""The environment of every server inferloop's scripts, tests, examples and
benchmarks start: `mlflow server`, `mlflow models serve`, Ray (Serve) and
MLServer. Nothing they run may talk to any address but loopback, so MLflow's
telemetry, Ray's usage reporting and MLflow's background job workers are off
and Ray's servers bind loopback, whatever the caller's environment says.

    sys.path.insert(0, "<repo>/scripts"); from server_env import server_environment
    subprocess.Popen(argv, env=server_environment())

tests/python/check_server_env.py reads the environment of the running
servers back from /proc and fails when one of these is missing.
"""
import os

# name -> value every server gets.
OFFLINE = {
    # MLflow 3's telemetry (mlflow/telemetry): off by either variable.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    # Ray's usage stats reporting.
    "RAY_USAGE_STATS_ENABLED": "0",
    # `mlflow server` would start huey job-runner processes next to the
    # server; nothing inferloop does needs them.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    # Ray's switch for a single-machine cluster: the node address is the
    # loopback one, so every Ray server (GCS, raylet, agents, workers) binds
    # 127.0.0.1; without it ray.init(_node_ip_address="127.0.0.1") is turned
    # back into the machine's outward address. Ray reads it at import.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}


def server_environment(extra=None, base=None):
    """A copy of `base` (default: os.environ) with OFFLINE applied, then `extra`.
    `extra` cannot switch OFFLINE settings back on."""
    env = dict(os.environ if base is None else base)
    env.update(extra or {})
    env.update(OFFLINE)
    return env


def offline_problems(environ):
    """What in `environ` (a mapping) breaks OFFLINE; empty when nothing does."""
    return [f"{name}={environ.get(name, '<unset>')} (needs {value})"
            for name, value in OFFLINE.items() if environ.get(name) != value]
