"""Training samples from the generators' shards (or from ``training/precompute.py``'s latent shards):
which datasets feed which model, and how stored clips become model-sized tensors.

The stream itself — shard order per epoch, the rank split, exact resume — is the dataset package's one
reader, ``datagen.dataset.reader.SampleStream``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from datagen.dataset.reader import DataError, SampleStream  # noqa: F401  (the one reader; re-exported)
from datagen.dataset.store import SUMMARY, Store
from datagen.labels import quadmask as qm

LATENT_GENERATOR = "latents"  # dataset.json "generator" of precomputed latent shards


def dataset_kind(url: str) -> dict:
    """``dataset.json`` of a dataset (raises a one-line DataError when the path holds no dataset)."""
    store = Store(url)
    try:
        summary = store.read_json(SUMMARY)
    except FileNotFoundError:
        raise DataError(f"data.path={url}: no {SUMMARY} (not a counterfactory dataset)") from None
    return summary


def check_dataset(url: str, task) -> bool:
    """Whether ``url`` holds precomputed latents (else raw clips); errors when it cannot feed ``task`` (its
    ``name`` and ``source_generator``)."""
    model = task.name
    summary = dataset_kind(url)
    generator = (summary.get("config") or {}).get("generator") or summary.get("generator")
    if generator == LATENT_GENERATOR:
        if summary.get("model") != model:
            raise DataError(f"data.path={url}: latents were precomputed for model={summary.get('model')}, not {model}")
        return True
    wanted = task.source_generator
    if generator != wanted:
        raise DataError(f"data.path={url}: a {generator} dataset cannot train model={model} (needs {wanted})")
    return False


# ------------------------------------------------------------------------------------------- clips

def padded_frames(frames: int) -> int:
    """The Wan VAE's length for a clip of ``frames`` frames run whole: the next 4k+1 (inference repeats the
    last frame up to it and cuts the outputs back)."""
    return (frames - 1 + 3) // 4 * 4 + 1


def clip_frames(available: int, wanted: int | None) -> int:
    """Frames to train on: ``wanted`` (must be 4k+1 and available) or the most 4k+1 frames available."""
    if wanted is None:
        if available < 1:
            raise DataError("a clip has no frames")
        return (available - 1) // 4 * 4 + 1
    if wanted < 1 or (wanted - 1) % 4:
        raise DataError(f"data.frames={wanted}: the Wan VAE needs 4k+1 frames (e.g. 49, 81)")
    if wanted > available:
        raise DataError(f"data.frames={wanted}: the clips have only {available} frames")
    return wanted


@dataclass(frozen=True)
class Fit:
    """How stored clips become model-sized ones: a centred crop to multiples of 16 (no resampling, so
    masks stay exact) when data.height/width are unset, else a resize to them."""
    top: int
    left: int
    crop_hw: tuple[int, int]
    out_hw: tuple[int, int]

    @property
    def resized(self) -> bool:
        return self.crop_hw != self.out_hw


def plan_fit(h: int, w: int, height: int | None, width: int | None) -> Fit:
    if height or width:
        th, tw = height or h, width or w
        if th % 16 or tw % 16:
            raise DataError(f"data.height={th}, data.width={tw}: must be multiples of 16 (VAE 8x, patch 2x)")
        return Fit(0, 0, (h, w), (th, tw))
    ch, cw = h // 16 * 16, w // 16 * 16
    if not ch or not cw:
        raise DataError(f"clips of {w}x{h} px are smaller than 16 px; set data.width/data.height to resize")
    return Fit((h - ch) // 2, (w - cw) // 2, (ch, cw), (ch, cw))


def _fit(x: torch.Tensor, fit: Fit, mode: str) -> torch.Tensor:
    """(C, T, H, W) -> cropped and, if planned, resized."""
    x = x[..., fit.top:fit.top + fit.crop_hw[0], fit.left:fit.left + fit.crop_hw[1]]
    if fit.resized:
        extra = dict(antialias=True, align_corners=False) if mode == "bilinear" else {}
        x = F.interpolate(x.permute(1, 0, 2, 3), size=fit.out_hw, mode=mode, **extra).permute(1, 0, 2, 3)
    return x.contiguous()


def video_tensor(video: np.ndarray, frames: int, fit: Fit) -> torch.Tensor:
    """uint8 (T,H,W,C) -> float (C, frames, H', W') in [-1, 1]; C=1 masks stay one channel."""
    if video.ndim == 3:
        video = video[..., None]
    x = torch.from_numpy(np.ascontiguousarray(video[:frames])).permute(3, 0, 1, 2).float() / 127.5 - 1.0
    return _fit(x, fit, "bilinear").clamp(-1, 1)


def flow_tensor(flow: np.ndarray, frames: int, video_hw: tuple[int, int], fit: Fit) -> torch.Tensor:
    """Forward flow (T, H/f, W/f, 2) in full-resolution pixels -> the fitted clip's pixels. A crop
    needs the flow at full resolution (bilinear) to cut the same pixels; a plain resize only rescales."""
    x = torch.from_numpy(np.ascontiguousarray(flow[:frames]).astype(np.float32)).permute(3, 0, 1, 2)
    if fit.crop_hw != video_hw:
        x = F.interpolate(x.permute(1, 0, 2, 3), size=video_hw, mode="bilinear", align_corners=False)
        x = x.permute(1, 0, 2, 3)[..., fit.top:fit.top + fit.crop_hw[0], fit.left:fit.left + fit.crop_hw[1]]
    scale = torch.tensor([fit.out_hw[0] / fit.crop_hw[0], fit.out_hw[1] / fit.crop_hw[1]]).view(2, 1, 1, 1)
    return (x * scale).permute(1, 2, 3, 0).contiguous()


def quadmask_to_condition(mask: torch.Tensor, keep_overlap: bool = False, channels: int | None = None) -> torch.Tensor:
    """uint8 quadmask (..., H, W) -> float conditioning in [0, 1]; ``channels`` adds a trailing repeat
    axis (3 for the VAE)."""
    cond = torch.from_numpy(qm.conditioning_table(keep_overlap))[mask.long()]
    if channels:
        cond = cond.unsqueeze(-1).expand(*cond.shape, channels)
    return cond


def vera_clip(sample: dict, data_cfg) -> dict:
    """A Vera sample as model-ready pixel tensors (alpha as a 3-channel image for the VAE)."""
    t = clip_frames(sample["input_video"].shape[0], data_cfg.frames)
    fit = plan_fit(*sample["input_video"].shape[1:3], data_cfg.height, data_cfg.width)
    return {"source": video_tensor(sample["input_video"], t, fit),
            "edit": video_tensor(sample["edit_rgb"], t, fit),
            "alpha": video_tensor(sample["edit_alpha"], t, fit).expand(3, -1, -1, -1).contiguous(),
            "composite": video_tensor(sample["composite"], t, fit),
            "prompt": sample["edit_instruction"]}


def void_clip(sample: dict, data_cfg, keep_overlap: bool) -> dict:
    """A VOID pair as pixel tensors: quadmask -> conditioning values (REFERENCE §1) as a 3-channel
    image in [-1, 1]; the target's forward flow stays in pixels for the warped-noise pass."""
    t = clip_frames(sample["input_video"].shape[0], data_cfg.frames)
    hw = tuple(sample["input_video"].shape[1:3])
    fit = plan_fit(*hw, data_cfg.height, data_cfg.width)
    cond = quadmask_to_condition(torch.from_numpy(np.ascontiguousarray(sample["quadmask"][:t])),
                                 keep_overlap=keep_overlap)  # (t, H, W) in [0, 1]
    mask = _fit(cond.float().unsqueeze(0) * 2 - 1, fit, "nearest")
    return {"video": video_tensor(sample["input_video"], t, fit),
            "target": video_tensor(sample["target_video"], t, fit),
            "mask": mask.expand(3, -1, -1, -1).contiguous(),
            "flow": flow_tensor(sample["target_forward_flow"], t, hw, fit),  # (t, h', w', 2), (d_row, d_col)
            "prompt": sample["caption"]}


