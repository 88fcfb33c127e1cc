"""VOID's per-clip folders, as VOID publishes and reads them: the one place that knows the layout.

A clip is a folder holding ``input_video.mp4``, its mask and, optionally, ``prompt.json``
(``{"bg": "<the scene after removal>"}``). The mask is found by the first of these naming rules that
matches (``NAMINGS``); extra files (``first_frame.jpg``, ``segmentation_info.json``) and nested folders
(``masks_output/``, whose ``sam3_masks/input_video.mp4`` is no clip) are ignored:

  ``quadmask_0.mp4``        a quadmask (VOID's README, its mask tooling, ``training/infer.py model=affect``);
  ``quadmask_*.mp4``        the first in name order: VOID's loader reads only ``mask_files[0]`` (its
                            ``predict_v2v.py`` counts the files as objects, but every run reads the first);
  ``trimask_quadmask.mp4``  a quadmask (four of the seven clips of VOID's ``sample/`` folder);
  ``mask_*.mp4``            one white-on-black mask per object, all of them, merged as VOID's loader
                            merges them: an object pixel is a value >= 240 (``OBJECT_THRESHOLD``) in any of
                            them; the merged quadmask is 0 there and 255 elsewhere (no affected region);
  ``mask*.mp4``             the first in name order: a quadmask (VOID's Kubric generator writes ``mask.mp4``).

VOID's own loader (``videox_fun/utils/utils.py`` ``get_video_mask_input``) tries ``mask_*.mp4`` first, then
``mask*.mp4``, then ``quadmask_*.mp4``, and never looks for ``trimask_quadmask.mp4``; here a quadmask wins
over per-object masks when a folder has both, and ``trimask_quadmask.mp4`` is read. VOID also dilates
per-object masks by 11 pixels at its 384x672 working size when it reads them; the merged mask here is not
dilated (it is written as ``quadmask_0.mp4``, which VOID reads without dilation).

Mask videos are read as VOID reads them: the first channel, snapped to 0/63/127/255 (``labels.quadmask.snap``).
That repairs VOID's own lossless grey encodings: its Kubric generator's ``libx264 -qp 0 -pix_fmt gray``
masks read back as 0/54/129/255. Everything here streams frame by frame (``dataset.media``): a 4K clip
costs a few frames of memory.

``scan_clips`` finds the usable clips (and why the others cannot be used) from the files' headers,
without decoding; ``iter_quadmask`` streams a clip's quadmask; ``check_clips`` decodes every frame and
checks it the way VOID will read it (``python -m datagen.validate FOLDER``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from datagen.dataset.media import MediaError, VideoInfo, probe, read_frames, read_mask_frames
from datagen.labels.quadmask import KEEP, OBJECT, SNAP_TABLE, VALUES, check_quadmask, snap

VIDEO, QUADMASK, PROMPT = "input_video.mp4", "quadmask_0.mp4", "prompt.json"
TRIMASK_QUADMASK = "trimask_quadmask.mp4"
# the naming rules, in the order they are tried; a rule's name is what ``ClipFolder.naming`` records
NAMINGS = (QUADMASK, "quadmask_*.mp4", TRIMASK_QUADMASK, "mask_*.mp4", "mask*.mp4")
MERGED = "mask_*.mp4"      # the one rule whose files are per-object masks, merged
OBJECT_THRESHOLD = 240     # VOID's read_mask_video_binary: a per-object mask value >= 240 is the object
NO_MASK = "none"           # ``naming`` of a clip without a mask (``scan_clips(need_mask=False)``)


@dataclass(frozen=True)
class ClipFolder:
    """One usable clip. ``masks`` are the mask files VOID reads, in its order (several only for
    ``mask_*.mp4``: one per object); ``naming`` is the rule that found them (``NAMINGS``, or ``"none"``);
    ``prompt`` is prompt.json's ``"bg"`` (None without a prompt.json); ``info`` is the input video's."""
    folder: Path
    video: Path
    masks: tuple[Path, ...]
    naming: str
    prompt: str | None
    info: VideoInfo

    @property
    def name(self) -> str:
        return self.folder.name


def find_masks(folder: Path) -> tuple[str, tuple[Path, ...]]:
    """``(naming, mask files)`` of a folder by the first rule of ``NAMINGS`` that matches; ``("none", ())``
    when none does."""
    files = sorted(p.name for p in folder.iterdir() if p.suffix == ".mp4" and p.is_file())
    if QUADMASK in files:
        return QUADMASK, (folder / QUADMASK,)
    rules = (("quadmask_*.mp4", lambda n: n.startswith("quadmask_"), False),
             (TRIMASK_QUADMASK, lambda n: n == TRIMASK_QUADMASK, False),
             (MERGED, lambda n: n.startswith("mask_"), True),
             ("mask*.mp4", lambda n: n.startswith("mask"), False))
    for naming, match, every in rules:
        found = [folder / n for n in files if match(n)]
        if found:
            return naming, tuple(found if every else found[:1])
    return NO_MASK, ()


def read_prompt(folder: Path) -> str | None:
    """prompt.json's ``"bg"`` string; None without a prompt.json; ValueError if it has no "bg" string."""
    path = folder / PROMPT
    if not path.is_file():
        return None
    try:
        bg = json.loads(path.read_text()).get("bg")
    except (ValueError, AttributeError):
        bg = None
    if not isinstance(bg, str):
        raise ValueError(f'{PROMPT} has no "bg" string')
    return bg


