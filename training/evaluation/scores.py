"""Scores of predicted videos against ground truth: the numbers ``python -m training.evaluate`` tabulates
and training validation logs. uint8 (T, H, W, 3) videos throughout; SSIM is scikit-image's.

VOID (``void_scores``): PSNR and SSIM over the whole frame and per quadmask region — keep (255), removed
(0 and 63: the object's own pixels, hole filling) and affected (127: what physics changes without the
object; the physics score) — and temporal flicker (mean |(p_t+1 - p_t) - (g_t+1 - g_t)|, grey levels).
Vera (``vera_scores``): content preservation where the true alpha is 0 (PSNR, SSIM against the input,
and the share of pixels equal to it bit for bit), composite PSNR/SSIM against the true composite, and
the matting errors of a predicted alpha (MAE and SAD in [0, 1] units, gradient error).
"""
from __future__ import annotations

import math

import numpy as np

EXACT = float("inf")  # PSNR of identical pixels


def psnr(pred: np.ndarray, truth: np.ndarray, where: np.ndarray | None = None) -> float | None:
    """PSNR in dB over ``where`` (a (T, H, W) mask; all pixels if None); inf when equal, None when empty."""
    d = (pred.astype(np.float64) - truth.astype(np.float64)) ** 2
    if where is not None:
        if not where.any():
            return None
        d = d[where]
    mse = float(d.mean())
    return EXACT if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def ssim_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (T, H, W), channel-averaged, 7x7 windows (scikit-image)."""
    from skimage.metrics import structural_similarity

    out = []
    for p, g in zip(pred, truth):
        win = min(7, p.shape[0] - (1 - p.shape[0] % 2), p.shape[1] - (1 - p.shape[1] % 2))
        _, full = structural_similarity(g, p, data_range=255, channel_axis=-1, full=True, win_size=max(3, win))
        out.append(full.mean(-1))
    return np.stack(out)


def ssim(pred, truth, where=None, smap: np.ndarray | None = None) -> float | None:
    smap = ssim_map(pred, truth) if smap is None else smap
    if where is not None:
        if not where.any():
            return None
        return float(smap[where].mean())
    return float(smap.mean())


def flicker(pred: np.ndarray, truth: np.ndarray) -> float:
    """Temporal flicker against the truth: how much more (or less) the frames change than they should."""
    if len(pred) < 2:
        return 0.0
    dp = np.diff(pred.astype(np.float32), axis=0)
    dg = np.diff(truth.astype(np.float32), axis=0)
    return float(np.abs(dp - dg).mean())


def void_scores(pred: np.ndarray, truth: np.ndarray, quadmask: np.ndarray,
                effect_categories: np.ndarray | None = None) -> dict:
    """PSNR and SSIM per quadmask region, flicker; with the pair's ``effect_categories``, also inside each
    category's effect pixels (``psnr_effect_<category>``; None where a clip has none)."""
    regions = {"whole": None, "keep": quadmask == 255, "removed": np.isin(quadmask, (0, 63)),
               "affected": quadmask == 127}
    if effect_categories is not None:
        from datagen.void.categories import CATEGORY_BITS

        regions |= {f"effect_{name}": ((effect_categories & bit) > 0) & (quadmask == 127)
                    for name, bit in CATEGORY_BITS.items()}
    smap = ssim_map(pred, truth)
    out = {}
    for name, where in regions.items():
        out[f"psnr_{name}"] = psnr(pred, truth, where)
        out[f"ssim_{name}"] = ssim(pred, truth, where, smap)
    out["flicker"] = flicker(pred, truth)
    return out


