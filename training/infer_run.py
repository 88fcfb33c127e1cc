"""The inference job behind ``training/infer.py``: build the model and encoders like the trainer does,
load the checkpoint, run every clip and write its outputs (a clip's folder appears complete or not at all)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from training.inference import Runner, Settings, VoidOptions, load_weights, read_clips
from training.morphing import DEFAULT_THRESHOLD


def build_runner(cfg: DictConfig) -> tuple[Runner, dict]:
    """The model (weights from ``infer.checkpoint``, else ``trainer.init_from``, else ``model.pretrained``),
    its encoders and the sampling settings; and what was loaded, for settings.json."""
    from training.loop import load_encoders
    from training.parallel import init_runtime
    from training.tasks import make_task

    rt = init_runtime(str(cfg.trainer.device), str(cfg.trainer.dtype))
    task = make_task(cfg.model)
    vae, text = load_encoders(cfg, rt)
    torch.manual_seed(int(cfg.seed))
    model = task.build_model()
    info = {"weights": "model.pretrained" if cfg.model.get("pretrained") else "random (no checkpoint given)"}
    source = cfg.infer.checkpoint or cfg.trainer.get("init_from")
    if source:
        info = load_weights(model, str(source), cfg.infer.ema)
    model = model.to(rt.device, rt.param_dtype if rt.device.type == "cuda" else torch.float32).eval()
    i = cfg.infer
    settings = Settings(sampler=str(i.sampler), steps=int(i.steps), shift=float(i.shift), guidance=float(i.guidance),
                        negative_prompt=str(i.negative_prompt or ""), seed=int(i.seed), window=int(i.window or 0),
                        overlap=int(i.overlap), alpha_floor=int(i.get("alpha_floor", 8)))
    settings.schedule()  # a bad sampler or step count fails here, before any clip
    dtype = next(model.parameters()).dtype
    return Runner(task, model, vae, text, settings, rt.device, dtype, cfg.data), info


def void_options(cfg: DictConfig, runner: Runner) -> VoidOptions:
    v = cfg.void
    pass2_model = None
    if v.pass2_checkpoint:
        pass2_model = runner.task.build_model(pretrained=False)
        load_weights(pass2_model, str(v.pass2_checkpoint), cfg.infer.ema)
        pass2_model = pass2_model.to(runner.device, runner.dtype).eval()
    return VoidOptions(pass2=str(v.pass2), flow=str(v.flow), keep_region=bool(v.keep_region),
                       keep_dilation=int(v.keep_dilation),
                       morph_threshold=DEFAULT_THRESHOLD if v.morph_threshold is None else float(v.morph_threshold),
                       pass2_model=pass2_model)


def infer(cfg: DictConfig) -> list[Path]:
    from tqdm import tqdm

    for key in ("infer.input", "infer.out"):
        if OmegaConf.is_missing(cfg, key) or not OmegaConf.select(cfg, key):
            raise ValueError(f"{key}= is required (e.g. python training/infer.py model=void infer.input=DIR "
                             "infer.out=OUT infer.checkpoint=RUN)")
    clips = list(read_clips(str(cfg.infer.input), str(cfg.model.name), cfg.infer.prompt, cfg.infer.limit))
    runner, loaded = build_runner(cfg)  # after the inputs: a bad path fails before any model is built
    kind = str(cfg.model.name)
    opts = void_options(cfg, runner) if kind == "void" else None
    out_root = Path(str(cfg.infer.out))
    out_root.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in tqdm(clips, desc=f"infer {cfg.model.name}", unit="clip", dynamic_ncols=True):
        t0 = time.perf_counter()
        if kind == "affect":
            result = runner.affect(clip, float(cfg.model.threshold), int(cfg.model.get("dilation") or 0))
        else:
            result = runner.vera(clip) if opts is None else runner.void(clip, opts)
        settings = {"model": OmegaConf.to_container(cfg.model, resolve=True), "loaded": loaded,
                    "input": str(cfg.infer.input), "clip": clip.name,
                    "prompt": clip.prompt, "frames": int(len(result["source"])), "seconds": round(time.perf_counter() - t0, 3),
                    "device": str(runner.device), "dtype": str(runner.dtype).replace("torch.", "")}
        if kind == "affect":
            written.append(write_quadmask_clip(out_root / clip.name, clip, result, settings,
                                               float(cfg.infer.fps or clip.fps)))
            continue
        settings["sampling"] = runner.settings.__dict__
        if opts is not None:
            settings["void"] = {k: v for k, v in opts.__dict__.items() if k != "pass2_model"} | {
                "pass2_checkpoint": cfg.void.pass2_checkpoint, "morphing": result["morphing"],
                "pass2_ran": result["pass2_ran"], "flow_source": result.get("flow_source")}
        written.append(write_clip(out_root / clip.name, result, settings, float(cfg.infer.fps or clip.fps)))
    print(f"wrote {len(written)} clip(s) to {out_root}")
    return written


def write_clip(folder: Path, result: dict, settings: dict, fps: float) -> Path:
    """The clip's outputs, written into a temporary folder that is renamed into place when complete."""
    from datagen.core.pictures import contact_sheet, hstack, save_png
    from datagen.dataset.export import encode_mask_mp4, encode_rgb_lossless
    from datagen.dataset.sample_io import encode_mp4

    tmp = _temporary(folder)
    videos = {k: v for k, v in result.items() if k in ("edit", "composite", "pass1", "pass2")
              and isinstance(v, np.ndarray)}
    for name, video in videos.items():
        (tmp / f"{name}.mp4").write_bytes(encode_mp4(video, fps))
    (tmp / "result.mp4").write_bytes(encode_rgb_lossless(result["final"], fps))  # lossless: exact pixels
    if result.get("alpha") is not None:
        (tmp / "alpha.mp4").write_bytes(encode_mask_mp4(result["alpha"], fps))
    columns = [result["source"]]
    if "quadmask" in result:
        from datagen.labels.quadmask import colorize

        columns.append(colorize(result["quadmask"]))
    if result.get("alpha") is not None:
        columns.append(np.repeat(result["alpha"][..., None], 3, -1))
    columns += [videos[k] for k in ("edit", "pass1") if k in videos] + [result["final"]]
    (tmp / "preview.mp4").write_bytes(encode_mp4(np.stack([hstack([c[t] for c in columns], pad=2)
                                                            for t in range(len(columns[0]))]), fps))
    save_png(tmp / "preview.png", contact_sheet(columns))
    (tmp / "settings.json").write_text(json.dumps(settings, indent=1, default=str))
    return _publish(tmp, folder)


