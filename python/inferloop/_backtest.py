"""inferloop.backtest(): a whole backtest in one call, and its result columns.

The compiled part (python/backtest.cpp) runs inferloop::replay(), the engine
of `inferloop backtest`: every row is published at its timestamp into an
InferenceLoop in backtest mode, predictions become visible after the
modelled latency on the config's num_replicas simulated replicas, and busy
replicas conflate snapshots exactly as a live loop would. The same inputs,
config, latency and seed give bit-identical columns whatever `threads` is
(docs/backtesting.md, "The determinism guarantee").
"""
import os

import numpy as np

from . import _inferloop
from ._frames import backtest_inputs


class BacktestResult:
    """Every result that became visible, one entry per predicted row, in
    visibility order (visible_at_ns never decreases):

    feature_seq      the snapshot's number (snapshot k of the input is k + 1)
    row              the input row the values predict
    feature_time_ns  the row's timestamp
    published_at_ns  when it was published (= feature_time_ns in a replay)
    started_at_ns    when a simulated replica started predicting it
    visible_at_ns    when its result became visible (started + latency)
    model_version    1 (a backtest serves one model)
    replica_id       the simulated replica that predicted it
    values           float32, (n,) for one output per row, else (n, outputs)

    Per input snapshot (consecutive rows with the same timestamp, at most
    config.max_rows; one row per snapshot unless max_rows > 1):

    snapshot_first_row  its first input row
    snapshot_visible    whether its result became visible; one that did not
                        was conflated (a newer snapshot replaced it while
                        every replica was busy) or stale (a newer result was
                        visible before it). `conflated` and `stale` count
                        each; with one simulated replica, or a constant
                        latency, nothing is stale, so the hidden snapshots
                        are exactly the conflated ones.

    Also: stats (LoopStats), model (ModelInfo), rows, snapshots,
    first_event_ns, idle_at_ns (when every simulated replica was idle again:
    at or after the last visible result), latency
    (the spec as parsed), wall_seconds, rows_per_second.
    """

    _COLUMNS = ("feature_seq", "row", "feature_time_ns", "published_at_ns", "started_at_ns",
                "visible_at_ns", "model_version", "replica_id", "values")

    def __init__(self, columns):
        for name in self._COLUMNS:
            setattr(self, name, columns[name])
        self.snapshot_first_row = columns["snapshot_first_row"]
        self.snapshot_visible = columns["snapshot_visible"].view(np.bool_)
        self.stats = columns["stats"]
        self.model = columns["model"]
        self.rows = columns["rows"]
        self.snapshots = columns["snapshots"]
        self.first_event_ns = columns["first_event_ns"]
        self.idle_at_ns = columns["idle_at_ns"]
        self.latency = columns["latency"]
        self.wall_seconds = columns["wall_seconds"]

    @property
    def conflated(self) -> int:
        """Snapshots replaced by a newer one before a replica took them."""
        return self.stats.conflated

    @property
    def stale(self) -> int:
        """Snapshots predicted but never shown: a newer result was visible first."""
        return self.stats.stale_results

    @property
    def rows_per_second(self) -> float:
        """Input rows replayed per second of wall time."""
        return self.rows / self.wall_seconds if self.wall_seconds > 0 else float("inf")

    def __len__(self):
        return len(self.feature_seq)

    def asof(self, times_ns) -> np.ndarray:
        """For each time, the index (into these columns) of the newest entry
        visible at that time (visible_at_ns <= time), or -1 when none is:
        what InferenceLoop.latest() would have returned then. For multi-row
        snapshots, the index of the snapshot's last row."""
        times = np.asarray(times_ns, dtype=np.int64)
        return np.searchsorted(self.visible_at_ns, times, side="right").astype(np.int64) - 1

    def to_pandas(self):
        """The result columns as a pandas DataFrame (values as `value`, or
        value_0 .. value_k for several outputs per row)."""
        import pandas as pd
        frame = pd.DataFrame({name: getattr(self, name) for name in self._COLUMNS[:-1]})
        if self.values.ndim == 1:
            frame["value"] = self.values
        else:
            for k in range(self.values.shape[1]):
                frame[f"value_{k}"] = self.values[:, k]
        return frame

    def __repr__(self):
        return (f"BacktestResult({len(self)} results for {self.rows} rows in {self.snapshots} "
                f"snapshots, latency {self.latency}, conflated {self.conflated}, stale "
                f"{self.stale}, {self.rows_per_second:,.0f} rows/s)")


def backtest(config, timestamps, features=None, *, latency, threads=None, seed=1,
             max_batch_snapshots=64, replay_batch_rows=0,
             timestamp_column=None) -> BacktestResult:
    """Replays rows through the loop in simulated time; returns a BacktestResult.

    config      an InferenceConfig, a YAML path or a dict of YAML keys; its
                num_replicas is the simulated deployment's replica count.
    timestamps  one per row, never decreasing: int64 nanoseconds, datetime64,
                or pandas times. Or a DataFrame holding both timestamps (the
                column `timestamp_column`, else "timestamp_ns", else the
                index) and features (every other column), with features None.
    features    rows x features: float32 used in place, other real dtypes
                converted (docs/python.md, "Arrays"); a DataFrame works.
    latency     the inference latency: "zero", "constant:50us",
                "lognormal:40us,15us", "replay:FILE", or an array of
                nanoseconds (dispatch k takes latency[k % len]).
    threads     threads computing predictions (speed only, never results);
                None = 1 (see docs/python.md for when more pay off).
    seed        seeds the lognormal latency draws.
    replay_batch_rows
                rows per predict() call (speed only, never results); 0 =
                8192, or 1048576 when the config's device is cuda.

    Raises inferloop.Error for a bad config, model or latency, timestamps
    that go backwards, or predictions that failed; ValueError / TypeError
    for arrays of the wrong shape or dtype.
    """
    times, rows = backtest_inputs(timestamps, features, timestamp_column)
    if latency is None:
        raise TypeError("backtest: latency is required, e.g. latency=\"zero\" or "
                        "latency=\"lognormal:40us,15us\"")
    columns = _inferloop._backtest(config, times, rows, latency, seed,
                                   1 if threads is None else threads, max_batch_snapshots,
                                   replay_batch_rows)
    return BacktestResult(columns)


def default_threads() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
