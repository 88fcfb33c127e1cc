"""Exact layer decomposition of one render over another: the labels of Vera's layered edits.

Given two frames of the same camera, lights and sampling seed — the *full* render F (with the
subject) and the *plate* P (without it) — find per pixel the smallest alpha in [0, 1] and an edit
colour E in [0, 1]^3 with

    alpha * E + (1 - alpha) * P == F                                            (all channels)

Per channel, E_c = P_c + (F_c - P_c) / alpha stays in [0, 1] exactly when

    alpha >= (F_c - P_c) / (1 - P_c)   where F_c > P_c   (brightening: reflections, highlights)
    alpha >= (P_c - F_c) / P_c         where F_c < P_c   (darkening: shadows, occlusion)

so the smallest alpha is the largest of these bounds over the channels (0 where F == P). It never
exceeds 1 (E = F at alpha = 1). A pure shadow F = k * P comes out as black with alpha = 1 - k, a
pure brightening as a light colour with a partial alpha, and everything that does not change stays
alpha = 0 — shadows, reflections, colour bleeding and occlusion land in the alpha by themselves.

The smallest alpha of an opaque object over a similar background is ambiguous (grey over grey
could be a faint white film), so callers pass what they know as a lower bound: the subject's
coverage (1 on its visible pixels). The result is then the smallest alpha >= the bound, still
exact. Where alpha is 0 the edit colour is undefined; it is filled with the plate (smooth, cheap
to encode, and irrelevant to the composite).

Render noise: with a fixed seed, pixels the subject does not influence are bit-identical in F
and P, but paths that bounce off the subject change pixels all over the frame by a little.
``fold_noise`` replaces F by P where the change is at most ``threshold`` grey levels, or where a
changed pixel has fewer than ``min_neighbours`` changed neighbours (isolated fireflies); pixels
of the subject itself are never folded. Empty regions then stay exactly alpha = 0, and the
composite differs from F only by what was folded, which ``residual`` measures.

Everything works on arrays of any leading shape (a frame or a whole clip), float64 internally,
inputs uint8 (0..255) or float (0..1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.labels.pixels import neighbour_count

LEVELS = 255.0


def as_float(image) -> np.ndarray:
    """uint8 0..255 or float 0..1 colours as float64 in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float64) / LEVELS
    return image.astype(np.float64)


def min_alpha(full, plate) -> np.ndarray:
    """The smallest alpha (shape ``full.shape[:-1]``) for which an edit colour in [0, 1] exists."""
    f, p = as_float(full), as_float(plate)
    d = f - p
    up = np.divide(d, 1.0 - p, out=np.zeros_like(d), where=(d > 0) & (p < 1.0))
    down = np.divide(-d, p, out=np.zeros_like(d), where=(d < 0) & (p > 0.0))
    return np.clip(np.maximum(up, down).max(axis=-1), 0.0, 1.0)


def edit_colour(full, plate, alpha, fill=None) -> np.ndarray:
    """E = P + (F - P) / alpha, clipped to [0, 1] (only float rounding is clipped when alpha is at
    least ``min_alpha``); ``fill`` (default: the plate) where alpha is 0."""
    f, p, a = as_float(full), as_float(plate), np.asarray(alpha, np.float64)[..., None]
    e = p + np.divide(f - p, a, out=np.zeros_like(f), where=a > 0)
    fill = p if fill is None else np.broadcast_to(as_float(fill), p.shape)
    return np.where(a > 0, np.clip(e, 0.0, 1.0), fill)


def composite(alpha, edit, base) -> np.ndarray:
    """alpha * edit + (1 - alpha) * base, float64 in [0, 1]."""
    a = as_float(alpha)[..., None]
    return a * as_float(edit) + (1.0 - a) * as_float(base)


