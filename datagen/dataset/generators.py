"""The registered generators: the only modules a dataset's ``dataset.json`` may make a tool import.

Every dataset names its generator's module (``dataset.json`` ``generator``); the runner, ``validate`` and
``preview`` import that module for its schema, invariants and preview columns. A downloaded dataset is
untrusted, so only the names below are imported; any other name is refused in one line, before any import.
A new generator adds its module name here (``docs/architecture.md``, "Generators").
"""
from __future__ import annotations

import importlib
from types import ModuleType

VOID = "datagen.void_counterfactuals"  # VOID counterfactual pairs (and the affect predictor's data)
VERA = "datagen.vera_layers"  # Vera layered clips
TOY = "datagen.toy_shapes"  # the runner's template and test generator
GENERATORS = (VOID, VERA, TOY)


def config_name(generator: str) -> str:
    """The generator's config in ``configs/datagen/`` (its module's name: ``void_counterfactuals``)."""
    if generator not in GENERATORS:
        raise ValueError(f"generator {generator!r} is not a registered generator ({', '.join(GENERATORS)})")
    return generator.rsplit(".", 1)[-1]


def generator_module(name: str) -> ModuleType:
    """The registered generator module ``name`` (ValueError, one line, for any other name: not imported)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a generator must be named by its module, one of {', '.join(GENERATORS)}")
    if name not in GENERATORS:
        raise ValueError(f"generator {name!r} is not a registered generator ({', '.join(GENERATORS)}): "
                         f"refusing to import it")
    return importlib.import_module(name)
