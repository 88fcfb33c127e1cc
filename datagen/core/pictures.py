"""Pictures for people: frame grids, side-by-side contact sheets and GIFs of uint8 or float arrays."""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np


def id_colors(ids: np.ndarray) -> np.ndarray:
    """Segmentation ids to distinct colours (0 stays black), stable across calls."""
    ids = np.asarray(ids)
    rng = np.random.default_rng(12345)
    table = rng.integers(64, 256, size=(int(ids.max()) + 1, 3), dtype=np.uint8)
    table[0] = 0
    return table[ids]


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Any (H, W), (H, W, 1) or (H, W, 3) array to uint8 RGB for display."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.dtype != np.uint8:
        finite = np.isfinite(image)
        lo, hi = (float(image[finite].min()), float(image[finite].max())) if finite.any() else (0.0, 1.0)
        image = np.where(finite, (image - lo) / max(hi - lo, 1e-9), 1.0)
        image = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image


def hstack(images, pad: int = 2, fill: int = 255) -> np.ndarray:
    images = [to_rgb(i) for i in images]
    h = max(i.shape[0] for i in images)
    gap = np.full((h, pad, 3), fill, np.uint8)
    parts = []
    for k, image in enumerate(images):
        if image.shape[0] < h:
            image = np.pad(image, ((0, h - image.shape[0]), (0, 0), (0, 0)), constant_values=fill)
        parts += [image] if k == 0 else [gap, image]
    return np.concatenate(parts, axis=1)


def vstack(images, pad: int = 2, fill: int = 255) -> np.ndarray:
    return np.swapaxes(hstack([np.swapaxes(to_rgb(i), 0, 1) for i in images], pad, fill), 0, 1)


def frame_grid(video: np.ndarray, cols: int = 4, max_frames: int = 8) -> np.ndarray:
    """Evenly spaced frames of a (T, H, W[, C]) video in a grid."""
    t = len(video)
    picks = np.unique(np.linspace(0, t - 1, min(t, max_frames)).round().astype(int))
    rows = [hstack([video[i] for i in picks[r:r + cols]]) for r in range(0, len(picks), cols)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return vstack(rows)


def contact_sheet(columns: list[np.ndarray], max_frames: int = 6) -> np.ndarray:
    """Rows are frames, columns are videos (e.g. input | target | mask) of equal length."""
    t = len(columns[0])
    picks = np.unique(np.linspace(0, t - 1, min(t, max_frames)).round().astype(int))
    return vstack([hstack([c[i] for c in columns]) for i in picks])


def save_png(path: Path, image: np.ndarray) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, to_rgb(image))
    return Path(path)


def save_gif(path: Path, frames, fps: int = 12) -> Path:
    """An endlessly looping GIF; ``frames`` is a sequence of images of one size."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack([to_rgb(f) for f in frames]), extension=".gif",
                duration=int(round(1000 / fps)), loop=0)
    return Path(path)
