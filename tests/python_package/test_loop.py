"""InferenceLoop from Python, live (system clock), on real models trained by
the venv's xgboost: lifecycle, publish/latest (from several threads), the
values bit for bit against xgboost, callbacks on the loop's threads, the GIL
released while waiting, Ctrl-C in wait_for, and live reload."""
import shutil
import sys
import threading
import _thread

import numpy as np
import pytest

import inferloop
from conftest import bits, forest_config, rows, xgboost_predict

TIMEOUT = 30.0  # seconds; generous for a loaded machine, never reached when all is well


def test_start_publish_latest_stop(models):
    x = rows(1, 20, models["binary_features"])
    expected = xgboost_predict(models["binary"], x)
    loop = inferloop.InferenceLoop(forest_config(models["binary"], num_replicas=2))
    assert not loop.running and loop.latest() is None
    loop.start()
    assert loop.running and loop.num_features == models["binary_features"]
    for i, row in enumerate(x):
        seq = loop.publish(row)
        assert seq == i + 1
        assert loop.wait_for(seq, timeout=TIMEOUT)
        result = loop.latest()
        assert result.feature_seq == seq
        assert result.values.shape == (1, 1) and result.values.dtype == np.float32
        assert bits(result.values[0]) == bits(expected[i:i + 1])
        assert result.model_version == 1 and result.replica_id in (0, 1)
    loop.stop()
    loop.stop()  # idempotent
    assert not loop.running
    stats = loop.stats()
    assert stats.snapshots_published == len(x)
    assert stats.snapshots_published == stats.dispatched + stats.conflated + stats.discarded_at_stop
    assert stats.dispatched == stats.predictions + stats.errors and stats.errors == 0
    assert loop.latest().feature_seq == len(x)  # still readable after stop
    with pytest.raises(inferloop.Error):
        loop.start()  # a loop starts once


def test_context_manager_starts_and_stops(models):
    with inferloop.InferenceLoop(forest_config(models["binary"])) as loop:
        assert loop.running
        info = loop.model_info()
        assert info.model_version == 1 and info.num_features == models["binary_features"]
        assert info.model.model_file == models["binary"] or str(info.model.model_file) == models["binary"]
    assert not loop.running


def test_a_multi_row_snapshot_gives_one_value_per_row(models):
    x = rows(2, 7, models["binary_features"])
    expected = xgboost_predict(models["binary"], x)
    with inferloop.InferenceLoop(forest_config(models["binary"], max_rows=16)) as loop:
        seq = loop.publish(x, feature_time_ns=123)
        assert loop.wait_for(seq, timeout=TIMEOUT)
        result = loop.latest()
        assert result.rows == 7 and result.values.shape == (7, 1)
        assert result.feature_time_ns == 123
        assert np.array_equal(bits(result.values[:, 0]), bits(expected))


def test_multiclass_values_are_xgboosts_probabilities(models):
    x = rows(3, 5, models["small_features"])
    expected = xgboost_predict(models["multiclass"], x)
    with inferloop.InferenceLoop(forest_config(models["multiclass"], max_rows=5)) as loop:
        seq = loop.publish(x)
        assert loop.wait_for(seq, timeout=TIMEOUT)
        assert np.array_equal(bits(loop.latest().values), bits(expected))


def test_publish_uses_float32_in_place_and_converts_float64_like_xgboost(models):
    x64 = rows(4, 3, models["binary_features"]).astype(np.float64) * 1.0000001  # not float32-exact
    expected = xgboost_predict(models["binary"], x64)  # xgboost rounds float64 to float32 itself
    with inferloop.InferenceLoop(forest_config(models["binary"], max_rows=3)) as loop:
        seq = loop.publish(x64)
        assert loop.wait_for(seq, timeout=TIMEOUT)
        assert np.array_equal(bits(loop.latest().values[:, 0]), bits(expected))
        seq = loop.publish(np.asfortranarray(x64.astype(np.float32)))  # not C-contiguous: copied
        assert loop.wait_for(seq, timeout=TIMEOUT)
        assert np.array_equal(bits(loop.latest().values[:, 0]), bits(expected))


