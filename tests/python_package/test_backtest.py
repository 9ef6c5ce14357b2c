"""Backtests from Python: inferloop.backtest() over numpy arrays and
DataFrames, its determinism (same seed, any threads), and the reference
design's pattern of a Python loop that sets a ManualClock from each event,
which must see exactly what backtest() reports."""
import numpy as np
import pytest

import inferloop
from conftest import bits, forest_config, rows, xgboost_predict

MS = 1_000_000


def events(models, count=2000, seed=20):
    x = rows(seed, count, models["binary_features"])
    rng = np.random.default_rng(seed)
    # Irregular gaps, 0.2 to 2 ms: with a 1.5 ms mean latency replicas are
    # sometimes idle, sometimes all busy (conflation), sometimes overtaken (stale).
    times = 1_700_000_000 * 10**9 + np.cumsum(rng.integers(200_000, 2 * MS, size=count))
    return times.astype(np.int64), x


COLUMNS = ("feature_seq", "row", "feature_time_ns", "published_at_ns", "started_at_ns",
           "visible_at_ns", "model_version", "replica_id", "values", "snapshot_first_row",
           "snapshot_visible")


def assert_same_columns(a, b):
    for name in COLUMNS:
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype and np.array_equal(left, right), name
    assert a.stats.to_dict() == b.stats.to_dict()


def test_every_visible_value_is_xgboosts_and_counters_add_up(models):
    times, x = events(models)
    expected = xgboost_predict(models["binary"], x)
    result = inferloop.backtest(forest_config(models["binary"], num_replicas=3), times, x,
                                latency="lognormal:1500us,1ms", seed=7)
    assert len(result) > 0 and result.values.dtype == np.float32 and result.values.ndim == 1
    assert np.array_equal(bits(result.values), bits(expected[result.row]))
    assert np.array_equal(result.feature_time_ns, times[result.row])
    assert np.array_equal(result.feature_seq, result.row + 1)  # one row per snapshot
    assert np.all(np.diff(result.visible_at_ns) >= 0)
    assert np.all(result.visible_at_ns >= result.started_at_ns)
    assert np.all(result.started_at_ns >= result.published_at_ns)
    assert set(np.unique(result.replica_id)) <= {0, 1, 2}
    stats = result.stats
    assert result.snapshots == len(x) == stats.snapshots_published
    # Every snapshot is visible, conflated or stale; the counts add up.
    assert result.snapshot_visible.sum() == len(result)
    assert len(x) == len(result) + result.conflated + result.stale
    assert result.conflated > 0 and result.stale > 0  # the latency makes both happen
    assert result.idle_at_ns >= result.visible_at_ns[-1]  # a stale result may finish later


def test_same_seed_gives_the_same_results_with_any_threads(models):
    times, x = events(models)
    config = forest_config(models["binary"], num_replicas=4)
    first = inferloop.backtest(config, times, x, latency="lognormal:3ms,2ms", seed=11, threads=1)
    for threads in (1, 2, 4):
        again = inferloop.backtest(config, times, x, latency="lognormal:3ms,2ms", seed=11,
                                   threads=threads, max_batch_snapshots=7)
        assert_same_columns(first, again)
        # Calls of 5 rows: many rounds, results carried between them.
        small_calls = inferloop.backtest(config, times, x, latency="lognormal:3ms,2ms", seed=11,
                                         threads=threads, replay_batch_rows=5)
        assert_same_columns(first, small_calls)
    other_seed = inferloop.backtest(config, times, x, latency="lognormal:3ms,2ms", seed=12)
    assert not np.array_equal(first.visible_at_ns, other_seed.visible_at_ns)


def test_with_one_replica_the_hidden_snapshots_are_exactly_the_conflated_ones(models):
    times, x = events(models)
    result = inferloop.backtest(forest_config(models["binary"]), times, x,
                                latency="constant:1ms")
    assert result.stale == 0
    assert (~result.snapshot_visible).sum() == result.conflated > 0


def test_zero_latency_predicts_every_row(models):
    times, x = events(models, count=500)
    result = inferloop.backtest(forest_config(models["binary"]), times, x, latency="zero")
    assert len(result) == 500 and result.conflated == 0
    assert np.array_equal(result.visible_at_ns, times)


