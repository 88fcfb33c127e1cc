"""Which kind of light path carries each pixel of a removed object's effects: shadow, reflection (glossy
surfaces and mirrors), transmission (seen through glass) or illumination (light it emits or bounces onto
diffuse surfaces).

The effects footprint (A against C, ``quadmask.effect_footprint``) says *where* the removed objects change
the picture away from their own silhouette. To say *how*, the pass C is rendered again with the removed
objects seen by one kind of secondary ray alone (Cycles' per-object ray visibility: the ``ray_*``
visibilities of ``SceneRenderer``): with a fixed seed such a pass differs from C only along light paths
that reach the objects through that kind of ray. Each footprint pixel carries the kinds whose pass makes a
large enough share of the passes' summed change (``effect_categories``), so every footprint pixel has at least
one flag and the effects part of 127 is exactly their union. The passes are rendered only inside one box per
frame around the footprint (Cycles' border render is bit-identical to a full one), at the run's spp or less
(``budget``), and the transmission pass only when a kept object is glass (otherwise no transmission ray
reaches the removed objects and the flag is empty by construction).
"""
from __future__ import annotations

import numpy as np

from datagen.labels import quadmask as qm

# bit per category, and the ray kind whose pass measures it
CATEGORY_BITS = {"shadow": 1, "reflection": 2, "transmission": 4, "illumination": 8}
CATEGORY_RAYS = {"shadow": "shadow", "reflection": "glossy", "transmission": "transmission", "illumination": "diffuse"}
TRANSMISSIVE_PRESETS = ("glass",)
SHARE = 0.25  # a kind carries a pixel's effect when it makes at least this share of the passes' summed change
BUDGET = 0.5  # renders of the clip the category passes may spend per pair (``void.mask.category_budget``)


def footprint_boxes(footprint: np.ndarray, pad: int = 4) -> np.ndarray:
    """(T, 4) per frame the box around the footprint grown by ``pad`` pixels (the averaging window's
    context), (0, 0, 0, 0) where it is empty."""
    t, h, w = footprint.shape
    out = np.zeros((t, 4), int)
    for f in range(t):
        rows, cols = np.nonzero(footprint[f])
        if len(rows):
            out[f] = (max(rows.min() - pad, 0), min(rows.max() + 1 + pad, h),
                      max(cols.min() - pad, 0), min(cols.max() + 1 + pad, w))
    return out


def transmits(spec, removed) -> bool:
    """Whether any kept object can carry transmission rays (a glass vessel the removed ones are seen through)."""
    return any(o.material.preset in TRANSMISSIVE_PRESETS for o in spec.objects if o.name not in removed)


def effect_categories(renderer, removed, footprint: np.ndarray, c_raw: np.ndarray, budget: float = BUDGET,
                      spp: int | None = None, share: float = SHARE, window: int = 3) -> tuple[np.ndarray, int, int]:
    """(flags (T, H, W) uint8 of ``CATEGORY_BITS`` on every footprint pixel, beauty pixels rendered in
    units of the run's spp, the passes' spp).

    ``renderer`` holds the factual states; ``c_raw`` is C's raw display frames (removed objects hidden).
    A pixel carries the kinds whose pass changes it by at least ``share`` of the passes' summed change
    (each change averaged over ``window`` x ``window`` pixels: a shadow is coherent, the scatter of a few
    samples is not), and always the largest, so the union of the flags is the footprint. Where no pass
    changes a pixel at all it takes the kind that changes its frame's footprint most.
    The passes render at the run's spp, halved until they cost at most ``budget`` renders of the clip (or
    at ``spp``); below the run's, C is rendered again at that spp inside the same boxes as their reference
    (passes agree only at equal spp and seed). Fewer samples attribute more coarsely: docs/void.md."""
    from datagen.scene.region import averaged_change

    t, h, w = footprint.shape
    run_spp = renderer.spec.render.spp
    flags = np.zeros((t, h, w), np.uint8)
    boxes = footprint_boxes(footprint)
    frames = [f for f in range(t) if footprint[f].any()]
    if not frames:
        return flags, 0, run_spp
    kinds = [k for k in CATEGORY_BITS if k != "transmission" or transmits(renderer.spec, removed)]
    area = int(sum((boxes[f, 1] - boxes[f, 0]) * (boxes[f, 3] - boxes[f, 2]) for f in frames))

    def cost(n: int) -> float:  # beauty pixels of the passes at n spp, in run-spp pixels
        return area * (len(kinds) + (n != run_spp)) * n / run_spp

    if spp is None:
        spp = run_spp
        while spp > 1 and cost(spp) > budget * t * h * w:
            spp //= 2
    spp = max(1, min(int(spp), run_spp))

    def render(visibility) -> np.ndarray:  # (len(frames), H, W, 3): the pass inside the boxes, the reference outside
        part = renderer.render(visibility, layers=("rgb_raw",), frames=frames, border=boxes[frames], spp=spp)["rgb_raw"]
        out = c_raw[frames].copy()
        for i, f in enumerate(frames):
            r0, r1, c0, c1 = boxes[f]
            out[i, r0:r1, c0:c1] = part[i, r0:r1, c0:c1]
        return out

    reference = c_raw[frames] if spp == run_spp else render({n: "hidden" for n in removed})
    change = np.stack([np.stack([np.abs(averaged_change(x, ref, window)) for x, ref in
                                 zip(render({n: f"ray_{CATEGORY_RAYS[k]}" for n in removed}), reference)])
                       for k in kinds])  # (K, F, H, W)
    total = change.sum(axis=0)
    strongest = change.argmax(axis=0)
    bits = np.array([CATEGORY_BITS[k] for k in kinds], np.uint8)
    for i, f in enumerate(frames):
        inside = footprint[f]
        carried = (change[:, i] >= share * total[i]) & (total[i] > 0)
        frame = np.bitwise_or.reduce(np.where(carried, bits[:, None, None], 0).astype(np.uint8), axis=0)
        frame |= np.where(total[i] > 0, bits[strongest[i]], 0).astype(np.uint8)
        frame[total[i] == 0] = bits[int(np.argmax(change[:, i][:, inside].sum(axis=1)))]
        flags[f][inside] = frame[inside]
    return flags, round(cost(spp)), spp


def category_masks(flags: np.ndarray, quadmask: np.ndarray, dilation: int) -> np.ndarray:
    """The stored member: each flag grown like the quadmask's affected region and kept inside 127."""
    out = np.zeros_like(flags)
    affected = quadmask == qm.AFFECTED
    for bit in CATEGORY_BITS.values():
        out[qm.dilate((flags & bit) > 0, dilation) & affected] |= bit
    return out


def category_counts(flags: np.ndarray) -> dict[str, int]:
    """Pixels per category (a pixel may carry several)."""
    return {name: int(((flags & bit) > 0).sum()) for name, bit in CATEGORY_BITS.items()}


# preview colours: shadow blue, reflection green, transmission magenta, illumination orange (mixed by max)
CATEGORY_COLOURS = {"shadow": (60, 110, 255), "reflection": (40, 220, 90), "transmission": (230, 60, 230),
                    "illumination": (255, 170, 30)}


def colorize_categories(flags: np.ndarray) -> np.ndarray:
    """(..., H, W) flags to RGB for previews; unflagged pixels dark."""
    out = np.zeros((*flags.shape, 3), np.uint8)
    for name, bit in CATEGORY_BITS.items():
        hit = (flags & bit) > 0
        out[hit] = np.maximum(out[hit], CATEGORY_COLOURS[name])
    out[flags == 0] = 30
    return out