def _is_candidate(folder: Path) -> bool:
    """A folder that looks like a clip: the input video, a prompt or a mask by VOID's names (or a folder
    that cannot be listed: ``scan_folder`` says why)."""
    try:
        return (folder / VIDEO).is_file() or (folder / PROMPT).is_file() or find_masks(folder)[1] != ()
    except OSError:
        return True


def mask_mismatch(mask: Path, video: Path, info: VideoInfo) -> str | None:
    """Why the mask video ``mask`` cannot go with ``video`` (whose header is ``info``): another frame count
    or size, read from the mask's header (``MediaError`` when it cannot be read); None when it fits."""
    m = probe(mask)
    if (m.width, m.height, m.frames) == (info.width, info.height, info.frames):
        return None
    return (f"{mask.name} has {m.frames} frames of {m.width}x{m.height}, {video.name} has "
            f"{info.frames} frames of {info.width}x{info.height}")


def scan_folder(folder: Path, need_mask: bool = True) -> ClipFolder:
    """One clip folder, from its files' headers (no decoding); ValueError (one line, without the folder's
    name) saying why it cannot be used."""
    try:
        if not (folder / VIDEO).is_file():
            raise ValueError(f"no {VIDEO}")
        naming, masks = find_masks(folder)
        if need_mask and not masks:
            raise ValueError(f"no mask ({', '.join(NAMINGS)})")
        prompt = read_prompt(folder)
        info = probe(folder / VIDEO)
        for mask in masks:
            why = mask_mismatch(mask, folder / VIDEO, info)
            if why:
                raise ValueError(why)
    except (MediaError, OSError) as e:  # a file that cannot be read, named relative to its folder
        raise ValueError(str(e).replace(f"{folder}/", "").splitlines()[0]) from None
    return ClipFolder(folder, folder / VIDEO, masks, naming, prompt, info)


def scan_clips(root: str | Path, *, need_mask: bool = True) -> tuple[list[ClipFolder], list[tuple[Path, str]]]:
    """``(usable clips, [(folder, why it was skipped)])`` under ``root``: ``root`` itself when it holds
    ``input_video.mp4``, else its direct subfolders that look like clips (an input video, a prompt.json or a
    mask by VOID's names), in name order; hidden folders (a writer's ``.NAME.tmp``) are not clips. Nothing is decoded: the videos' headers are read (``media.probe``)
    and a mask whose frame count or size differs from the video's skips the clip."""
    root = Path(root)
    if not root.is_dir():
        return [], []
    if (root / VIDEO).is_file():
        folders = [root]
    else:
        folders = [p for p in sorted(root.iterdir(), key=lambda p: p.name)
                   if p.is_dir() and not p.name.startswith(".") and _is_candidate(p)]
    clips, skipped = [], []
    for folder in folders:
        try:
            clips.append(scan_folder(folder, need_mask))
        except ValueError as e:
            skipped.append((folder, str(e)))
    return clips, skipped


def _merge_objects(frames: tuple[np.ndarray, ...]) -> np.ndarray:
    """VOID's merge of per-object masks: the object wherever any mask is >= ``OBJECT_THRESHOLD``."""
    removed = np.zeros(frames[0].shape, bool)
    for frame in frames:
        removed |= frame >= OBJECT_THRESHOLD
    return np.where(removed, np.uint8(OBJECT), np.uint8(KEEP))


