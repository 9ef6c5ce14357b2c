"""Models from a real `mlflow server` on loopback, from Python: every model
URI form through inferloop.predict(), and a live loop that follows an alias
to a newly registered version with reload().

The server and its models come from tests/python/mlflow_fixtures.py (the
same fixture the C++ MLflow tests use; it starts `mlflow server` with
scripts/server_env.py's offline environment and computes every expected
value with xgboost itself)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import inferloop
from conftest import bits

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python",
                        "mlflow_fixtures.py")
TIMEOUT = 30.0


def fixture(*args):
    completed = subprocess.run([sys.executable, FIXTURES, *args], check=True,
                               capture_output=True, text=True)
    return completed.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("mlflow"))
    try:
        fixture("start", "--work", work, "--timeout", "180")
        with open(os.path.join(work, "state.json")) as f:
            state = json.load(f)
        state["cache"] = str(tmp_path_factory.mktemp("cache"))
        yield state
    finally:
        fixture("stop", "--work", work)


def feature_rows(state):
    rows = np.genfromtxt(state["features_csv"], delimiter=",", dtype=np.float64)
    return rows.astype(np.float32)  # written as the exact value of each float32


def expected_bits(state, version):
    return np.array(state["models"][str(version)]["expected_bits"], dtype=np.uint32)


def test_every_model_uri_form_predicts_the_registered_models_values(server):
    rows = feature_rows(server)
    assert len(server["cases"]) >= 10
    for case in server["cases"]:
        got = inferloop.predict(case["uri"], rows, mlflow_tracking_uri=server["tracking_uri"],
                                model_cache_dir=server["cache"])
        assert np.array_equal(bits(got), expected_bits(server, case["expect_model"])), case["uri"]


def test_resolve_model_reports_the_registry_version(server):
    resolved = inferloop.resolve_model("models:/inferloop-test@champion",
                                       mlflow_tracking_uri=server["tracking_uri"],
                                       model_cache_dir=server["cache"])
    assert resolved.registry_name == "inferloop-test"
    assert resolved.registry_version == server["aliases"]["champion"]
    assert resolved.resolution  # one line per REST call or cache decision


def test_an_unknown_registered_model_is_an_error_naming_it(server):
    with pytest.raises(inferloop.Error, match="no-such-model"):
        inferloop.predict("models:/no-such-model/1", np.zeros((1, 5), dtype=np.float32),
                          mlflow_tracking_uri=server["tracking_uri"], model_cache_dir=server["cache"])


def test_a_live_loop_follows_an_alias_to_a_new_version(server):
    rows = feature_rows(server)
    config = {"model_uri": "models:/inferloop-test@canary", "predictor_class_name": "ForestPredictor",
              "mlflow_tracking_uri": server["tracking_uri"], "model_cache_dir": server["cache"],
              "max_rows": len(rows)}
    with inferloop.InferenceLoop(config) as loop:
        assert loop.wait_for(loop.publish(rows), timeout=TIMEOUT)
        first = loop.latest()
        assert first.model_version == 1
        assert np.array_equal(bits(first.values[:, 0]),
                              expected_bits(server, server["aliases"]["canary"]))
        registered = json.loads(fixture("register", "--work", server["work"], "--seed", "5",
                                        "--alias", "canary"))
        outcome = loop.reload()
        assert outcome.swapped and outcome.model_version == 2
        assert outcome.registry_version == registered["version"]
        assert loop.wait_for(loop.publish(rows), timeout=TIMEOUT)
        second = loop.latest()
        assert second.model_version == 2
        assert np.array_equal(bits(second.values[:, 0]),
                              np.array(registered["expected_bits"], dtype=np.uint32))
        assert loop.model_info().model.registry_version == registered["version"]