def decompose(full, plate, lower=None, fill=None) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, edit): the smallest alpha >= ``lower`` (default 0) and its edit colour, exact in float."""
    alpha = min_alpha(full, plate)
    if lower is not None:
        alpha = np.maximum(alpha, np.clip(np.asarray(lower, np.float64), 0.0, 1.0))
    return alpha, edit_colour(full, plate, alpha, fill)


def change_levels(full, plate) -> np.ndarray:
    """max over channels of |F - P| in grey levels (float, shape ``full.shape[:-1]``)."""
    return np.abs(as_float(full) - as_float(plate)).max(axis=-1) * LEVELS


def noise_mask(full, plate, protect=None, threshold: float = 2.0, min_neighbours: int = 2,
               min_component: int = 0) -> np.ndarray:
    """Pixels whose change is render noise: at most ``threshold`` grey levels, or isolated (fewer
    than ``min_neighbours`` of 8 neighbours changed by more than ``threshold``), or in a connected
    group (8-neighbour) of larger changes smaller than ``min_component`` pixels that touches no
    ``protect`` pixel (grains: a real shadow or reflection is larger); never ``protect``."""
    levels = change_levels(full, plate)
    changed = levels > threshold + 1e-9
    noise = (levels > 0) & ~changed  # pixels that did not change at all are not "folded"
    if min_neighbours > 0:
        noise |= changed & (neighbour_count(changed) < min_neighbours)
    guard = np.zeros(changed.shape, bool) if protect is None else np.asarray(protect, bool)
    if min_component > 1:
        noise |= _small_components(changed & ~noise, guard, min_component)
    return noise & ~guard


def _components(mask: np.ndarray, guard=None):
    """Per frame of (..., H, W) ``mask``: (frame index, 8-connected labels, component sizes, whether each
    component touches ``guard``); index 0 of sizes and touching is the background."""
    from scipy import ndimage

    frames = mask.reshape((-1,) + mask.shape[-2:])
    guards = np.zeros(frames.shape, bool) if guard is None else np.broadcast_to(guard, mask.shape).reshape(frames.shape)
    for i, (m, g) in enumerate(zip(frames, guards)):
        labelled, n = ndimage.label(m, structure=np.ones((3, 3), bool))
        if n == 0:
            continue
        touching = np.zeros(n + 1, bool)
        touching[np.unique(labelled[g])] = True
        touching[0] = True
        yield i, labelled, np.bincount(labelled.ravel(), minlength=n + 1), touching


def _small_components(mask: np.ndarray, guard: np.ndarray, min_size: int) -> np.ndarray:
    """Pixels of ``mask``'s 8-connected components (per frame) smaller than ``min_size`` touching no ``guard``."""
    out = np.zeros((int(np.prod(mask.shape[:-2], dtype=int)),) + mask.shape[-2:], bool)
    for i, labelled, sizes, touching in _components(mask, guard):
        out[i] = ((sizes < min_size) & ~touching)[labelled]
    return out.reshape(mask.shape)


def fold_noise(full, plate, protect=None, threshold: float = 2.0, min_neighbours: int = 2, min_component: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """(F with noise pixels replaced by P, the boolean mask of replaced pixels); keeps F's dtype."""
    noise = noise_mask(full, plate, protect, threshold, min_neighbours, min_component)
    return np.where(noise[..., None], plate, full), noise


def quantize_alpha(alpha) -> np.ndarray:
    """uint8 alpha rounded *up* to the next level, so the edit colour of the stored alpha stays
    in [0, 1]; 0 stays exactly 0 and 1 exactly 255."""
    return np.ceil(np.asarray(alpha, np.float64) * LEVELS - 1e-6).clip(0, LEVELS).astype(np.uint8)


def to_uint8(image) -> np.ndarray:
    return np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * LEVELS).astype(np.uint8)


def residual(a, b, where=None) -> dict[str, float]:
    """Mean and max of max-over-channels |a - b| in grey levels (over ``where`` if given)."""
    d = np.abs(as_float(a) - as_float(b))
    d = (d.max(axis=-1) if d.ndim >= 3 and d.shape[-1] in (3, 4) else d) * LEVELS
    if where is not None:
        d = d[np.asarray(where, bool)]
    if d.size == 0:
        return {"mean": 0.0, "max": 0.0}
    return {"mean": round(float(d.mean()), 5), "max": round(float(d.max()), 5)}


