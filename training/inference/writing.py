"""Writing a clip's outputs at the input's own size and frame count, frame by frame, into a folder that
appears complete or not at all: the delivered video with the exactness rule (Vera: the source pixel wherever
alpha is 0; VOID: the keep region from the full-resolution input), the affect model's quadmask in VOID's
inference layout, previews at the working size and ``settings.json``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from training.inference.inputs import VOID_LAYOUT, resize_frame
from training.inference.runner import composite_exact, keep_region


def _scale(clip, work_w: int) -> float:
    return (clip.size[0] if clip is not None else work_w) / work_w


def write_clip(folder: Path, result: dict, settings: dict, fps: float, clip=None, alpha_floor: int = 0,
               keep_dilation: int | None = None) -> Path:
    return _atomically(folder, _write_clip, result, settings, fps, clip, alpha_floor, keep_dilation)


def _write_clip(tmp: Path, folder: Path, result: dict, settings: dict, fps: float, clip, alpha_floor: int,
                keep_dilation: int | None) -> None:
    """The clip's outputs at the input's own size and frame count, written frame by frame into a temporary
    folder that is renamed into place when complete. ``result.mp4`` (lossless) is exact where it must be:
    Vera's source pixels wherever the (upsampled) alpha is 0, VOID's keep region (with ``keep_dilation``)
    from the full-resolution input; edits and alpha are upsampled from the working size."""
    import contextlib

    from datagen.dataset.media import FrameWriter

    n, h, w = result["source"].shape[:3]
    size = clip.size if clip is not None else (w, h)
    videos = [k for k in ("edit", "composite", "pass1", "pass2") if isinstance(result.get(k), np.ndarray)]
    alpha = result.get("alpha")
    vera = alpha is not None and "edit" in videos
    dilation = None if keep_dilation is None else int(np.ceil(keep_dilation * _scale(clip, w)))
    with contextlib.ExitStack() as stack:
        out = {k: stack.enter_context(FrameWriter(tmp / f"{k}.mp4", *size, fps)) for k in videos}
        out["result"] = stack.enter_context(FrameWriter(tmp / "result.mp4", *size, fps, lossless=True))
        if alpha is not None:
            out["alpha"] = stack.enter_context(FrameWriter(tmp / "alpha.mp4", *size, fps, lossless=True))
        sources = clip.source_frames() if clip is not None else iter(result["source"])
        masks = clip.mask_frames() if clip is not None and dilation is not None else None
        i = -1
        for i, src in enumerate(sources):
            if i >= n:
                raise ValueError(f"{folder.name}: the input has more frames than the {n} that were run")
            up = {k: resize_frame(result[k][i], size) for k in videos}
            for k in videos:
                out[k].write(up[k])
            if vera:
                a = resize_frame(alpha[i], size)
                a[a < alpha_floor] = 0  # as at the working size: an empty layer is exactly empty
                out["alpha"].write(a)
                final = composite_exact(src[None], up["edit"][None], a[None])[0]
            else:
                final = resize_frame(result["final"][i], size)
                if masks is not None:
                    final = keep_region(final[None], src[None], next(masks)[None], dilation)[0]
            out["result"].write(final)
        if i + 1 != n:
            raise ValueError(f"{folder.name}: the input gave {i + 1} frames, {n} were run")
    columns = [result["source"]]  # the preview stays at the working size: it is for looking at
    if "quadmask" in result:
        from datagen.labels.quadmask import colorize

        columns.append(colorize(result["quadmask"]))
    if alpha is not None:
        columns.append(np.repeat(alpha[..., None], 3, -1))
    columns += [result[k] for k in ("edit", "pass1") if k in videos]
    if result.get("final") is not None:
        columns.append(result["final"])
    _write_preview(tmp, columns, fps)
    (tmp / "settings.json").write_text(json.dumps(settings, indent=1, default=str))


def write_quadmask_clip(folder: Path, clip, result: dict, settings: dict, fps: float, threshold: float = 0.5,
                        dilation: int = 0) -> Path:
    return _atomically(folder, _write_quadmask_clip, clip, result, settings, fps, threshold, dilation)


def _write_quadmask_clip(tmp: Path, folder: Path, clip, result: dict, settings: dict, fps: float, threshold: float,
                         dilation: int) -> None:
    """The affect model's output as one clip of VOID's inference layout, ready for ``model=void``, at the
    input's own size: ``input_video.mp4`` (the input file's bytes, or a lossless encode of our shards'
    frames), ``quadmask_0.mp4`` (lossless: its 0/63 pixels are the full-resolution object mask, its 127
    the upsampled change probability above ``threshold`` grown by ``dilation`` working-size pixels; frame 0
    has no 127; read back and checked frame by frame), ``prompt.json`` when the clip has a prompt,
    ``change_probability.mp4``, ``preview.mp4/png`` (working size) and ``settings.json``."""
    import contextlib
    import hashlib

    from datagen.dataset.media import FrameWriter, read_mask_frames
    from datagen.dataset.sample_io import SampleError
    from datagen.labels.quadmask import AFFECTED, KEEP, OBJECT, OVERLAP, colorize, dilate, quadmask, removed_region

    n, h, w = result["source"].shape[:3]
    size = clip.size
    grow = int(np.ceil(dilation * _scale(clip, w))) if dilation else 0
    digests, counts = [], {str(v): 0 for v in (OBJECT, OVERLAP, AFFECTED, KEEP)}
    with contextlib.ExitStack() as stack:
        if clip.path is not None:
            shutil.copyfile(clip.path, tmp / VOID_LAYOUT[0])
        else:
            video_out = stack.enter_context(FrameWriter(tmp / VOID_LAYOUT[0], *size, fps, lossless=True))
            for frame in clip.source_frames():
                video_out.write(frame)
        mask_out = stack.enter_context(FrameWriter(tmp / VOID_LAYOUT[1], *size, fps, lossless=True))
        heat_out = stack.enter_context(FrameWriter(tmp / "change_probability.mp4", *size, fps))
        i = -1
        for i, given in enumerate(clip.mask_frames()):
            if i >= n:
                break
            prob = resize_frame(result["probability"][i].astype(np.float32), size)
            changed = dilate(prob > float(threshold), grow) if i > 0 else np.zeros(prob.shape, bool)
            q = quadmask(removed_region(given)[None], changed[None], clear_first_frame=False)[0]
            for v in (OBJECT, OVERLAP, AFFECTED, KEEP):
                counts[str(v)] += int((q == v).sum())
            digests.append(hashlib.sha1(q.tobytes()).hexdigest())
            mask_out.write(q)
            heat_out.write(np.round(prob * 255).clip(0, 255).astype(np.uint8))
        if i + 1 < n:
            raise ValueError(f"{clip.name}: the mask gave {i + 1} frames, {n} were run")
    for k, frame in enumerate(read_mask_frames(tmp / VOID_LAYOUT[1])):
        if k >= len(digests) or hashlib.sha1(frame.tobytes()).hexdigest() != digests[k]:
            raise SampleError(f"{clip.name}: {VOID_LAYOUT[1]} frame {k} does not decode to the predicted quadmask")
    if clip.prompt:
        (tmp / "prompt.json").write_text(json.dumps({"bg": clip.prompt}) + "\n")
    heat = np.round(result["probability"] * 255).astype(np.uint8)
    _write_preview(tmp, [result["source"], colorize(result["quadmask"]), np.repeat(heat[..., None], 3, -1)], fps)
    (tmp / "settings.json").write_text(json.dumps({**settings, "quadmask_pixels": counts}, indent=1, default=str))


def _write_preview(tmp: Path, columns: list[np.ndarray], fps: float) -> None:
    """``preview.mp4`` (the columns side by side, frame by frame) and ``preview.png`` (a contact sheet), at
    the working size: they are for looking at."""
    from datagen.core.pictures import contact_sheet, hstack, save_png
    from datagen.dataset.media import encode_mp4

    frames = np.stack([hstack([c[t] for c in columns], pad=2) for t in range(len(columns[0]))])
    (tmp / "preview.mp4").write_bytes(encode_mp4(frames, fps))
    save_png(tmp / "preview.png", contact_sheet(columns))


def _atomically(folder: Path, write, *args) -> Path:
    """Run ``write(tmp, folder, *args)`` into a temporary folder beside ``folder`` and rename it into place;
    on any error the temporary folder is removed, so a clip's folder is complete or absent."""
    tmp = _temporary(folder)
    try:
        write(tmp, folder, *args)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _publish(tmp, folder)


def _temporary(folder: Path) -> Path:
    """An empty temporary folder beside ``folder`` (``_publish`` renames it into place)."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _publish(tmp: Path, folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder
