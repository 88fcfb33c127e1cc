"""Automatic morphing detection for VOID's pass 1 (VOID leaves the pass-2 decision to the user).

A removal that went right fills the region with things that move rigidly (or not at all); a removal
that "morphs" leaves objects whose shape changes from frame to frame. Rigid motion is explained by
optical flow: warp frame t onto frame t+1 along the flow and the region matches; a shape that melts
does not. The score is, inside the region the model generated (quadmask != 255, dilated a little), the
share of pixels that still differ by more than ``tolerance`` grey levels after flow compensation,
beyond the same share in the background around the region (render noise and camera motion leave some
everywhere), averaged over frame pairs. Flow is OpenCV's DIS (no weights to download).

``DEFAULT_THRESHOLD`` is calibrated by ``benchmarks/morphing.py`` on rendered objects against the same
objects with their silhouettes deformed frame to frame (it prints the detection rates).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Calibrated by benchmarks/morphing.py on the demo's VOID clips (208x120, 16 spp: four Kubric pairs, two
# human-removal pairs) against the same clips with their moving objects bent 1.5 and 3 px per frame, and
# on a clean synthetic moving square (tests/test_morphing.py: rigid 0.017, bent 2 px 0.14). On the demo
# clips 0.025 catches 7 of 12 bent clips and flags 2 of 6 rigid ones: the misses are human-removal
# clips, whose bent objects are a small part of a large region; the false alarms are objects tumbling
# too fast for optical flow at 12 fps. Larger, cleaner clips separate better; rerun the benchmark on
# your own data and set void.morph_threshold.
DEFAULT_THRESHOLD = 0.025  # share of region pixels unexplained by flow, beyond the background's
DEFAULT_TOLERANCE = 20.0  # grey levels


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense optical flow (H, W, 2) as (dx, dy) from frame ``a`` to frame ``b`` (uint8 RGB), OpenCV DIS."""
    import cv2

    cv2.setNumThreads(1)  # deterministic and polite on shared machines
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray(a), _gray(b), None)


def video_flow(video: np.ndarray) -> np.ndarray:
    """Forward flow of every frame to the next, (T, H, W, 2) as (d_row, d_col) in pixels (our generators'
    convention, ``target_forward_flow``); the last frame repeats the one before."""
    flows = [dis_flow(video[t], video[t + 1])[..., ::-1] for t in range(len(video) - 1)]
    flows.append(flows[-1] if flows else np.zeros(video.shape[1:3] + (2,), np.float32))
    return np.stack(flows).astype(np.float32)


def warp_back(frame: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """``frame`` (t) resampled onto frame t+1's pixels along the backward flow (t+1 -> t), (dx, dy)."""
    import cv2

    h, w = frame.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(frame, gx + flow_back[..., 0], gy + flow_back[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


@dataclass
class MorphReport:
    score: float  # mean over frame pairs of the share of region pixels unexplained by flow
    per_frame: list[float]
    threshold: float
    region_pixels: int

    @property
    def morphing(self) -> bool:
        return self.score > self.threshold

    def to_dict(self) -> dict:
        return {"score": round(self.score, 6), "threshold": self.threshold, "morphing": self.morphing,
                "per_frame": [round(v, 6) for v in self.per_frame], "region_pixels": self.region_pixels}


def morph_score(video: np.ndarray, region: np.ndarray, tolerance: float = DEFAULT_TOLERANCE,
                threshold: float = DEFAULT_THRESHOLD, dilation: int = 3) -> MorphReport:
    """``video`` uint8 (T, H, W, 3); ``region`` bool (T, H, W): where the model generated content."""
    from datagen.labels.quadmask import dilate

    region = dilate(np.asarray(region, bool), dilation)
    around = dilate(region, 4 * dilation + 8) & ~dilate(region, dilation + 2)  # the background near it
    per_frame = []
    for t in range(len(video) - 1):
        where = region[t + 1]
        if where.sum() < 16:
            per_frame.append(0.0)
            continue
        warped = warp_back(video[t], dis_flow(video[t + 1], video[t])).astype(np.float32)
        miss = np.abs(warped - video[t + 1].astype(np.float32)).max(-1) > tolerance
        # render noise and camera motion leave misses everywhere: what the region has beyond its
        # surroundings is shape change
        near = around[t + 1]
        floor = float(miss[near].mean()) if near.sum() >= 16 else 0.0
        per_frame.append(max(0.0, float(miss[where].mean()) - floor))
    score = float(np.mean(per_frame)) if per_frame else 0.0
    return MorphReport(score, per_frame, float(threshold), int(region.sum()))


def deform_silhouette(video: np.ndarray, mask: np.ndarray, amplitude: float, rng: np.random.Generator,
                      wavelength: float = 12.0) -> np.ndarray:
    """The same video with the object under ``mask`` (T, H, W) bent by a smooth displacement field that
    changes every frame (amplitude in pixels): a rigid object made to morph, for calibration."""
    import cv2

    from datagen.labels.quadmask import dilate

    out = video.copy()
    h, w = video.shape[1:3]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    for t in range(len(video)):
        phase = rng.uniform(0, 2 * np.pi, 4)
        k = 2 * np.pi / wavelength
        dx = amplitude * np.sin(k * gy + phase[0]) * np.cos(k * gx * 0.7 + phase[1])
        dy = amplitude * np.sin(k * gx + phase[2]) * np.cos(k * gy * 0.7 + phase[3])
        moved = cv2.remap(video[t], gx + dx.astype(np.float32), gy + dy.astype(np.float32), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
        near = dilate(mask[t:t + 1], int(np.ceil(amplitude)) + 1)[0]
        out[t][near] = moved[near]
    return out
