"""Timestamps and features for backtest() from numpy arrays or pandas objects.

Timestamps become int64 nanoseconds: integer arrays are taken as
nanoseconds; datetime64 arrays, pandas DatetimeIndex and datetime Series as
their UTC instant (tz-aware ones converted to UTC first). NaT is refused.
A DataFrame given alone holds both: the timestamps in `timestamp_column`
(default: a column named "timestamp_ns" if there is one, else the index) and
the features in every other column, in the DataFrame's order.

pandas is optional: nothing here imports it, objects are recognised by their
attributes.
"""
import numpy as np


def _is_dataframe(value):
    return hasattr(value, "columns") and hasattr(value, "index") and hasattr(value, "to_numpy")


def timestamps_ns(values, what="timestamps"):
    """int64 nanoseconds from integers, datetime64 or pandas timestamps."""
    # tz-aware pandas objects: to UTC, then naive (numpy has no time zones).
    tz = getattr(values, "tz", None)
    if tz is None and hasattr(values, "dt"):
        tz = getattr(values.dt, "tz", None)
        if tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif tz is not None:
        values = values.tz_convert("UTC").tz_localize(None)
    array = np.asarray(values)
    if array.dtype.kind == "M":
        if np.isnat(array).any():
            raise ValueError(f"{what}: NaT (a missing time) at row {int(np.argmax(np.isnat(array)))}; "
                             "every row needs a time")
        return np.ascontiguousarray(array.astype("datetime64[ns]").view(np.int64))
    if array.dtype.kind in "iu":
        return array
    raise TypeError(f"{what}: expected integer nanoseconds or datetime64 times, "
                    f"found dtype {array.dtype}")


def backtest_inputs(timestamps, features, timestamp_column):
    """(int64 ns timestamps, features) from backtest()'s arguments."""
    if features is None:
        if not _is_dataframe(timestamps):
            raise TypeError("backtest: give timestamps and features, or one DataFrame holding "
                            f"both; found only {type(timestamps).__name__}")
        frame = timestamps
        column = timestamp_column
        if column is None and "timestamp_ns" in frame.columns:
            column = "timestamp_ns"
        if column is None:
            return timestamps_ns(frame.index, "backtest(DataFrame index)"), frame
        if column not in frame.columns:
            raise ValueError(f"backtest: no column {column!r} in the DataFrame; its columns: "
                             f"{list(frame.columns)}")
        return (timestamps_ns(frame[column], f"backtest(column {column!r})"),
                frame.drop(columns=[column]))
    if timestamp_column is not None:
        raise TypeError("backtest: timestamp_column names a column of a DataFrame given "
                        "alone; with separate timestamps and features, leave it out")
    return timestamps_ns(timestamps), features
