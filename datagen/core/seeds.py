"""Seeds are derived, never shared: every random choice of sample ``i`` comes from
``derive_seed(run_seed, i, purpose)``, so a sample's content depends only on the run seed and its
index — not on worker count, shard order or retries.

The hash is BLAKE2b (stable across Python versions, processes and machines; Python's ``hash()`` is not).
"""
from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(run_seed: int, index: int, purpose: str = "sample", bits: int = 63) -> int:
    """A non-negative integer seed of ``bits`` bits (<= 64) for (run seed, sample index, purpose).

    Use distinct ``purpose`` strings for independent streams inside one sample (e.g. "layout",
    "physics", "render"); use ``bits=32`` for libraries that need a 32-bit seed.
    """
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be in 1..64, got {bits}")
    digest = hashlib.blake2b(f"{int(run_seed)}:{int(index)}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> (64 - bits)


def sample_rng(seed: int, purpose: str) -> np.random.Generator:
    """An independent numpy Generator for one purpose inside a sample whose seed is ``seed``."""
    return np.random.default_rng(derive_seed(seed, 0, purpose))


def weighted_choice(rng: np.random.Generator, weights, names=None) -> str:
    """One name drawn with probability proportional to its weight (``weights``: name -> weight, <= 0 is off).
    The names are drawn in sorted order, or in the order ``names`` gives (which must hold only positive
    weights), so a draw depends only on the weights and the generator's state."""
    if names is None:
        names = sorted(k for k, w in weights.items() if w > 0)
    if not names:
        raise ValueError(f"no positive weight among {dict(weights)}")
    w = np.array([float(weights[k]) for k in names], float)
    return str(rng.choice(names, p=w / w.sum()))