@dataclass
class Layers:
    """A stored decomposition: uint8 alpha (T, H, W), uint8 edit colour (T, H, W, 3), and how well
    ``alpha * edit + (1 - alpha) * plate`` reproduces the full render before any video encoding."""
    alpha: np.ndarray
    edit: np.ndarray
    folded: np.ndarray  # bool (T, H, W): pixels folded into the plate as noise
    stats: dict

    @property
    def coverage(self) -> float:
        return float((self.alpha > 0).mean())


def specks(alpha, protect=None, size: int = 4) -> int:
    """Connected components (8-neighbour) of ``alpha > 0`` of at most ``size`` pixels that touch no
    ``protect`` pixel, summed over frames: grains of render noise that made it into a matte."""
    return sum(int(((sizes <= size) & ~touching).sum())
               for _, _, sizes, touching in _components(np.asarray(alpha) > 0, protect))


def layers(full, plate, lower=None, *, fold: bool = True, threshold: float = 2.0,
           min_neighbours: int = 2, min_component: int = 0, fill=None, delivered=None) -> Layers:
    """The decomposition as stored: noise folded (outside ``lower > 0``), alpha quantised up to
    uint8, the edit colour recomputed for the stored alpha and rounded to uint8.

    ``delivered`` (full, plate): the frames the sample ships when ``full`` and ``plate`` are the raw
    (undenoised) renders. The raw renders say *where* the layer is (its support: what survives folding),
    never the denoised ones, whose filter spreads every change; the delivered frames say *how much*
    (alpha and edit inside the support solve the composite equation for them exactly), so the composite
    of the stored layers over the delivered plate is the delivered full frame inside the support and the
    delivered plate outside it.

    ``stats``: ``residual`` (composite of the stored layers vs the delivered F, grey levels),
    ``residual_folded`` (vs that F with everything outside the support replaced by the plate:
    quantisation only), ``residual_vs_render`` (how far the composite is from the render: ``residual``
    without ``delivered``; with it, vs the delivered F inside the support and the raw change that folding
    dropped outside it, where the denoiser's spread is not a miss), folded pixel share, alpha coverage,
    ``specks`` per frame.
    """
    full_u8, plate_u8 = to_uint8(as_float(full)), to_uint8(as_float(plate))
    protect = None if lower is None else np.asarray(lower, np.float64) > 0
    target = full_u8
    folded = np.zeros(full_u8.shape[:-1], bool)
    if fold:
        target, folded = fold_noise(full_u8, plate_u8, protect, threshold, min_neighbours, min_component)
    alpha, _ = decompose(target, plate_u8, lower)
    raw_miss = None
    if delivered is not None:
        support = quantize_alpha(alpha) > 0
        raw_miss = np.where(support, 0.0, change_levels(full_u8, plate_u8))  # what folding dropped, raw
        full_u8, plate_u8 = to_uint8(as_float(delivered[0])), to_uint8(as_float(delivered[1]))
        alpha = np.where(support, decompose(full_u8, plate_u8, lower)[0], 0.0)
        target = np.where(support[..., None], full_u8, plate_u8)
    alpha_u8 = quantize_alpha(alpha)
    a = alpha_u8.astype(np.float64) / LEVELS
    edit_u8 = to_uint8(edit_colour(target, plate_u8, a, fill))
    comp = composite(a, edit_u8, plate_u8)
    frames = int(np.prod(alpha_u8.shape[:-2])) if alpha_u8.ndim > 2 else 1
    if raw_miss is None:
        vs_render = residual(comp, full_u8)
    else:  # inside the support against the delivered F; outside it, what the raw renders differed by
        miss = raw_miss + np.where(support, change_levels(comp, full_u8), 0.0)
        vs_render = {"mean": round(float(miss.mean()), 5), "max": round(float(miss.max()), 5)}
    stats = {"residual": residual(comp, full_u8), "residual_folded": residual(comp, target),
             "residual_vs_render": vs_render,
             "folded_fraction": round(float(folded.mean()), 6),
             "alpha_coverage": round(float((alpha_u8 > 0).mean()), 6),
             "alpha_opaque": round(float((alpha_u8 == 255).mean()), 6),
             "specks_per_frame": round(specks(alpha_u8, protect) / frames, 3)}
    return Layers(alpha_u8, edit_u8, folded, stats)
