"""Generator-agnostic distributed generation: a generator says how to make sample *i* from a seed
(``make_sample``), what its members are (``SCHEMA``) and which invariants they obey (``INVARIANTS``);
the runner shards the work over Ray (or runs it in-process), writes deterministic WebDataset shards to
a local path or fsspec URL, resumes, and records everything in ``dataset.json``.

Generator-side API: ``Member``, ``stage``, ``record``, ``derive_seed``, ``sample_rng``.
Driver-side API: ``run``, ``load_config``, ``main`` (imported lazily).
See ``datagen/runner/generator.py`` for the contract and ``datagen/toy_shapes.py`` for a template.
"""
from datagen.dataset.sample_io import Member
from datagen.core.seeds import derive_seed, sample_rng
from datagen.core.timing import record, stage

__all__ = ["Member", "stage", "record", "derive_seed", "sample_rng", "run", "load_config", "main"]


def __getattr__(name):
    if name == "run":
        from datagen.runner.driver import run

        return run
    if name == "load_config":
        from datagen.runner.config import load_config

        return load_config
    if name == "main":
        from datagen.runner.cli import main

        return main
    raise AttributeError(name)