def affect_clip(sample: dict, data_cfg) -> dict:
    """A VOID pair as the affect predictor sees it: the input video, the removed object's mask (quadmask 0
    and 63) and the target, every pixel that changes without the object (63 and 127), as 0/1 floats."""
    from datagen.labels.quadmask import changed_region, removed_region

    t = clip_frames(sample["input_video"].shape[0], data_cfg.frames)
    fit = plan_fit(*sample["input_video"].shape[1:3], data_cfg.height, data_cfg.width)
    q = sample["quadmask"][:t]
    obj = torch.from_numpy(removed_region(q)).float().unsqueeze(0)
    changed = torch.from_numpy(changed_region(q)).float().unsqueeze(0)
    return {"video": video_tensor(sample["input_video"], t, fit),
            "object": _fit(obj, fit, "nearest")[0], "changed": _fit(changed, fit, "nearest")[0]}


def collate(items: list[dict]) -> dict:
    """Stack tensors, keep strings as lists; clips in a batch must share their size."""
    out = {}
    for key in items[0]:
        values = [it[key] for it in items]
        if isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise DataError(f"{key}: clips of different sizes {sorted(shapes)} in one batch; "
                                f"set data.frames/data.height/data.width")
            out[key] = torch.stack(values)
        else:
            out[key] = values
    return out
