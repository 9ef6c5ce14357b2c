"""Fixtures for the Python package's tests (tests/python_package/).

The package under test is whatever `import inferloop` finds: ctest puts the
build tree's python/ folder first on PYTHONPATH (tests/python_package/
CMakeLists.txt); the pip-install test runs in a venv of its own.

models: the manifest of make_models.py, trained once by ctest's fixture
(INFERLOOP_TEST_MODELS) or, when pytest runs by hand, into a temporary folder.
Expected predictions are always computed in the test from the model file,
with the venv's xgboost.
"""
import json
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_models  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    folder = os.environ.get("INFERLOOP_TEST_MODELS")
    if folder:
        with open(os.path.join(folder, "manifest.json")) as f:
            return json.load(f)
    return make_models.make_models(str(tmp_path_factory.mktemp("models")))


def rows(seed, count, cols, nan_fraction=0.05):
    """Test rows: float32, normal, some NaN (missing values), one all-NaN row."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, cols)).astype(np.float32)
    x[rng.random(size=x.shape) < nan_fraction] = np.nan
    x[0, :] = np.nan
    return x


def xgboost_predict(model_file, x, **kwargs):
    """xgboost's own prediction, the reference every inferloop value must equal."""
    import xgboost as xgb
    booster = xgb.Booster(model_file=model_file)
    return booster.predict(xgb.DMatrix(x), **kwargs)


def bits(values):
    """float32 bit patterns: equal bits, not merely close values."""
    return np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)


def forest_config(model_file, **keys):
    return {"model_uri": model_file, "predictor_class_name": "ForestPredictor", **keys}
