"""Per-stage timings that generators report without putting anything non-deterministic in a sample.

A generator wraps its stages::

    from datagen.runner import stage
    with stage("simulate"):
        ...
    with stage("render"):
        ...

The runner collects them per sample (``collect()``) and aggregates them per shard (stats file) and per
run (``dataset.json``); ``record(name, seconds)`` adds a duration measured elsewhere. Outside a
collection both do nothing.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

_active: dict[str, float] | None = None


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the wall time spent inside the block to stage ``name`` of the sample being made."""
    start = time.perf_counter()
    try:
        yield
    finally:
        record(name, time.perf_counter() - start)


def record(name: str, seconds: float) -> None:
    """Add a duration measured elsewhere (e.g. inside a library) to stage ``name`` of the sample being
    made. Timings belong here, never in a sample's members: they would make shards non-reproducible."""
    if _active is not None:
        _active[name] = _active.get(name, 0.0) + float(seconds)


@contextmanager
def collect() -> Iterator[dict[str, float]]:
    """Collect the stages timed inside the block into the yielded dict (not re-entrant)."""
    global _active
    previous, _active = _active, {}
    try:
        yield _active
    finally:
        _active = previous


class TimingTotals:
    """Aggregates stage durations: per stage total seconds, count and maximum."""

    def __init__(self, data: dict | None = None):
        self.data: dict[str, dict[str, float]] = {k: dict(v) for k, v in (data or {}).items()}

    def add(self, name: str, seconds: float, count: int = 1, max_s: float | None = None) -> None:
        entry = self.data.setdefault(name, {"total_s": 0.0, "count": 0, "max_s": 0.0})
        entry["total_s"] += seconds
        entry["count"] += count
        entry["max_s"] = max(entry["max_s"], seconds if max_s is None else max_s)

    def add_sample(self, stages: dict[str, float]) -> None:
        for name, seconds in stages.items():
            self.add(name, seconds)

    def merge(self, other: dict) -> None:
        for name, entry in other.items():
            self.add(name, entry["total_s"], entry["count"], entry["max_s"])

    def to_json(self) -> dict:
        return {
            name: {"total_s": round(e["total_s"], 4), "count": e["count"],
                   "mean_s": round(e["total_s"] / max(e["count"], 1), 4), "max_s": round(e["max_s"], 4)}
            for name, e in sorted(self.data.items())
        }
