"""Vera's three tasks, each built from two renders (or composites) with the exact decomposition
of ``datagen.labels.layers``.

=====================  =============================  ===========================  ===========================
task                   input video                    edit layer (edit, alpha)     composite
=====================  =============================  ===========================  ===========================
``object_addition``    the plate P (no subject)       subject + its effects over P  alpha*edit + (1-alpha)*P ~ F
``background_change``  subject over background A      background B where the        alpha*edit + (1-alpha)*F_A
                       (F_A)                          subject is not, relighting    ~ F_B (subject over B)
                                                      of the subject where it is
``matting``            F (subject in its scene)       subject + its effects over P  F (identity: nothing is
                                                      (the alpha is the target)     edited; the plate is not
                                                                                    stored)
=====================  =============================  ===========================  ===========================

For the first two, ``composite == alpha * edit + (1 - alpha) * input`` (up to rounding to uint8).
For matting, ``input == composite == alpha * edit + (1 - alpha) * plate``.
The composite is the composite *of the stored layers* (so all members agree exactly before video
encoding); how far it is from the real render is measured and stored (``residual_vs_render``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datagen.core.sections import Section
from datagen.labels.layers import as_float, composite, layers, to_uint8

TASKS = ("object_addition", "background_change", "matting")
RELATION = {
    "object_addition": "composite = alpha * edit_rgb + (1 - alpha) * input_video",
    "background_change": "composite = alpha * edit_rgb + (1 - alpha) * input_video",
    "matting": "input_video = composite = alpha * edit_rgb + (1 - alpha) * plate (plate not stored)",
}


@dataclass
class FoldConfig(Section):
    """``vera.fold``: render noise folded into the plate (values in configs/datagen/vera_layers.yaml)."""
    SECTION = ("vera_layers", "vera.fold")
    enabled: bool
    threshold: float  # grey levels: changes up to this are noise
    min_neighbours: int  # larger changes with fewer changed neighbours (of 8) are noise too
    min_component: int  # connected groups of larger changes smaller than this, away from the subject, are noise

    def kwargs(self) -> dict:
        return {"fold": self.enabled, "threshold": self.threshold, "min_neighbours": self.min_neighbours,
                "min_component": self.min_component}


@dataclass
class LayeredClip:
    """The pixel members of a Vera sample (uint8) and how well they reproduce the renders."""
    task: str
    input: np.ndarray  # (T, H, W, 3)
    edit: np.ndarray  # (T, H, W, 3)
    alpha: np.ndarray  # (T, H, W) 0..255
    mask: np.ndarray  # (T, H, W) 0 / 255: the subject's visible pixels in the composite
    composite: np.ndarray  # (T, H, W, 3)
    stats: dict = field(default_factory=dict)


def binary(mask) -> np.ndarray:
    return np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8)


def object_addition(full, plate, coverage, mask, fold: FoldConfig, raw=None) -> LayeredClip:
    """Input P, layer = what the subject adds (itself where it covers, its effects elsewhere).
    ``raw`` (full, plate): the undenoised renders the layer's support is read from (``layers``)."""
    return _decompose("object_addition", full, plate, coverage, mask, fold, raw=raw)


def background_change(full_a, full_b, subject, mask, fold: FoldConfig, raw=None) -> LayeredClip:
    """Input F_A, composite F_B; ``subject`` is the subject's coverage in *both* (0..1): the layer
    is opaque everywhere else (the new background) and as small as exactness allows on it."""
    lower = 1.0 - np.clip(np.asarray(subject, np.float64), 0.0, 1.0)
    return _decompose("background_change", full_b, full_a, lower, mask, fold,
                      raw=None if raw is None else (raw[1], raw[0]))


def matting(full, plate, coverage, mask, fold: FoldConfig, raw=None) -> LayeredClip:
    """Input = composite = F (noise folded), layer = the subject and its effects over P."""
    return _decompose("matting", full, plate, coverage, mask, fold, input_is_composite=True, raw=raw)


def _decompose(task: str, full, base, lower, mask, fold: FoldConfig, input_is_composite=False,
               raw=None) -> LayeredClip:
    """Layers of ``full`` over ``base`` (lower bound ``lower``), their composite, the residuals; with
    ``raw`` (full, base undenoised) the support comes from the raw pair and the values from the delivered."""
    base = to_uint8(as_float(base))
    if raw is None:
        lay = layers(full, base, lower, **fold.kwargs())
    else:
        lay = layers(raw[0], raw[1], lower, **fold.kwargs(), delivered=(full, base))
    comp = to_uint8(composite(lay.alpha, lay.edit, base))
    return LayeredClip(task, comp if input_is_composite else base, lay.edit, lay.alpha, binary(mask), comp,
                       lay.stats)
