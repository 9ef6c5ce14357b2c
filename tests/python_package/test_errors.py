"""Every error path of the Python package: a Python exception with the C++
message, never a crash. inferloop.Error (a RuntimeError) for what the core
refuses; TypeError / ValueError for arrays of the wrong dtype, shape or
width, and for arguments Python can check first."""
import numpy as np
import pytest

import inferloop
from conftest import forest_config, rows

MS = 1_000_000


def test_error_is_a_runtime_error():
    assert issubclass(inferloop.Error, RuntimeError)


@pytest.mark.parametrize("bad, kind, message", [
    (np.array([["a"] * 8]), TypeError, "found dtype <U1"),
    (np.ones((1, 8), dtype=bool), TypeError, "found dtype bool"),
    (np.ones((1, 8), dtype=np.complex64), TypeError, "found dtype complex64"),
    (np.array([[object()] * 8]), TypeError, "found dtype object"),
    ({"not": "an array"}, TypeError, "found dtype object"),
    (np.ones((1, 2, 8), dtype=np.float32), ValueError, "found an array with 3 dimensions"),
    (np.float32(1.0), ValueError, "found an array with 0 dimensions"),
    ([[1.0, 2.0], [3.0]], ValueError, "inhomogeneous"),
])
def test_bad_arrays_are_refused_everywhere(models, bad, kind, message):
    with pytest.raises(kind, match=message):
        inferloop.predict(models["binary"], bad)
    with inferloop.InferenceLoop(forest_config(models["binary"])) as loop:
        with pytest.raises(kind, match=message):
            loop.publish(bad)
    with pytest.raises(kind, match=message):
        inferloop.backtest(forest_config(models["binary"]), np.zeros(1, dtype=np.int64), bad,
                           latency="zero")


def test_a_wrong_width_is_a_value_error_naming_both_widths(models):
    x = np.zeros((3, 7), dtype=np.float32)
    with pytest.raises(ValueError, match="X has 7 columns, but the model .* takes 8 features"):
        inferloop.predict(models["binary"], x)
    with inferloop.InferenceLoop(forest_config(models["binary"], max_rows=4)) as loop:
        with pytest.raises(ValueError, match=r"publish\(features\): .*8.*\(features arrived as 3 x 7\)"):
            loop.publish(x)
        with pytest.raises(ValueError, match=r"arrived as 5 x 8"):
            loop.publish(np.zeros((5, 8), dtype=np.float32))  # more than max_rows
        with pytest.raises(ValueError, match=r"arrived as 0 x 8"):
            loop.publish(np.zeros((0, 8), dtype=np.float32))
        assert loop.stats().snapshots_published == 0
    with pytest.raises(inferloop.Error, match="the rows have 7 features, but the model .* takes 8"):
        inferloop.backtest(forest_config(models["binary"]), np.arange(3), x, latency="zero")


def test_publish_before_the_width_is_known_is_an_error(models):
    loop = inferloop.InferenceLoop(forest_config(models["binary"]))
    with pytest.raises(inferloop.Error):
        loop.publish(np.zeros(8, dtype=np.float32))
    with pytest.raises(inferloop.Error):
        loop.model_info()