def alpha_errors(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Matting errors of a uint8 alpha (T, H, W): MAE and SAD (sum over a frame / 1000, mean over frames)
    in [0, 1] units, gradient error (mean |grad pred - grad truth|, Sobel, [0, 1] units)."""
    from scipy import ndimage

    p, g = pred.astype(np.float64) / 255, truth.astype(np.float64) / 255
    d = np.abs(p - g)

    def grad(x):
        return np.hypot(ndimage.sobel(x, axis=-1), ndimage.sobel(x, axis=-2))
    return {"alpha_mae": float(d.mean()), "alpha_sad": float(d.reshape(len(d), -1).sum(1).mean() / 1000),
            "alpha_grad": float(np.abs(grad(p) - grad(g)).mean())}


def vera_scores(pred: np.ndarray, source: np.ndarray, truth_composite: np.ndarray, truth_alpha: np.ndarray,
                pred_alpha: np.ndarray | None = None) -> dict:
    outside = truth_alpha == 0
    out = {"psnr_preserved": psnr(pred, source, outside), "ssim_preserved": ssim(pred, source, outside),
           "exact_preserved": float((pred == source).all(-1)[outside].mean()) if outside.any() else None,
           "psnr_composite": psnr(pred, truth_composite), "ssim_composite": ssim(pred, truth_composite)}
    if pred_alpha is not None:
        out |= alpha_errors(pred_alpha, truth_alpha)
    return out


def mean_scores(rows: list[dict]) -> dict:
    """Means over samples of each score (None values skipped; inf stays inf when every value is inf,
    otherwise the mean of the finite ones is reported with the count of exact ones)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None]
        if not vals:
            out[k] = None
            continue
        finite = [v for v in vals if math.isfinite(v)]
        out[k] = EXACT if not finite else float(np.mean(finite))
        if len(finite) < len(vals):
            out[f"{k}_exact"] = len(vals) - len(finite)
    return out


def inpaint_baseline(video: np.ndarray, quadmask: np.ndarray, dilation: int = 2, radius: int = 5) -> np.ndarray:
    """A classical, weightless baseline: OpenCV's Telea inpainting of the removed object (0/63) in each
    frame, everything else copied from the input."""
    import cv2

    from datagen.labels.quadmask import dilate

    hole = dilate(np.isin(quadmask, (0, 63)), dilation)
    out = video.copy()
    for t in range(len(video)):
        if hole[t].any():
            out[t] = cv2.inpaint(np.ascontiguousarray(video[t]), hole[t].astype(np.uint8) * 255, radius,
                                 cv2.INPAINT_TELEA)
    return out


# -- the affected region (the affect predictor) ----------------------------------------------------------

def region_counts(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Pixel counts of a predicted boolean region against the true one: true/false positives, false negatives."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    return {"tp": int((pred & truth).sum()), "fp": int((pred & ~truth).sum()), "fn": int((~pred & truth).sum())}


def region_scores(counts: dict) -> dict:
    """IoU, precision and recall from pixel counts; None where undefined (e.g. precision of an empty
    prediction, IoU when both regions are empty)."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]

    def ratio(a, b):
        return float(a / b) if b else None
    return {"iou": ratio(tp, tp + fp + fn), "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn)}


def affected_counts(pred_quadmask: np.ndarray, truth_quadmask: np.ndarray) -> dict:
    """Counts of the affected region (127, after VOID's snapping) of two quadmasks (T, H, W), frames 1 on
    (VOID clears 127 on frame 0, so frame 0 is a convention, not a prediction)."""
    from datagen.labels.quadmask import AFFECTED, snap

    return region_counts(snap(pred_quadmask[1:]) == AFFECTED, snap(truth_quadmask[1:]) == AFFECTED)


def sum_counts(rows: list[dict]) -> dict:
    return {k: sum(int(r[k]) for r in rows) for k in ("tp", "fp", "fn")}


def affect_baseline(quadmask: np.ndarray, kind: str, dilation: int = 16) -> np.ndarray:
    """A weightless quadmask from the object alone (0/63 of ``quadmask``): ``none`` marks no affected
    region; ``dilated`` marks a ring of ``dilation`` pixels around the object (shadows and contacts are
    usually near it), frame 0 cleared as VOID's tooling does."""
    from datagen.labels.quadmask import dilate, quadmask as make_quadmask, removed_region

    removed = removed_region(quadmask)
    if kind == "none":
        affected = np.zeros_like(removed)
    elif kind == "dilated":
        affected = dilate(removed, int(dilation)) & ~removed
    else:
        raise ValueError(f"affect baseline must be none or dilated, got {kind!r}")
    return make_quadmask(removed, affected)
