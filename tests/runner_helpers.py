"""Helpers shared by the runner tests: toy configs and reading shards back."""
from __future__ import annotations

import tarfile
from pathlib import Path

from datagen.runner import load_config


def toy_config(out, *overrides: str, mode: str = "local"):
    """A small toy_shapes run writing to ``out`` (no progress bar)."""
    return load_config("toy_shapes", [f"out={out}", "num_samples=10", "samples_per_shard=3",
                                      f"runner.mode={mode}", "runner.progress=false", *overrides])


def tar_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(out).glob("shard-*.tar"))}


def sample_keys(out: Path) -> list[str]:
    """Keys of every sample in every shard (with repetitions, if any)."""
    keys = []
    for path in sorted(Path(out).glob("shard-*.tar")):
        with tarfile.open(path) as tar:
            keys += sorted({name.split(".")[0] for name in tar.getnames()})
    return keys
