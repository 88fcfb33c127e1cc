"""Vera layered dataset: exact edit layers from rendering both worlds (with and without the subject).

Families (``vera.families`` weights):
  ``synthetic``      a matted foreground (our objects spinning in front of a transparent film, or a
                     user's VideoMatte240K-style folder) over a background video (a rendered set or a
                     user's folder), with random placement, scale and motion     — ``synthetic.py``
  ``single_object``  one object moving in a lit set with camera motion; its shadow is in the layer
  ``multi_object``   one or two subjects among several props on a glossy or mirror floor, metal,
                     an occluder in front: shadows, reflections and occlusion    — ``rendered.py``
Tasks (``vera.tasks`` weights): ``object_addition``, ``background_change``, ``matting`` (``tasks.py``).
Subjects (``vera.subjects`` weights): ``object`` (our objects) or ``person`` (an adult anny body under a
named motion, ``datagen.scene.people``), in every family.
Labels: ``datagen.labels.layers`` (the exact decomposition); words: ``instructions.py``.

What is rendered, and why it is the least that works (units: one full render of the clip):
  rendered families, addition / matting    F and P in one Blender scene, same seed        2.0
  rendered families, background change     F_A and F_B (two sets; nothing else needed)   2.0
  synthetic, rendered foreground           the object alone on a transparent film, only as large
                                           as it will appear (s^2 of a frame, s = vera.synthetic.layer_size)
  synthetic, rendered background           one plate per background (1.0; 2.0 for background change)
  synthetic with user footage              0
F and P cannot share samples (every pixel the subject touches changes), and both are needed in full:
P is the input of object addition, F the composite. Background change needs no plate at all: the
layer is decomposed from F_B over F_A directly. Segmentation comes from Cycles' 1-sample label
layer, which rides along with a beauty pass. The multi-object family adds a label-only pass (props
hidden) to measure occlusion. ``benchmarks/vera_clip.py`` measures the real cost.
"""
from __future__ import annotations

import numpy as np

from datagen.core.seeds import weighted_choice

FAMILIES = ("synthetic", "single_object", "multi_object")
SUBJECTS = ("object", "person")  # what the edit layer holds (``vera.subjects`` weights), in every family
GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def pick(rng, weights: dict, allowed) -> str:
    """A weighted random choice among ``allowed`` names (weights <= 0 are off)."""
    return weighted_choice(rng, weights, _names(weights, allowed))


def stratified(index: int, weights: dict, allowed, step: float = GOLDEN) -> str:
    """A weighted choice that spreads evenly over sample indices: ``u = frac(0.5 + index * step)``
    (golden-ratio steps, a low-discrepancy sequence) through the cumulative weights, so every
    name's share of the first n indices is close to its weight's share."""
    names = _names(weights, allowed)
    w = np.cumsum([float(weights[n]) for n in names])
    u = (0.5 + index * step) % 1.0
    return names[int(np.searchsorted(w / w[-1], u, side="right"))]


def _names(weights: dict, allowed) -> list[str]:
    unknown = set(weights) - set(allowed)
    names = [n for n in allowed if float(weights.get(n, 0) or 0) > 0]
    if unknown or not names:
        raise ValueError(f"weights must give some of {list(allowed)} a positive weight; got {dict(weights)}")
    return names
