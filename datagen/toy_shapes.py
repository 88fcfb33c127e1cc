"""Toy shapes: a few coloured squares sliding and bouncing over a dark background — the cheap
generator (numpy only, no Blender) that tests and benchmarks the runner, and the template new
generators copy.

    python datagen/toy_shapes.py out=/tmp/toy num_samples=64 samples_per_shard=16
    python datagen/toy_shapes.py out=/tmp/toy runner.mode=local render.spp=16
    ray submit ray_cluster.yaml datagen/toy_shapes.py -- out=s3://bucket/toy num_samples=10000

Labels mimic VOID's quadmask: square 0 is "the object to remove" (0), the other squares are the
"affected" region (127), pixels inside square 0 and another square are "overlap" (63), the rest is
"keep" (255). ``render.spp`` sub-pixel samples (a k x k grid, k = ceil(sqrt(spp))) anti-alias the video
and give square 0's coverage as a soft alpha; the mask is sampled exactly at pixel centres.

A generator module defines exactly three things (``datagen/runner/generator.py``): ``SCHEMA``,
``make_sample(config, index, seed)`` and ``INVARIANTS``; its Hydra config
(``configs/datagen/<name>.yaml``) names it in ``generator:``; the ``__main__`` block hands over to the
runner.
"""
from __future__ import annotations

import math
import os
import signal
import sys
import time
from pathlib import Path

if __name__ == "__main__" and not __package__:  # run as a path: import the project, not datagen/'s files
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np

from datagen.labels import quadmask as qm
from datagen.runner import Member, sample_rng, stage

SCHEMA = {
    "video": Member("video", doc="uint8 (T,H,W,3) sRGB: the squares, anti-aliased with render.spp samples/pixel"),
    "mask": Member("mask", dtype="uint8", doc="(T,H,W) quadmask at pixel centres: 0 square 0, 63 square 0 "
                                              "overlapping another, 127 other squares, 255 background"),
    "alpha": Member("mask", dtype="uint8", doc="(T,H,W) coverage of square 0 (0..255) over the spp grid"),
    "boxes": Member("array", dtype="float32", ndim=3, doc="(T,N,4) x0,y0,x1,y1 of each square in pixels"),
    "meta": Member("json", doc="num_shapes, colours (sRGB 0..255), background, size and frame count"),
    "caption": Member("text", doc="one sentence describing the clip"),
}


def make_sample(config, index: int, seed: int) -> dict:
    _debug_hooks(config.get("debug"), index)
    r, toy = config.render, config.toy
    t, h, w, k = r.frames, r.height, r.width, math.ceil(math.sqrt(r.spp))
    with stage("layout"):
        rng = sample_rng(seed, "layout")
        n = int(rng.integers(toy.min_shapes, toy.max_shapes + 1))
        side = rng.uniform(toy.min_size, toy.max_size, n) * min(h, w)
        start = rng.uniform(0.0, 1.0, (n, 2)) * (np.array([w, h]) - side[:, None])
        velocity = rng.uniform(-1.0, 1.0, (n, 2)) * toy.max_speed * np.array([w, h])
        colours = rng.integers(60, 256, (n, 3))
        background = rng.integers(0, 40, 3)
        boxes = _trajectories(start, velocity, side, t, w, h).astype(np.float32)  # stored as is
    with stage("render"):
        video = _render(boxes, colours, background, h, w, k)
    with stage("labels"):
        mask, alpha = quadmask(boxes, h, w), _coverage(boxes, h, w, k)
    meta = {"num_shapes": n, "colours": colours, "background": background, "width": w, "height": h,
            "frames": t, "spp": k * k}
    caption = f"{n} coloured squares slide and bounce across a dark background for {t} frames."
    if index in ((config.get("debug") or {}).get("wrong_caption_indices") or ()):
        caption = "a caption that breaks the num_shapes invariant"
    return {"video": video, "mask": mask, "alpha": alpha, "boxes": boxes, "meta": meta,
            "caption": caption}


def _trajectories(start, velocity, side, frames: int, w: int, h: int) -> np.ndarray:
    """(T, N, 4) boxes moving at constant speed and bouncing off the frame edges."""
    span = np.array([w, h]) - side[:, None]  # room for the top-left corner, per square and axis
    steps = np.arange(frames)[:, None, None]
    u = np.mod(start + velocity * steps, 2 * span)
    top_left = span - np.abs(u - span)  # triangle wave: reflection at 0 and span
    return np.concatenate([top_left, top_left + side[None, :, None]], axis=-1)


