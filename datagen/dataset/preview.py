"""``python -m datagen.preview DATASET``: a contact sheet (PNG) and a GIF per sample of a dataset, with the
columns its generator's ``preview_columns(sample)`` chooses (else every RGB video member). The generator is
imported only when it is a registered one (``dataset.generators``); a bad dataset or shard is one line
``error: ...`` and exit code 2 (``core.cli``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datagen.core.cli import command
from datagen.core.pictures import contact_sheet, hstack, save_gif, save_png


def sample_columns(generator, sample: dict) -> list[np.ndarray]:
    """The videos to show side by side: the generator's ``preview_columns(sample)`` if it has one,
    else every (T, H, W, 3) video member."""
    columns = getattr(generator, "preview_columns", None)
    if columns is not None:
        return columns(sample)
    return [v for v in sample.values() if isinstance(v, np.ndarray) and v.ndim == 4 and v.shape[-1] == 3]


def write_previews(url: str, out: Path, limit: int = 8, fps: int | None = None) -> list[Path]:
    """A contact sheet (PNG) and a GIF per sample, for the first ``limit`` samples of a dataset."""
    from datagen.dataset.generators import generator_module
    from datagen.dataset.reader import iter_samples
    from datagen.dataset.store import SUMMARY, Store

    summary = Store(url).read_json(SUMMARY)
    if not isinstance(summary, dict):
        raise ValueError(f"{url}: {SUMMARY} is not a JSON object")
    generator = generator_module(summary.get("generator"))
    fps = fps or int(((summary.get("config") or {}).get("render") or {}).get("fps") or 12)
    out = Path(out)
    written = []
    for k, sample in enumerate(iter_samples(url, limit=limit)):
        key = sample.get("__key__", str(k))
        try:
            columns = sample_columns(generator, sample)
        except KeyError as e:
            raise ValueError(f"{url}: sample {key} has no {e} member") from None
        if not columns:
            raise ValueError(f"{url}: sample {key} has no video to show")
        written.append(save_png(out / f"{key}.png", contact_sheet(columns)))
        written.append(save_gif(out / f"{key}.gif", [hstack([c[t] for c in columns]) for t in range(len(columns[0]))], fps))
    return written


@command
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
    import sys

    sys.exit(main())
