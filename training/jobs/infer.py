"""The inference job behind ``training/infer.py``: build the model and encoders like the trainer does,
load the checkpoint, and have the task run every clip and write its outputs (a clip's folder appears
complete or not at all)."""
from __future__ import annotations

import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from training.core.checkpoint import load_weights, resolve_checkpoint
from training.core.sections import InferConfig
from training.inference.inputs import (InputError, available_bytes, load_clip, read_clips, scan_inputs,
                                       working_bytes, working_size)
from training.inference.runner import Runner, Settings
from training.tasks import load_encoders, make_task


def checkpoint_source(cfg: DictConfig) -> tuple[str | None, str]:
    """Where the weights come from and the option that named it: ``infer.checkpoint``, else
    ``trainer.init_from`` (None: ``model.pretrained`` or random)."""
    if cfg.infer.checkpoint:
        return str(cfg.infer.checkpoint), "infer.checkpoint"
    return (str(cfg.trainer.init_from) if cfg.trainer.init_from else None), "trainer.init_from"


def build_runner(cfg: DictConfig) -> tuple[Runner, dict]:
    """The model (weights from ``infer.checkpoint``, else ``trainer.init_from``, else ``model.pretrained``),
    its encoders and the sampling settings; and what was loaded, for settings.json."""
    from training.core.runtime import init_runtime

    settings = Settings.from_infer(cfg.infer)  # a bad sampler or step count fails here, before any model
    rt = init_runtime(str(cfg.trainer.device), str(cfg.trainer.dtype))
    task = make_task(cfg.model)
    vae, text = load_encoders(cfg, rt)
    torch.manual_seed(int(cfg.seed))
    model = task.build_model()
    info = {"weights": "model.pretrained" if cfg.model.pretrained else "random (no checkpoint given)"}
    source, key = checkpoint_source(cfg)
    if source:
        info = load_weights(model, source, cfg.infer.ema, key)
    model = model.to(rt.device, rt.param_dtype if rt.device.type == "cuda" else torch.float32).eval()
    dtype = next(model.parameters()).dtype
    return Runner(task, model, vae, text, settings, rt.device, dtype, cfg.data), info


def max_side(cfg: DictConfig, i: InferConfig) -> tuple[int, str]:
    """The working size's long side and where it came from: ``infer.max_side``, else the size the
    checkpoint was trained at, else data.height/width, else ``infer.default_max_side``."""
    from training.core.checkpoint import trained_size

    if i.max_side:
        return i.max_side, "infer.max_side"
    source, key = checkpoint_source(cfg)
    if source:
        size = trained_size(resolve_checkpoint(source, key))
        if size:
            return max(size), f"trained at {size[1]}x{size[0]}"
    if cfg.data.height or cfg.data.width:
        return max(int(cfg.data.height or 0), int(cfg.data.width or 0)), "data.height/width"
    return i.default_max_side, "infer.default_max_side"


def check_memory(inputs, side: int) -> None:
    """Refuse, before any model loads, a clip whose working size cannot fit in this machine's memory."""
    from training.core.clips import padded_frames

    free = available_bytes()
    for item in inputs:
        w, h = working_size(item.info.width, item.info.height, side)
        need = working_bytes(padded_frames(item.info.frames), w, h)
        if free is not None and need > free:
            raise InputError(f"{item.video}: {item.info.frames} frames at the working size {w}x{h} need about "
                             f"{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB is available: lower infer.max_side "
                             "or cut the clip")


def infer(cfg: DictConfig) -> list[Path]:
    import sys

    from tqdm import tqdm

    for key in ("infer.input", "infer.out"):
        if OmegaConf.is_missing(cfg, key) or not OmegaConf.select(cfg, key):
            raise ValueError(f"{key}= is required (e.g. python training/infer.py model=void infer.input=DIR "
                             "infer.out=OUT infer.checkpoint=RUN)")
    task = make_task(cfg.model)  # checks model.*: a bad option fails before any input is read
    i = InferConfig.from_section(cfg.infer)
    source = str(i.input)
    side, side_from = max_side(cfg, i)
    limit = i.limit
    skipped: list[str] = []
    if (Path(source) / "dataset.json").is_file() or "://" in source:
        clips = list(read_clips(source, task.reads, i.prompt, limit, side))  # our shards: small clips
        total = len(clips)
    else:  # files: found and checked now, decoded one at a time at their working size
        inputs, skipped = scan_inputs(source, task.reads, i.prompt)
        for line in skipped:
            print(f"skipped: {line}", file=sys.stderr)
        if not inputs:
            raise InputError(f"infer.input={source}: no usable clips ({len(skipped)} skipped)")
        inputs = inputs[:limit] if limit is not None else inputs
        check_memory(inputs, side)
        clips, total = (load_clip(item, side) for item in inputs), len(inputs)
    runner, loaded = build_runner(cfg)  # after the inputs: a bad path fails before any model is built
    task = runner.task
    options = task.options(cfg, runner)
    out_root = Path(str(i.out))
    out_root.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in tqdm(clips, total=total, desc=f"infer {task.name}", unit="clip", dynamic_ncols=True):
        t0 = time.perf_counter()
        result = task.run(runner, clip, options)
        work = result["source"].shape
        settings = {"model": OmegaConf.to_container(cfg.model, resolve=True), "loaded": loaded,
                    "input": source, "clip": clip.name, "prompt": clip.prompt, "frames": int(work[0]),
                    "size": list(clip.size), "working_size": [int(work[2]), int(work[1])],
                    "max_side": {"value": side, "from": side_from},
                    "seconds": round(time.perf_counter() - t0, 3),
                    "device": str(runner.device), "dtype": str(runner.dtype).replace("torch.", "")}
        fps = i.fps or float(clip.fps)
        written.append(task.write(out_root / clip.name, clip, result, settings, fps, runner, options))
    print(f"wrote {len(written)} clip(s) to {out_root}" + (f"; {len(skipped)} skipped" if skipped else ""))
    return written
