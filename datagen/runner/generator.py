"""The generator contract. A generator is a module, importable by a dotted name, that defines::

    SCHEMA: dict[str, Member]                        # every member a sample has (datagen.dataset.sample_io)
    def make_sample(config, index: int, seed: int) -> dict[str, Any]    # one sample, from its seed only
    INVARIANTS: tuple[Callable[[dict, config], list[str]], ...]         # optional; error strings, [] if fine
    def check_config(config) -> None                 # optional; raise ValueError (one line) before any work
    def credits(encoded) -> list[dict]               # optional; the third-party assets a sample uses

``config`` is the run's resolved Hydra config (read-only ``DictConfig``; ``config.render.threads`` is the
number of CPUs the runner reserved for the task, so a renderer uses exactly that many threads).
``seed`` is ``derive_seed(config.seed, index)``; derive further streams from it with
``datagen.core.seeds.sample_rng(seed, purpose)``. ``make_sample`` may time its stages with
``datagen.runner.stage``. ``credits`` gets a sample's encoded members (``{"name.ext": bytes}``) and
returns ``[{"id", "licence", "creator", ...}]``: the runner gathers them into ``dataset.json``
(``assets``, ``licences``) and an ``ATTRIBUTION.md`` beside the shards. The runner knows nothing else
about a generator. Only registered generators are loaded (``datagen.dataset.generators.GENERATORS``):
a dataset names its generator, and a downloaded dataset must not choose what gets imported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from datagen.dataset.generators import generator_module
from datagen.dataset.sample_io import Member, check_schema

Invariant = Callable[[dict, Any], list]


@dataclass(frozen=True)
class Generator:
    name: str
    schema: Mapping[str, Member]
    make_sample: Callable[[Any, int, int], dict]
    invariants: tuple[Invariant, ...]
    check_config: Callable[[Any], None] | None = None
    credits: Callable[[Mapping[str, bytes]], list] | None = None


def load_generator(name: str) -> Generator:
    """Import the registered generator module ``name`` and check it follows the contract (ValueError, one
    line, if not; an unregistered name is refused without being imported)."""
    try:
        module = generator_module(name)
    except ImportError as e:
        raise ValueError(f"cannot import generator module {name!r}: {e}") from None
    schema = getattr(module, "SCHEMA", None)
    make_sample = getattr(module, "make_sample", None)
    if not isinstance(schema, Mapping) or not schema:
        raise ValueError(f"generator {name} must define SCHEMA, a non-empty dict of name -> Member")
    if not callable(make_sample):
        raise ValueError(f"generator {name} must define make_sample(config, index, seed)")
    check_schema(schema)
    invariants = tuple(getattr(module, "INVARIANTS", ()))
    if not all(callable(f) for f in invariants):
        raise ValueError(f"generator {name}: INVARIANTS must be callables (sample, config) -> list[str]")
    check = getattr(module, "check_config", None)
    if check is not None and not callable(check):
        raise ValueError(f"generator {name}: check_config must be a callable (config) -> None")
    credits = getattr(module, "credits", None)
    if credits is not None and not callable(credits):
        raise ValueError(f"generator {name}: credits must be a callable (encoded sample) -> list[dict]")
    return Generator(name, dict(schema), make_sample, invariants, check, credits)
