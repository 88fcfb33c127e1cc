"""Tiny datasets from the real generators for the trainer tests (64x48, 5 frames, 1 spp, one sample
per shard so two ranks each read their own shard)."""
from __future__ import annotations

from pathlib import Path

from datagen.runner import load_config, run

TINY = ["render.width=64", "render.height=48", "render.frames=5", "render.spp=1", "runner.mode=local",
        "runner.progress=false", "samples_per_shard=1"]


# per generator: what these tests never read (the effect-category passes cost about half a render per pair;
# people cost a body model per process, and the trainers read a person's layers as any other)
ONLY = {"void_counterfactuals": ["void.mask.categories=false"], "vera_layers": ["vera.subjects.person=0"]}


_MADE: dict[tuple[str, int], Path] = {}  # one render per (generator, samples) per session; tests only read them


def make_dataset(generator: str, out: Path, num_samples: int = 2) -> Path:
    """The tiny dataset, rendered into ``out`` the first time the session asks for it; later calls return
    that first path (the datasets are read-only for the tests that share them)."""
    made = _MADE.get((generator, num_samples))
    if made is not None and (made / "dataset.json").is_file():
        return made
    result = run(load_config(generator, [f"out={out}", f"num_samples={num_samples}", *TINY,
                                   *ONLY.get(generator, [])]))
    assert not result.failures, result.failures
    _MADE[(generator, num_samples)] = out
    return out
