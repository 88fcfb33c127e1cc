"""VOID's quadmask: one uint8 value per pixel saying what removing an object does there.

  0   OBJECT    the removed object, nothing else changes underneath it
  63  OVERLAP   removed-object pixels where the scene also changes
  127 AFFECTED  pixels that change because the object is gone (moved objects, its shadows,
                reflections, colour bleeding)
  255 KEEP      untouched

Masks must be stored losslessly. VOID's readers snap values back to these four (``snap``).
"""
from __future__ import annotations

import numpy as np

from datagen.labels.pixels import neighbour_count

OBJECT, OVERLAP, AFFECTED, KEEP = 0, 63, 127, 255
VALUES = (OBJECT, OVERLAP, AFFECTED, KEEP)
# VOID's reader: <=31 -> 0, 32..95 -> 63, 96..191 -> 127, >191 -> 255 (a lookup table by uint8 value)
SNAP_TABLE = np.empty(256, np.uint8)
SNAP_TABLE[:32], SNAP_TABLE[32:96], SNAP_TABLE[96:192], SNAP_TABLE[192:] = OBJECT, OVERLAP, AFFECTED, KEEP
# VOID's model conditions on a 3-channel image: object/overlap 0, affected 0.5, keep 1
CONDITIONING = {OBJECT: 0.0, OVERLAP: 0.0, AFFECTED: 0.5, KEEP: 1.0}
# ... unless the overlap is kept apart from the object (``keep_overlap``): then 63 conditions as 0.25
KEPT_OVERLAP = 0.25


def conditioning_table(keep_overlap: bool = False) -> np.ndarray:
    """float32 (256,): the conditioning value of every uint8 mask value after snapping."""
    values = {**CONDITIONING, **({OVERLAP: KEPT_OVERLAP} if keep_overlap else {})}
    return np.array([values[int(v)] for v in SNAP_TABLE], np.float32)