def test_a_missing_model_fails_start_with_the_path(tmp_path):
    missing = str(tmp_path / "nowhere" / "model.ubj")
    loop = inferloop.InferenceLoop(forest_config(missing))
    with pytest.raises(inferloop.Error, match="nowhere/model.ubj"):
        loop.start()
    assert not loop.running
    with pytest.raises(inferloop.Error, match="nowhere/model.ubj"):
        inferloop.predict(missing, np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(inferloop.Error, match="nowhere/model.ubj"):
        inferloop.backtest(forest_config(missing), [0], np.zeros((1, 8)), latency="zero")


def test_a_corrupt_model_file_is_an_error(tmp_path):
    corrupt = tmp_path / "model.json"
    corrupt.write_text('{"learner": ')
    with pytest.raises(inferloop.Error, match="model.json"):
        inferloop.predict(str(corrupt), np.zeros((1, 8), dtype=np.float32))


def test_an_unknown_predictor_lists_the_known_ones(models):
    with pytest.raises(inferloop.Error, match="ForestPredictor"):
        inferloop.predict(models["binary"], np.zeros((1, 8)), predictor="NoSuchPredictor")
    with pytest.raises(ValueError, match="'transformed' or 'margin'"):
        inferloop.predict(models["binary"], np.zeros((1, 8)), output="probability")
    with pytest.raises(ValueError, match="threads must be 1..256"):
        inferloop.predict(models["binary"], np.zeros((1, 8)), threads=0)


def test_backtest_argument_errors(models):
    config = forest_config(models["binary"])
    x = rows(40, 4, models["binary_features"])
    with pytest.raises(inferloop.Error, match="invalid latency spec 'lognormal:40us'"):
        inferloop.backtest(config, np.arange(4), x, latency="lognormal:40us")
    with pytest.raises(TypeError, match="latency is required"):
        inferloop.backtest(config, np.arange(4), x, latency=None)
    with pytest.raises(inferloop.Error, match="row 2 has timestamp 1 ns, before the previous row's 5"):
        inferloop.backtest(config, np.array([0, 5, 1, 9]), x, latency="zero")
    with pytest.raises(ValueError, match="3 timestamps but 4 feature rows"):
        inferloop.backtest(config, np.arange(3), x, latency="zero")
    with pytest.raises(TypeError, match="integer nanoseconds or datetime64"):
        inferloop.backtest(config, np.arange(4) * 1.5, x, latency="zero")
    with pytest.raises(ValueError, match="NaT"):
        inferloop.backtest(config, np.array(["2024-01-01", "NaT", "2024-01-02", "2024-01-03"],
                                            dtype="datetime64[ns]"), x, latency="zero")
    with pytest.raises(ValueError, match="does not fit in int64"):
        inferloop.backtest(config, np.array([0, 1, 2, 2**63], dtype=np.uint64), x, latency="zero")
    with pytest.raises(inferloop.Error, match="no rows to replay"):
        inferloop.backtest(config, np.zeros(0, dtype=np.int64), x[:0], latency="zero")
    with pytest.raises(TypeError, match="one DataFrame holding both"):
        inferloop.backtest(config, np.arange(4), latency="zero")
    with pytest.raises(inferloop.Error, match="threads"):
        inferloop.backtest(config, np.arange(4), x, latency="zero", threads=0)


def test_loop_argument_errors(models):
    config = forest_config(models["binary"])
    with pytest.raises(TypeError, match="on_result: expected a callable"):
        inferloop.InferenceLoop(config, on_result=42)
    with pytest.raises(inferloop.Error, match="invalid latency spec"):
        inferloop.InferenceLoop(config, clock=inferloop.ManualClock(), latency="soon")
    with inferloop.InferenceLoop(config) as loop:
        with pytest.raises(ValueError, match="timeout must be a finite number"):
            loop.wait_for(1, timeout=-1.0)
        with pytest.raises(ValueError, match="timeout must be a finite number"):
            loop.wait_for(1, timeout=float("nan"))
    clock = inferloop.ManualClock(0)
    with inferloop.InferenceLoop(config, clock=clock, latency="zero") as backtest_loop:
        with pytest.raises(inferloop.Error, match="backtest"):
            backtest_loop.reload()


def test_a_callback_that_publishes_from_inside_publish_is_refused(models, monkeypatch):
    """Backtest mode delivers results inside publish(), on the publishing
    thread: publishing again from there would deadlock; it is an error."""
    import sys
    monkeypatch.setattr(sys, "unraisablehook", lambda hook: None)
    attempts = []
    clock = inferloop.ManualClock(0)
    x = rows(41, 3, models["binary_features"])

    def on_result(result):
        try:
            loop.publish(x[0])
        except inferloop.Error as error:
            attempts.append(str(error))

    loop = inferloop.InferenceLoop(forest_config(models["binary"]), clock=clock, latency="zero",
                                   on_result=on_result)
    with loop:
        for i in range(3):
            clock.set(i * MS)
            loop.publish(x[i])
    assert attempts and all("called from inside the same backtest loop's callback" in text for text in attempts)