def test_a_python_backtest_loop_on_a_manual_clock_sees_what_backtest_reports(models):
    """The reference design's loop: set the clock from each event, publish,
    read latest(). Every latest() must be the result backtest() says was
    visible at that event (asof), bit for bit."""
    times, x = events(models, count=800)
    config = forest_config(models["binary"], num_replicas=2)
    latency = "lognormal:1500us,1ms"
    reference = inferloop.backtest(config, times, x, latency=latency, seed=5)
    visible_index = reference.asof(times)
    clock = inferloop.ManualClock(int(times[0]))
    with inferloop.InferenceLoop(config, clock=clock, latency=latency, seed=5) as loop:
        for i, (time_ns, row) in enumerate(zip(times, x)):
            clock.set(int(time_ns))
            loop.publish(row, feature_time_ns=int(time_ns))
            result = loop.latest()
            k = visible_index[i]
            if k < 0:
                assert result is None
            else:
                assert result.feature_seq == reference.feature_seq[k]
                assert result.completed_at_ns == reference.visible_at_ns[k]
                assert bits(result.values[0]) == bits(reference.values[k:k + 1])
        clock.set(loop.backtest_idle_at())
        loop.stop()
        assert loop.latest().feature_seq == reference.feature_seq[-1]
        assert loop.stats().to_dict() == reference.stats.to_dict()


def test_a_backtest_loop_needs_a_manual_clock(models):
    with pytest.raises(ValueError, match="ManualClock"):
        inferloop.InferenceLoop(forest_config(models["binary"]), latency="zero")


def test_multi_row_snapshots_map_values_back_to_their_rows(models):
    x = rows(21, 30, models["binary_features"])
    times = np.repeat(np.arange(10, dtype=np.int64) * MS, 3)  # 3 instruments per time
    expected = xgboost_predict(models["binary"], x)
    result = inferloop.backtest(forest_config(models["binary"], max_rows=2), times, x,
                                latency="zero")
    # max_rows 2: each run of 3 equal times is split into snapshots of 2 and 1 rows.
    assert result.snapshots == 20
    assert list(result.snapshot_first_row[:4]) == [0, 2, 3, 5]
    assert np.array_equal(np.sort(result.row), np.arange(30))
    assert np.array_equal(bits(result.values), bits(expected[result.row]))


def test_dataframes_give_the_same_results_as_arrays(models):
    import pandas as pd
    times, x = events(models, count=300)
    config = forest_config(models["binary"], num_replicas=2)
    arrays = inferloop.backtest(config, times, x, latency="lognormal:1ms,500us")
    columns = [f"f{i}" for i in range(x.shape[1])]
    stamps = pd.to_datetime(times, unit="ns")
    frames = [
        pd.DataFrame(x, columns=columns).assign(timestamp_ns=times),
        pd.DataFrame(x, columns=columns, index=stamps),
        pd.DataFrame(x, columns=columns, index=stamps.tz_localize("UTC").tz_convert("Asia/Tokyo")),
        pd.DataFrame(x.astype(np.float64), columns=columns).assign(when=stamps),
    ]
    for frame in frames:
        column = "when" if "when" in frame.columns else None
        from_frame = inferloop.backtest(config, frame, latency="lognormal:1ms,500us",
                                        timestamp_column=column)
        assert_same_columns(arrays, from_frame)
    series = inferloop.backtest(config, pd.Series(stamps), pd.DataFrame(x),
                                latency="lognormal:1ms,500us")
    assert_same_columns(arrays, series)
    table = arrays.to_pandas()
    assert list(table.columns)[-1] == "value" and len(table) == len(arrays)


def test_a_latency_array_is_replayed_in_dispatch_order(models):
    times, x = events(models, count=200)
    recorded = np.array([300_000, 2_500_000, 900_000], dtype=np.int64)
    result = inferloop.backtest(forest_config(models["binary"]), times, x, latency=recorded)
    latencies = result.visible_at_ns - result.started_at_ns
    # With one replica nothing is stale: visible result k is dispatch k.
    assert np.array_equal(latencies, np.resize(recorded, len(result)))