def _window_any(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``out[i] = any(x[i:i + size])`` along ``axis`` (length n - size + 1), in O(log size) passes: windows
    of doubling span, then two overlapping ones that together cover ``size``."""
    def cut(a, start, stop):
        index = [slice(None)] * a.ndim
        index[axis] = slice(start, stop)
        return a[tuple(index)]

    acc, span = x, 1
    while span * 2 <= size:
        n = acc.shape[axis]
        acc = cut(acc, 0, n - span) | cut(acc, span, n)
        span *= 2
    if size > span:
        n, rest = acc.shape[axis], size - span
        acc = cut(acc, 0, n - rest) | cut(acc, rest, n)
    return acc


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Binary dilation of (..., H, W) masks by a (2p+1)-square, frame by frame (separable: rows, then
    columns, each in O(log p) passes, so a 4K frame grown by hundreds of pixels stays cheap)."""
    mask = np.asarray(mask, dtype=bool)
    if pixels <= 0:
        return mask.copy()
    p, size = int(pixels), 2 * int(pixels) + 1
    out = mask
    for axis in (mask.ndim - 1, mask.ndim - 2):
        pad = [(0, 0)] * mask.ndim
        pad[axis] = (p, p)
        out = _window_any(np.pad(out, pad), size, axis)
    return out


def quadmask(removed: np.ndarray, affected: np.ndarray, dilation: int = 0,
             clear_first_frame: bool = True) -> np.ndarray:
    """(T, H, W) uint8 quadmask from boolean removed-object and affected-region masks.

    ``clear_first_frame`` follows VOID: the affected region starts at frame 1 (nothing has
    changed yet at frame 0).
    """
    removed, affected = dilate(removed, dilation), dilate(affected, dilation)
    if clear_first_frame and len(affected):
        affected[0] = False
    out = np.full(removed.shape, KEEP, np.uint8)
    out[affected] = AFFECTED
    out[removed] = OBJECT
    out[removed & affected] = OVERLAP
    return out


def removed_region(mask: np.ndarray) -> np.ndarray:
    """The removed object's pixels (0 and 63) of any uint8 quadmask, after VOID's snapping."""
    return np.isin(snap(mask), (OBJECT, OVERLAP))


def changed_region(mask: np.ndarray) -> np.ndarray:
    """The pixels whose content changes without the object (63 and 127), after VOID's snapping."""
    return np.isin(snap(mask), (OVERLAP, AFFECTED))


def check_quadmask(mask: np.ndarray, removed: np.ndarray | None = None, clear_first_frame: bool = True) -> list[str]:
    """What is wrong with a quadmask video (T, H, W) as VOID reads it: values off the four levels, 127 or 63
    on frame 0 (VOID's tooling clears it), and, given the removed object's pixels, 0/63 elsewhere."""
    mask = np.asarray(mask)
    if mask.dtype != np.uint8 or mask.ndim != 3:
        return [f"quadmask must be uint8 (T, H, W), got {mask.dtype} {mask.shape}"]
    errors = []
    bad = sorted(set(np.unique(mask).tolist()) - set(VALUES))
    if bad:
        errors.append(f"values {bad[:8]} outside {list(VALUES)}")
    first = int(np.isin(mask[0], (AFFECTED, OVERLAP)).sum()) if clear_first_frame and len(mask) else 0
    if first:
        errors.append(f"frame 0 has {first} pixels of 127/63 (VOID clears the affected region on frame 0)")
    if removed is not None:
        wrong = int((np.isin(mask, (OBJECT, OVERLAP)) != np.asarray(removed, bool)).sum())
        if wrong:
            errors.append(f"{wrong} pixels where 0/63 disagree with the object's mask")
    return errors


def snap(values: np.ndarray) -> np.ndarray:
    """VOID's reader: any uint8 mask (e.g. after lossy video) back to the four values."""
    return SNAP_TABLE[np.asarray(values, dtype=np.uint8)]


def pixel_change(c: np.ndarray, b: np.ndarray, threshold: float = 15, gamma: float = 1.0,
                 min_neighbours: int = 0) -> np.ndarray:
    """VOID's pixel rule: max over RGB of |C - B| >= threshold (uint8 frames). With ``gamma`` != 1
    the frames are compared as 255 (x / 255) ** gamma (VOID's HUMOTO rule: gamma 2.2, threshold 8),
    which weighs changes in bright regions over noise in dark ones. ``min_neighbours`` > 0 keeps
    only changed pixels with at least that many changed neighbours (of 8): path-traced frames
    differ by isolated noise pixels where a moved object alters indirect light, which VOID's
    rasterised renders do not."""
    if gamma == 1.0:
        diff = np.abs(c.astype(np.int16) - b.astype(np.int16)).max(axis=-1) >= threshold
    else:
        table = (np.arange(256) / 255.0) ** gamma * 255.0
        diff = np.abs(table[c] - table[b]).max(axis=-1) >= threshold
    if min_neighbours > 0:
        diff &= neighbour_count(diff) >= min_neighbours
    return diff


def box3(frames: np.ndarray) -> np.ndarray:
    """The 3x3 mean of (..., H, W, C) frames, zero outside the frame, float32."""
    x = np.asarray(frames, np.float32)
    h, w = x.shape[-3:-1]
    p = np.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (1, 1), (0, 0)])
    return sum(p[..., dy:dy + h, dx:dx + w, :] for dy in range(3) for dx in range(3)) / 9.0


def effect_footprint(with_effects: np.ndarray, without: np.ndarray, threshold: int = 6,
                     min_neighbours: int = 3) -> np.ndarray:
    """Pixels where the removed objects' effects (shadow, reflection, bleeding) show.

    ``with_effects`` and ``without`` are renders with the same seed, so pixels the object does
    not influence are identical; where it changes the light only a little (soft occlusion of an
    HDR environment) low-sample path tracing turns that change into scattered noise. A pixel is in
    the footprint when the 3x3 mean change (max over RGB) reaches ``threshold`` — noise averages out,
    a shadow does not — and at least ``min_neighbours`` of its 8 neighbours do too.
    """
    change = np.asarray(with_effects, np.float32) - np.asarray(without, np.float32)
    diff = np.abs(box3(change)).max(axis=-1) >= threshold
    if min_neighbours > 0:
        diff &= neighbour_count(diff) >= min_neighbours
    return diff


def colorize(mask: np.ndarray) -> np.ndarray:
    """Quadmask to RGB for previews: object red, overlap magenta, affected yellow, keep dark."""
    table = np.zeros((256, 3), np.uint8)
    table[OBJECT], table[OVERLAP] = (230, 40, 40), (200, 40, 200)
    table[AFFECTED], table[KEEP] = (240, 200, 30), (30, 30, 30)
    return table[snap(mask)]