def test_publish_and_latest_from_several_threads(models):
    """Four publishers and two readers at once. Invariants: every publish
    gets a distinct feature_seq and together they are 1..N; each reader sees
    feature_seq never go backwards; every value any reader saw is xgboost's
    prediction for the row published under that feature_seq."""
    publishers, per_publisher = 4, 250
    x = rows(5, publishers * per_publisher, models["binary_features"])
    expected = xgboost_predict(models["binary"], x)
    row_of_seq = {}
    lock = threading.Lock()
    done = threading.Event()
    seen = [[] for _ in range(2)]
    failures = []

    with inferloop.InferenceLoop(forest_config(models["binary"], num_replicas=3)) as loop:
        def publish(first):
            try:
                for row in range(first, first + per_publisher):
                    seq = loop.publish(x[row])
                    with lock:
                        row_of_seq[seq] = row
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)

        def read(observations):
            try:
                while not done.is_set():
                    result = loop.latest()
                    if result is not None:
                        observations.append((result.feature_seq, result.values[0, 0]))
            except BaseException as error:
                failures.append(error)

        readers = [threading.Thread(target=read, args=(seen[i],)) for i in range(2)]
        writers = [threading.Thread(target=publish, args=(i * per_publisher,))
                   for i in range(publishers)]
        for thread in readers + writers:
            thread.start()
        for thread in writers:
            thread.join()
        last = max(row_of_seq)
        assert loop.wait_for(last, timeout=TIMEOUT)
        done.set()
        for thread in readers:
            thread.join()
        final = loop.latest()
    assert not failures, failures
    total = publishers * per_publisher
    assert sorted(row_of_seq) == list(range(1, total + 1))
    assert sorted(row_of_seq.values()) == list(range(total))
    assert final.feature_seq == total
    assert bits(final.values[0]) == bits(expected[row_of_seq[total]:row_of_seq[total] + 1])
    for observations in seen:
        seqs = [seq for seq, _ in observations]
        assert seqs == sorted(seqs)
        for seq, value in observations:
            row = row_of_seq[seq]
            assert bits(np.float32(value)) == bits(expected[row:row + 1])
    stats = loop.stats()
    assert stats.snapshots_published == total
    assert stats.snapshots_published == stats.dispatched + stats.conflated + stats.discarded_at_stop


def test_wait_for_releases_the_gil(models):
    """A thread blocked in wait_for() must let this thread publish the very
    snapshot it waits for; holding the GIL would deadlock here."""
    x = rows(6, 2, models["binary_features"])
    with inferloop.InferenceLoop(forest_config(models["binary"])) as loop:
        answer = {}
        waiter = threading.Thread(target=lambda: answer.setdefault("ok", loop.wait_for(1, None)))
        waiter.start()
        loop.publish(x[0])
        waiter.join(TIMEOUT)
        assert answer == {"ok": True}
        assert not loop.wait_for(5, timeout=0.01)  # never published: times out


