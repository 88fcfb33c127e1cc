"""Pictures of samples for people: frame grids, side-by-side contact sheets and GIFs."""
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


# -- python -m datagen.preview DATASET --out DIR -------------------------------------------------------
def sample_columns(generator, sample: dict) -> list[np.ndarray]:
    """The videos to show side by side: the generator's ``preview_columns(sample)`` if it has one,
    else every (T, H, W, 3) video member."""
    columns = getattr(generator, "preview_columns", None)
    if columns is not None:
        return columns(sample)
    return [v for v in sample.values() if isinstance(v, np.ndarray) and v.ndim == 4 and v.shape[-1] == 3]


def write_previews(url: str, out: Path, limit: int = 8, fps: int | None = None) -> list[Path]:
    """A contact sheet (PNG) and a GIF per sample, for the first ``limit`` samples of a dataset."""
    import importlib

    from datagen.runner.reader import open_dataset
    from datagen.runner.store import SUMMARY, Store

    summary = Store(url).read_json(SUMMARY)
    generator = importlib.import_module(summary["generator"])
    fps = fps or int(summary["config"]["render"]["fps"])
    out = Path(out)
    written = []
    dataset = open_dataset(url, shardshuffle=False, split_by_node=False, split_by_worker=False)
    for k, sample in enumerate(dataset):
        if k >= limit:
            break
        columns = sample_columns(generator, sample)
        key = sample["__key__"]
        written.append(save_png(out / f"{key}.png", contact_sheet(columns)))
        written.append(save_gif(out / f"{key}.gif", [hstack([c[t] for c in columns]) for t in range(len(columns[0]))], fps))
    return written


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m datagen.preview",
                                     description="Contact sheets and GIFs of a dataset's samples.")
    parser.add_argument("dataset", help="dataset directory or fsspec URL (a runner output)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: DATASET/preview)")
    parser.add_argument("--limit", type=int, default=8, help="samples to preview")
    args = parser.parse_args(argv)
    out = args.out or Path(args.dataset) / "preview"
    paths = write_previews(args.dataset, out, args.limit)
    print(f"wrote {len(paths) // 2} previews to {out}")


if __name__ == "__main__":
    main()
