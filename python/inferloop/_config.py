"""A mapping of YAML config keys -> the text inferloop's config parser reads.

InferenceConfig(**keys), InferenceConfig.from_dict() and every function that
takes `config` as a dict call config_text() (from C++: python/config.cpp) and
parse the result exactly like a YAML file, so a dict gets the same checks and
messages as a file. The text is JSON (a subset of YAML) with one key per
line, so the line numbers in messages ("<dict>:4:19: num_replicas: ...")
point at the key.

Values: str, int, float, bool, lists of those, nested mappings (an
application dict holding the config under "inference_config"),
datetime.timedelta for durations (exact, in nanoseconds), os.PathLike for
paths, numpy scalars. A key whose value is None is left out (the default).
"""
import datetime
import json
import os
from collections.abc import Mapping


def config_text(mapping: Mapping) -> str:
    """JSON text of `mapping`, one key per line; TypeError for a value that
    has no YAML form."""
    return json.dumps(_plain(mapping, "config"), indent=2) + "\n"


def _duration_text(delta: datetime.timedelta) -> str:
    microseconds = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{microseconds * 1000}ns"


def _plain(value, where):
    if isinstance(value, Mapping):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be str, found {key!r}")
            if item is not None:
                plain[key] = _plain(item, key)
        return plain
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, datetime.timedelta):
        return _duration_text(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item, where) for item in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return _plain(value.item(), where)
    raise TypeError(f"{where}: cannot use a {type(value).__name__} value in a config "
                    f"(use str, int, float, bool, a list, or datetime.timedelta for durations)")