def iter_quadmask(clip: ClipFolder, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The clip's quadmask, one uint8 (H, W) frame at a time, as VOID reads it: snapped to 0/63/127/255,
    per-object masks (``mask_*.mp4``) merged; ``size=(width, height)`` resizes by nearest neighbour."""
    if not clip.masks:
        raise ValueError(f"{clip.folder}: no mask ({', '.join(NAMINGS)})")
    if clip.naming != MERGED:
        for frame in read_mask_frames(clip.masks[0], size, info=clip.info):
            yield snap(frame)
        return
    readers = [read_mask_frames(m, size, info=clip.info) for m in clip.masks]
    try:
        for frames in zip(*readers, strict=True):
            yield _merge_objects(frames)
    except ValueError as e:  # zip(strict=True): the files' frame counts differ
        if isinstance(e, MediaError):
            raise
        raise MediaError(f"{clip.folder}: the per-object masks have different frame counts") from None
    finally:
        for reader in readers:
            reader.close()


def _check_mask_file(path: Path, info: VideoInfo, quadmask: bool) -> list[str]:
    """Decode one mask file frame by frame: not grey, frames unlike its header, and for a quadmask values
    VOID's snapping would move (``level_problems``) and 127/63 on frame 0."""
    errors, hist, frames, grey, first = [], np.zeros(256, np.int64), 0, True, None
    for frame in read_frames(path, info=info):
        grey = grey and bool((frame[..., 0] == frame[..., 1]).all() and (frame[..., 0] == frame[..., 2]).all())
        hist += np.bincount(frame[..., 0].ravel(), minlength=256)
        first = frame[..., 0].copy() if first is None else first
        frames += 1
    if not grey:
        errors.append(f"{path.name}: not grey (R, G, B differ): was it stored lossily?")
    if frames != info.frames:
        errors.append(f"{path.name}: {frames} frames decoded, the header says {info.frames}")
    if quadmask:
        errors += [f"{path.name}: {e}" for e in level_problems(hist) + check_quadmask(snap(first)[None])]
    return errors


def level_problems(hist: np.ndarray) -> list[str]:
    """Values VOID's snapping would move, from a mask's histogram of values (256,). A lossless encoding
    that stores each level as one other value (VOID's grey H.264 masks: 63 -> 54, 127 -> 129) snaps back
    exactly and passes; several values snapping to one level mean the mask was stored lossily."""
    used = np.nonzero(hist)[0]
    if all(len([v for v in used if SNAP_TABLE[v] == level]) <= 1 for level in VALUES):
        return []
    moved = int(hist[[v for v in used if v not in VALUES]].sum())
    return [f"{moved} pixels off the four levels (VOID's snapping would move them): stored lossily?"]


def check_void_clip(clip: ClipFolder) -> list[str]:
    """Problems of one usable clip, every frame decoded once and streamed: undecodable videos, a mask that
    is not one grey value per pixel or was stored lossily (values VOID's snapping would move), 127/63 on
    frame 0 (VOID's tooling clears the affected region there)."""
    errors = []
    try:
        frames = sum(1 for _ in read_frames(clip.video, info=clip.info))
        if frames != clip.info.frames:
            errors.append(f"{VIDEO}: {frames} frames decoded, the header says {clip.info.frames}")
        for mask in clip.masks:
            errors += _check_mask_file(mask, clip.info, quadmask=clip.naming != MERGED)
    except MediaError as e:
        errors.append(f"cannot read ({e})".splitlines()[0])
    return errors


def check_clips(root: str | Path, emit: Callable[[str], None] = print,
                skip: Callable[[str], None] | None = None, scanned: tuple | None = None) -> tuple[int, int, int]:
    """``(passed, failed, skipped)`` over the clips under ``root`` (``scan_clips``, or its result given as
    ``scanned``): one ``emit`` line per failed clip, one ``skip`` line (default: ``emit``) per clip that
    cannot be used."""
    clips, skipped = scanned if scanned is not None else scan_clips(root)
    for folder, why in skipped:
        (skip or emit)(f"{folder}: skipped: {why}")
    passed = failed = 0
    for clip in clips:
        errors = check_void_clip(clip)
        if errors:
            failed += 1
            emit(f"{clip.folder}: {'; '.join(errors)}")
        else:
            passed += 1
    return passed, failed, len(skipped)


def check_void_clips(root: str | Path, emit: Callable[[str], None] = print) -> tuple[int, int]:
    """``(passed, failed)`` over the clips under ``root``, a clip that cannot be used counted as failed:
    for a folder whose every clip must pass (what ``training/infer.py model=affect`` wrote)."""
    passed, failed, skipped = check_clips(root, emit)
    return passed, failed + skipped
