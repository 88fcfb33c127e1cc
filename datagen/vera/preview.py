"""Pictures of Vera samples: input | edit layer over a checkerboard | alpha | composite, as a
contact sheet (PNG) and a GIF per sample, and the small Vera set ``make demo`` writes.

    python -m datagen.vera.preview DATASET [--out DIR] [--limit N]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datagen.core.cli import command


def checkerboard(height: int, width: int, square: int = 8, light: int = 205, dark: int = 135) -> np.ndarray:
    rows, cols = np.indices((height, width)) // square
    return np.where(((rows + cols) % 2 == 0)[..., None], light, dark).astype(np.uint8).repeat(3, axis=-1)


def over_checkerboard(edit: np.ndarray, alpha: np.ndarray, square: int = 8) -> np.ndarray:
    """The edit layer (T, H, W, 3) with its uint8 alpha (T, H, W) over a grey checkerboard."""
    a = alpha.astype(np.float32)[..., None] / 255
    board = checkerboard(*alpha.shape[1:], square=square).astype(np.float32)
    return np.round(a * edit.astype(np.float32) + (1 - a) * board).astype(np.uint8)


def columns(sample: dict) -> list[np.ndarray]:
    """input | edit over a checkerboard | alpha | composite."""
    square = max(4, sample["edit_alpha"].shape[1] // 16)
    return [sample["input_video"], over_checkerboard(sample["edit_rgb"], sample["edit_alpha"], square),
            sample["edit_alpha"], sample["composite"]]


def write_previews(dataset: str, out, limit: int = 8) -> list[Path]:
    """A contact sheet and a GIF per sample of a Vera dataset (the columns above), and the
    samples' instructions in ``instructions.txt``."""
    from datagen.dataset.preview import write_previews as write
    from datagen.dataset.reader import iter_samples

    out = Path(out)
    paths = write(dataset, out, limit)
    lines = []
    for sample in iter_samples(dataset, limit=limit):
        m = sample["meta"]
        lines.append(f"{sample['__key__']} [{m['family']} / {m['task']}, {m['render_cost']} renders, residual "
                     f"{m['residual']['residual_vs_render']['mean']:.3f} levels]\n{sample['edit_instruction']}\n")
    (out / "instructions.txt").write_text("\n".join(lines))
    return [*paths, out / "instructions.txt"]


@command
def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m datagen.vera.preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="a vera_layers output directory or fsspec URL")
    parser.add_argument("--out", type=Path, default=None, help="default: DATASET/preview")
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args(argv)
    out = args.out or Path(args.dataset) / "preview"
    write_previews(args.dataset, out, args.limit)
    print(f"wrote previews to {out}")


if __name__ == "__main__":
    import sys

    sys.exit(main())