def _grid(lo: np.ndarray, hi: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """First and stop index of sub-pixel samples (j + 0.5) / k inside [lo, hi)."""
    return np.ceil(lo * k - 0.5).astype(int).clip(0), np.ceil(hi * k - 0.5).astype(int).clip(0)


def _render(boxes, colours, background, h: int, w: int, k: int) -> np.ndarray:
    """Painter's order on a k x k supersampled canvas, box-filtered down to (T,H,W,C) uint8
    (C = len(background))."""
    boxes = boxes.astype(np.float64)
    (x0, x1), (y0, y1) = _grid(boxes[..., 0], boxes[..., 2], k), _grid(boxes[..., 1], boxes[..., 3], k)
    channels = len(background)
    video = np.empty((len(boxes), h, w, channels), np.uint8)
    canvas = np.empty((h * k, w * k, channels), np.uint16)
    for f in range(len(boxes)):
        canvas[:] = background
        for i, colour in enumerate(colours):
            canvas[y0[f, i]:y1[f, i], x0[f, i]:x1[f, i]] = colour
        summed = canvas.reshape(h, k, w, k, channels).sum(axis=(1, 3), dtype=np.uint32)
        video[f] = (summed + k * k // 2) // (k * k)
    return video


def _inside(boxes: np.ndarray, h: int, w: int) -> np.ndarray:
    """(T, N, H, W) bool: pixel centres inside each box."""
    ys, xs = np.arange(h) + 0.5, np.arange(w) + 0.5
    in_x = (xs >= boxes[..., 0, None]) & (xs < boxes[..., 2, None])
    in_y = (ys >= boxes[..., 1, None]) & (ys < boxes[..., 3, None])
    return in_y[..., :, None] & in_x[..., None, :]


def quadmask(boxes: np.ndarray, h: int, w: int) -> np.ndarray:
    """(T,H,W) uint8 quadmask of square 0 against the other squares, at pixel centres."""
    inside = _inside(boxes.astype(np.float64), h, w)
    removed, others = inside[:, 0], inside[:, 1:].any(axis=1)
    mask = np.full(removed.shape, qm.KEEP, np.uint8)
    mask[others] = qm.AFFECTED
    mask[removed] = qm.OBJECT
    mask[removed & others] = qm.OVERLAP
    return mask


def _coverage(boxes: np.ndarray, h: int, w: int, k: int) -> np.ndarray:
    """(T,H,W) uint8 fraction of the k x k sub-pixel samples inside square 0, 0..255."""
    return _render(boxes[:, :1], np.array([[255]]), np.array([0]), h, w, k)[..., 0]


def _debug_hooks(debug, index: int) -> None:
    """Failure injection for the runner's tests (config ``debug.*``)."""
    if not debug:
        return
    if index in (debug.get("fail_indices") or ()):
        raise RuntimeError(f"debug.fail_indices: sample {index} fails on purpose")
    if index in (debug.get("crash_indices") or ()):
        os.kill(os.getpid(), signal.SIGKILL)
    if debug.get("enospc_once_index") == index and _first_time(debug, "enospc_once_index"):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device (debug.enospc_once_index)")
    if debug.get("sleep_s"):
        time.sleep(float(debug["sleep_s"]))  # a slow sample, so that faults can strike mid-run
    if index in (debug.get("hang_indices") or ()):
        while True:  # a render that never returns
            time.sleep(3600)
    if debug.get("crash_once_index") == index and _first_time(debug, "crash_once_index"):
        os.kill(os.getpid(), signal.SIGKILL)


def _first_time(debug, key: str) -> bool:
    """Whether this is the first time ``key``'s fault strikes: creating ``debug.crash_marker`` succeeds once."""
    marker = debug.get("crash_marker")
    if not marker:
        raise ValueError(f"debug.{key} needs debug.crash_marker")
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


# ------------------------------------------------------------------------------------------ invariants

def _geometry(sample: dict, config) -> list[str]:
    r = config.render
    want = (r.frames, r.height, r.width)
    errors = [f"{name}: shape {tuple(sample[name].shape[:3])} != (frames, height, width) {want}"
              for name in ("video", "mask", "alpha") if tuple(sample[name].shape[:3]) != want]
    n = sample["meta"].get("num_shapes")
    if sample["boxes"].shape != (r.frames, n, 4):
        errors.append(f"boxes: shape {sample['boxes'].shape} != (frames, num_shapes, 4) {(r.frames, n, 4)}")
    return errors


def _mask_values(sample: dict, config) -> list[str]:
    bad = sorted(set(np.unique(sample["mask"]).tolist()) - set(qm.VALUES))
    return [f"mask: values {bad} outside the quadmask values {list(qm.VALUES)}"] if bad else []


def _mask_matches_boxes(sample: dict, config) -> list[str]:
    mask, boxes = sample["mask"], sample["boxes"]
    if mask.ndim != 3 or boxes.ndim != 3 or len(mask) != len(boxes):
        return []  # reported by _geometry
    wrong = int((quadmask(boxes, *mask.shape[1:]) != mask).sum())
    return [f"mask: {wrong} pixels differ from the quadmask of boxes"] if wrong else []


def _alpha_matches_mask(sample: dict, config) -> list[str]:
    mask, alpha = sample["mask"], sample["alpha"]
    if mask.shape != alpha.shape:
        return []
    in_square0 = (mask == qm.OBJECT) | (mask == qm.OVERLAP)
    errors = []
    if (in_square0 & (alpha == 0)).any():
        errors.append("alpha: zero at pixels the mask puts inside square 0")
    if (~in_square0 & (alpha == 255)).any():
        errors.append("alpha: fully opaque at pixels the mask puts outside square 0")
    return errors


def _text(sample: dict, config) -> list[str]:
    n = sample["meta"].get("num_shapes")
    return [] if sample["caption"].startswith(f"{n} ") else [f"caption: does not start with num_shapes {n}"]


INVARIANTS = (_geometry, _mask_values, _mask_matches_boxes, _alpha_matches_mask, _text)


if __name__ == "__main__":
    from datagen.runner import main

    main("toy_shapes")
