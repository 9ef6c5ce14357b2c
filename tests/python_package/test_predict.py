"""inferloop.predict(): batch scoring bit for bit against xgboost's own
predict() and inplace_predict(), for every objective the tests train, both
output kinds, float64 input, DataFrames and MLflow model folders."""
import numpy as np
import pytest

import inferloop
from conftest import bits, rows, xgboost_predict


@pytest.mark.parametrize("name", ["binary", "binary_json", "regression", "multiclass"])
def test_predictions_are_xgboosts_bit_for_bit(models, name):
    import xgboost as xgb
    cols = models["binary_features"] if name.startswith("binary") else models["small_features"]
    x = rows(30, 3000, cols)
    expected = xgboost_predict(models[name], x)
    got = inferloop.predict(models[name], x)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.array_equal(bits(got), bits(expected))
    inplace = xgb.Booster(model_file=models[name]).inplace_predict(x)
    assert np.array_equal(bits(got), bits(inplace))


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_margin_output_is_xgboosts_margin(models, name):
    cols = models["binary_features"] if name == "binary" else models["small_features"]
    x = rows(31, 500, cols)
    expected = xgboost_predict(models[name], x, output_margin=True)
    assert np.array_equal(bits(inferloop.predict(models[name], x, output="margin")), bits(expected))


def test_threads_change_speed_not_values(models):
    x = rows(32, 1001, models["binary_features"])
    one = inferloop.predict(models["binary"], x, threads=1)
    for threads in (2, 3, 7):
        assert np.array_equal(bits(inferloop.predict(models["binary"], x, threads=threads)), bits(one))


def test_float64_and_integer_input_is_converted_as_xgboost_converts_it(models):
    x = rows(33, 400, models["binary_features"]).astype(np.float64) * (1 + 1e-9)
    assert np.array_equal(bits(inferloop.predict(models["binary"], x)),
                          bits(xgboost_predict(models["binary"], x)))
    integers = np.arange(80, dtype=np.int64).reshape(10, 8) - 40
    assert np.array_equal(bits(inferloop.predict(models["binary"], integers)),
                          bits(xgboost_predict(models["binary"], integers.astype(np.float32))))


def test_one_dimensional_input_is_one_row(models):
    x = rows(34, 2, models["binary_features"])
    assert inferloop.predict(models["binary"], x[1]).shape == (1,)
    assert np.array_equal(bits(inferloop.predict(models["binary"], x[1])),
                          bits(xgboost_predict(models["binary"], x[1:2])))


def test_no_rows_give_an_empty_result(models):
    empty = np.zeros((0, models["binary_features"]), dtype=np.float32)
    assert inferloop.predict(models["binary"], empty).shape == (0,)


def test_an_mlflow_model_folder_checks_dataframe_columns_against_its_signature(models):
    import pandas as pd
    x = rows(35, 50, models["binary_features"])
    frame = pd.DataFrame(x, columns=models["binary_columns"])
    got = inferloop.predict(models["binary_mlflow"], frame)
    assert np.array_equal(bits(got), bits(xgboost_predict(models["binary"], x)))
    assert np.array_equal(bits(inferloop.predict(models["binary_mlflow"], x)), bits(got))
    swapped = frame[list(reversed(models["binary_columns"]))]
    with pytest.raises(ValueError, match="do not match the MLmodel signature"):
        inferloop.predict(models["binary_mlflow"], swapped)


def test_resolve_model_describes_an_mlflow_model_folder(models):
    resolved = inferloop.resolve_model(models["binary_mlflow"])
    assert resolved.model_file.name.startswith("model")
    assert [name for name, _ in resolved.signature_inputs] == models["binary_columns"]
    import xgboost
    assert resolved.saved_by_version[:2] == [int(v) for v in xgboost.__version__.split(".")[:2]]


def test_xgboost_predictor_refuses_a_model_newer_than_its_library(models):
    linked = inferloop.linked_xgboost_version()
    import xgboost
    trained = [int(v) for v in xgboost.__version__.split(".")[:2]]
    x = rows(36, 20, models["binary_features"])
    if linked[:2] >= trained:
        got = inferloop.predict(models["binary"], x, predictor="XGBoostPredictor")
        assert np.array_equal(bits(got), bits(xgboost_predict(models["binary"], x)))
    else:
        with pytest.raises(inferloop.Error, match="xgboost|XGBoost"):
            inferloop.predict(models["binary"], x, predictor="XGBoostPredictor")