def test_ctrl_c_interrupts_wait_for(models):
    with inferloop.InferenceLoop(forest_config(models["binary"])) as loop:
        threading.Timer(0.2, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            loop.wait_for(10**9, timeout=None)


def test_on_result_runs_for_every_new_latest_in_order(models):
    x = rows(7, 50, models["binary_features"])
    expected = xgboost_predict(models["binary"], x)
    delivered = []
    callback_threads = set()

    def on_result(result):
        delivered.append((result.feature_seq, result.value))
        callback_threads.add(threading.get_ident())

    with inferloop.InferenceLoop(forest_config(models["binary"], num_replicas=2),
                                 on_result=on_result) as loop:
        for row in x:
            seq = loop.publish(row)
            assert loop.wait_for(seq, timeout=TIMEOUT)
    assert [seq for seq, _ in delivered] == list(range(1, len(x) + 1))
    for seq, value in delivered:
        assert bits(np.float32(value)) == bits(expected[seq - 1:seq])
    assert threading.get_ident() not in callback_threads  # the loop's replica threads


def test_a_raising_on_result_is_reported_and_the_loop_keeps_serving(models, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    errors = []

    def on_result(result):
        if result.feature_seq == 1:
            raise ValueError("boom on the first result")

    x = rows(8, 3, models["binary_features"])
    with inferloop.InferenceLoop(forest_config(models["binary"]), on_result=on_result,
                                 on_error=errors.append) as loop:
        for row in x:
            assert loop.wait_for(loop.publish(row), timeout=TIMEOUT)
        assert loop.latest().feature_seq == 3
        assert "on_result raised ValueError: boom on the first result" in loop.last_error().message
    assert [error.feature_seq for error in errors] == [1]
    assert "on_result raised ValueError" in errors[0].message
    assert len(unraisable) == 1 and isinstance(unraisable[0].exc_value, ValueError)


def test_a_raising_on_error_goes_to_the_unraisable_hook(models, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def on_result(result):
        raise KeyError("first")

    def on_error(error):
        raise RuntimeError("second")

    with inferloop.InferenceLoop(forest_config(models["binary"]), on_result=on_result,
                                 on_error=on_error) as loop:
        row = rows(9, 1, models["binary_features"])[0]
        assert loop.wait_for(loop.publish(row), timeout=TIMEOUT)
        assert loop.wait_for(loop.publish(row), timeout=TIMEOUT)  # still serving
    kinds = sorted(type(hook.exc_value).__name__ for hook in unraisable)
    assert kinds == ["KeyError", "KeyError", "RuntimeError", "RuntimeError"]


def test_history_keeps_the_newest_results(models):
    x = rows(10, 6, models["binary_features"])
    with inferloop.InferenceLoop(forest_config(models["binary"], history_capacity=4)) as loop:
        for row in x:
            assert loop.wait_for(loop.publish(row), timeout=TIMEOUT)
        history = loop.history()
    assert [result.feature_seq for result in history] == [3, 4, 5, 6]


def test_reload_swaps_in_a_changed_model_file(models, tmp_path):
    live = tmp_path / "live.ubj"
    shutil.copy(models["binary"], live)
    row = rows(11, 2, models["binary_features"])[1]
    with inferloop.InferenceLoop(forest_config(str(live))) as loop:
        assert loop.wait_for(loop.publish(row), timeout=TIMEOUT)
        assert bits(loop.latest().values[0]) == bits(xgboost_predict(models["binary"], row[None]))
        unchanged = loop.reload()
        assert not unchanged.swapped and unchanged.model_version == 1
        shutil.copy(models["binary_other"], live)
        swapped = loop.reload()
        assert swapped.swapped and swapped.model_version == 2
        assert loop.wait_for(loop.publish(row), timeout=TIMEOUT)
        result = loop.latest()
        assert result.model_version == 2
        assert bits(result.values[0]) == bits(xgboost_predict(models["binary_other"], row[None]))
        assert loop.stats().model_swaps == 1


def test_a_loop_whose_callback_refers_to_it_is_collected_and_stopped(models):
    """loop -> on_result -> loop is a reference cycle; the garbage collector
    must break it (the loop reports its callbacks to the collector), which
    stops the loop, instead of keeping it and its threads forever."""
    import gc
    import weakref
    seen = []
    box = {}  # the callback reaches the loop through it (a default, not a closure cell)
    loop = inferloop.InferenceLoop(
        forest_config(models["binary"]),
        on_result=lambda result, box=box: seen.append(box["loop"].latest_feature_seq))
    box["loop"] = loop
    loop.start()
    assert loop.wait_for(loop.publish(rows(12, 1, models["binary_features"])[0]), timeout=TIMEOUT)
    gone = weakref.ref(loop)
    del loop, box
    assert gone() is not None  # the cycle keeps it alive until the collector runs
    gc.collect()
    assert gone() is None
    assert seen == [1]


def test_dropping_the_last_reference_inside_its_own_callback_does_not_hang(models):
    """The last reference to a live loop may go on one of its own replica
    threads, which cannot join itself; the loop is then finished elsewhere."""
    import weakref
    holder = {}
    dropped = threading.Event()

    def on_result(result):
        holder.pop("loop", None)
        dropped.set()

    holder["loop"] = inferloop.InferenceLoop(forest_config(models["binary"]), on_result=on_result)
    gone = weakref.ref(holder["loop"])
    holder["loop"].start()
    holder["loop"].publish(rows(13, 1, models["binary_features"])[0])
    assert dropped.wait(TIMEOUT)
    deadline = threading.Event()
    for _ in range(int(TIMEOUT * 100)):
        if gone() is None:
            break
        deadline.wait(0.01)
    assert gone() is None