def write_quadmask_clip(folder: Path, clip, result: dict, settings: dict, fps: float) -> Path:
    """The affect model's output as one clip of VOID's inference layout, ready for ``model=void``:
    ``input_video.mp4`` (the input file's bytes, or a lossless encode of our shards' frames),
    ``quadmask_0.mp4`` (lossless, decodes to exactly 0/63/127/255; checked), ``prompt.json`` when the clip
    has a prompt, ``change_probability.mp4``, ``preview.mp4/png`` and ``settings.json``."""
    from datagen.core.pictures import contact_sheet, hstack, save_png
    from datagen.dataset.export import encode_mask_mp4, encode_rgb_lossless, read_mask_mp4
    from datagen.dataset.sample_io import SampleError, encode_mp4
    from datagen.labels.quadmask import check_quadmask, colorize
    from training.inference import VOID_LAYOUT

    video, mask = result["source"], result["quadmask"]
    problems = check_quadmask(mask)
    if problems:
        raise ValueError(f"{clip.name}: the predicted quadmask is invalid: {problems[0]}")
    tmp = _temporary(folder)
    source = clip.path.read_bytes() if clip.path is not None else encode_rgb_lossless(video, fps)
    (tmp / VOID_LAYOUT[0]).write_bytes(source)
    (tmp / VOID_LAYOUT[1]).write_bytes(encode_mask_mp4(mask, fps))
    if not np.array_equal(read_mask_mp4(tmp / VOID_LAYOUT[1]), mask):
        raise SampleError(f"{clip.name}: {VOID_LAYOUT[1]} does not decode to the predicted quadmask")
    if clip.prompt:
        (tmp / "prompt.json").write_text(json.dumps({"bg": clip.prompt}) + "\n")
    heat = np.round(result["probability"] * 255).astype(np.uint8)
    (tmp / "change_probability.mp4").write_bytes(encode_mp4(np.repeat(heat[..., None], 3, -1), fps))
    columns = [video, colorize(mask), np.repeat(heat[..., None], 3, -1)]
    (tmp / "preview.mp4").write_bytes(encode_mp4(np.stack([hstack([c[t] for c in columns], pad=2)
                                                            for t in range(len(video))]), fps))
    save_png(tmp / "preview.png", contact_sheet(columns))
    counts = {str(v): int((mask == v).sum()) for v in (0, 63, 127, 255)}
    (tmp / "settings.json").write_text(json.dumps({**settings, "quadmask_pixels": counts}, indent=1, default=str))
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
