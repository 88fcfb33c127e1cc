"""VOID's inference layout: one folder per clip with ``input_video.mp4``, ``quadmask_0.mp4`` and optionally
``prompt.json`` (``{"bg": "<the scene after removal>"}``), what Netflix/void-model's ``predict_v2v.py``
reads and what ``training/infer.py model=affect`` writes. ``check_void_clips`` checks such folders the way
VOID will read them (``python -m datagen.validate FOLDER`` runs it when FOLDER holds clips rather than a dataset).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable


VIDEO, QUADMASK, PROMPT = "input_video.mp4", "quadmask_0.mp4", "prompt.json"


def void_clip_folders(root: str | Path) -> list[Path]:
    """The clip folders under ``root`` (``root`` itself when it is one), in name order."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in [root, *root.iterdir()] if p.is_dir() and (p / QUADMASK).is_file())


def check_void_clip(folder: Path) -> list[str]:
    """Problems of one clip: unreadable videos, a mask that is not one grey value per pixel, values that
    VOID's snapping would move (off 0/63/127/255), 127 on frame 0, frames or sizes unlike the video's,
    a prompt.json without a "bg" string."""
    from datagen.dataset.sample_io import SampleError, decode_mp4
    from datagen.labels.quadmask import check_quadmask, snap

    errors = []
    try:
        video = decode_mp4((folder / VIDEO).read_bytes())
        rgb = decode_mp4((folder / QUADMASK).read_bytes())
    except (OSError, SampleError) as e:
        return [f"cannot read ({e})".splitlines()[0]]
    if not ((rgb[..., 0] == rgb[..., 1]) & (rgb[..., 0] == rgb[..., 2])).all():
        errors.append(f"{QUADMASK}: not grey (R, G, B differ): was it stored lossily?")
    mask = rgb[..., 0]
    moved = int((snap(mask) != mask).sum())
    if moved:
        errors.append(f"{QUADMASK}: {moved} pixels off the four levels (VOID's snapping would move them)")
    errors += [f"{QUADMASK}: {e}" for e in check_quadmask(snap(mask))]  # frame 0 (levels: checked above)
    if mask.shape != video.shape[:3]:
        errors.append(f"{QUADMASK}: {mask.shape} (frames, height, width) != {VIDEO}'s {video.shape[:3]}")
    if (folder / PROMPT).is_file():
        try:
            bg = json.loads((folder / PROMPT).read_text()).get("bg")
        except (ValueError, AttributeError):
            bg = None
        if not isinstance(bg, str):
            errors.append(f'{PROMPT}: no "bg" string')
    return errors


def check_void_clips(root: str | Path, emit: Callable[[str], None] = print) -> tuple[int, int]:
    """``(passed, failed)`` over the clip folders under ``root``; one ``emit`` line per failed clip."""
    passed = failed = 0
    for folder in void_clip_folders(root):
        errors = check_void_clip(folder)
        if errors:
            failed += 1
            emit(f"{folder}: {'; '.join(errors)}")
        else:
            passed += 1
    return passed, failed
