"""Tiny datasets from the real generators for the trainer tests (64x48, 5 frames, 1 spp, one sample
per shard so two ranks each read their own shard)."""
from __future__ import annotations

from pathlib import Path

from datagen.runner import load_config, run

TINY = ["render.width=64", "render.height=48", "render.frames=5", "render.spp=1", "runner.mode=local",
        "runner.progress=false", "samples_per_shard=1"]


def make_dataset(generator: str, out: Path, num_samples: int = 2) -> Path:
    result = run(load_config(generator, [f"out={out}", f"num_samples={num_samples}", *TINY]))
    assert not result.failures, result.failures
    return out
