"""What every Vera sample must satisfy, checked on the decoded sample (``python -m datagen.validate`` and the
end of every generation run): sizes, alpha in range, the composite follows from the layers, the composite is
the input where alpha is 0, the subject mask is opaque in its layer, the render residual, alpha specks and
task in the meta, an instruction."""
from __future__ import annotations

import numpy as np

VIDEOS = ("input_video", "edit_rgb", "composite")
MAX_RESIDUAL = 3.0  # grey levels, mean, after video decoding
MAX_RENDER_RESIDUAL = 1.0  # grey levels, mean, before encoding (meta)
MAX_SPECKS_PER_FRAME = 2.0  # alpha grains (components <= 4 px touching no subject pixel) per frame (meta)


def _sizes(sample, config) -> list[str]:
    r = config.render
    want = (r.frames, r.height, r.width)
    errors = [f"{k}: shape {tuple(sample[k].shape[:3])} != (frames, height, width) {want}"
              for k in (*VIDEOS, "edit_alpha", "mask") if tuple(sample[k].shape[:3]) != want]
    return errors


def _alpha_range(sample, config) -> list[str]:
    a = sample["edit_alpha"]
    if a.dtype == np.uint8:
        return []  # 0..255 is 0..1 by construction
    bad = ~np.isfinite(a) | (a < 0) | (a > 1)
    return [f"edit_alpha: {int(bad.sum())} values outside [0, 1]"] if bad.any() else []


def _levels(a) -> np.ndarray:
    return np.asarray(a, np.float64)


def _composite(sample, config) -> list[str]:
    """The composite follows from the layers (after decoding) within MAX_RESIDUAL grey levels."""
    if any(tuple(sample[k].shape[:3]) != tuple(sample["edit_alpha"].shape) for k in VIDEOS):
        return []  # reported by _sizes
    a = sample["edit_alpha"].astype(np.float64)[..., None] / 255
    inp, edit, comp = (_levels(sample[k]) for k in VIDEOS)
    if sample["meta"]["task"] == "matting":
        err = np.abs(inp - comp).max(-1).mean()
        what = "matting: |input - composite|"
    else:
        err = np.abs(a * edit + (1 - a) * inp - comp).max(-1).mean()
        what = "|alpha * edit + (1 - alpha) * input - composite|"
    return [f"{what} is {err:.2f} grey levels (mean) > {MAX_RESIDUAL}"] if err > MAX_RESIDUAL else []


def _unchanged_outside(sample, config) -> list[str]:
    """Where alpha is 0 the composite is the input (up to video encoding: pixels next to the layer,
    where x264 rings, are left out)."""
    from datagen.labels.quadmask import dilate

    if sample["input_video"].shape[:3] != sample["edit_alpha"].shape:
        return []
    zero = ~dilate(sample["edit_alpha"] > 0, 1)
    if not zero.any():
        return []
    d = np.abs(_levels(sample["input_video"]) - _levels(sample["composite"])).max(-1)[zero]
    return [f"input and composite differ by {d.mean():.2f} grey levels (mean) where alpha is 0"] if d.mean() > MAX_RESIDUAL else []


def _mask(sample, config) -> list[str]:
    m, meta = sample["mask"], sample["meta"]
    errors = []
    bad = sorted(set(np.unique(m).tolist()) - {0, 255})
    if bad:
        errors.append(f"mask: values {bad[:5]} outside {{0, 255}}")
    if meta["task"] != "background_change" and m.shape == sample["edit_alpha"].shape:
        # the subject's own pixels are opaque in its layer (synthetic: where its matte is >= 0.5)
        weak = (m == 255) & (sample["edit_alpha"] < 128)
        if weak.any():
            errors.append(f"mask: {int(weak.sum())} subject pixels with alpha < 0.5")
    return errors


def _meta(sample, config) -> list[str]:
    meta = sample["meta"]
    errors = []
    residual = meta.get("residual", {})
    res = residual.get("residual_vs_render", {}).get("mean")
    if res is None or res > MAX_RENDER_RESIDUAL:
        errors.append(f"meta: composite vs render residual {res} grey levels (mean) > {MAX_RENDER_RESIDUAL}")
    specks = residual.get("specks_per_frame")
    if specks is not None and specks > MAX_SPECKS_PER_FRAME:  # render noise left in the matte
        errors.append(f"meta: {specks} alpha specks per frame > {MAX_SPECKS_PER_FRAME}")
    if meta.get("task") not in ("object_addition", "background_change", "matting"):
        errors.append(f"meta: unknown task {meta.get('task')!r}")
    return errors


def _instruction(sample, config) -> list[str]:
    return [] if sample["edit_instruction"].strip() else ["edit_instruction: empty"]


INVARIANTS = (_sizes, _alpha_range, _composite, _unchanged_outside, _mask, _meta, _instruction)
