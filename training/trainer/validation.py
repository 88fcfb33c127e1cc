"""Validation during training: every ``trainer.validate_every`` steps, sample ``trainer.validate.clips``
held-out clips with the inference sampler (the affect model: predict their quadmasks; IoU, precision and
recall of the affected region), score them against their ground truth (``training/evaluation/scores.py``)
and log it: ``OUT/validation.jsonl`` (one line per validation), TensorBoard scalars ``val/<score>`` and a
frame strip per clip, and the sampled videos as ``OUT/validation/step-XXXXXXX/<key>.mp4``.

Every rank runs the same clips in lockstep (FSDP needs all ranks in every forward); rank 0 writes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from training.evaluation.report import truth_like
from training.inference.inputs import read_clips
from training.inference.runner import Runner, Settings


class Validator:
    def __init__(self, run, task, rt, encoders, out: Path):
        """``run``: the typed sections of the training config (``training.core.sections.train_sections``)."""
        v = run.trainer.validate
        path = str(v.path or run.data.path)
        self.clips = list(read_clips(path, task.reads, limit=v.clips))
        if not self.clips:
            raise ValueError(f"trainer.validate.path={path}: no clips")
        if any(not c.truth for c in self.clips):
            raise ValueError(f"trainer.validate.path={path}: validation needs clips with ground truth (our shards)")
        self.data, self.task, self.rt, self.out = run.data, task, rt, Path(out)
        self.vae, self.text = encoders
        self.settings = Settings.defaults(sampler=v.sampler, steps=v.steps, shift=v.shift, guidance=v.guidance,
                                          seed=v.seed, negative_prompt="")
        self.fps = v.fps

    @torch.no_grad()
    def run(self, model, step: int, metrics) -> dict:
        was_training = model.training
        model.eval()
        dtype = next(model.parameters()).dtype
        runner = Runner(self.task, model, self.vae, self.text, self.settings, self.rt.device, dtype, self.data)
        rows, videos = [], {}
        for clip in self.clips:  # results are at the clip's size: scored against the stored truth as it is
            result = self.task.run(runner, clip)
            prediction = self.task.prediction(result)
            members = {"input_video": clip.video, "quadmask": clip.quadmask, **clip.truth}
            rows.append(self.task.score(prediction, truth_like(members, prediction, self.task)))
            videos[clip.name] = self.task.preview(result)
        scores = self.task.summarise(rows)
        means = {f"val/{k}": v for k, v in scores.items() if v is not None}
        if self.rt.is_main:
            self._write(step, means, videos, metrics)
        if was_training:
            model.train()
        return means

    def _write(self, step: int, means: dict, videos: dict, metrics) -> None:
        from datagen.core.pictures import frame_grid
        from datagen.dataset.media import encode_mp4

        folder = self.out / "validation" / f"step-{step:07d}"
        folder.mkdir(parents=True, exist_ok=True)
        for key, video in videos.items():
            (folder / f"{key}.mp4").write_bytes(encode_mp4(video, self.fps))
        line = {"step": step, **{k: ("inf" if isinstance(v, float) and np.isinf(v) else v) for k, v in means.items()}}
        with open(self.out / "validation.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        tb = getattr(metrics, "tb", None)
        if tb is not None:
            for k, v in means.items():
                if np.isfinite(v):
                    tb.add_scalar(k, v, step)
            for key, video in videos.items():
                tb.add_image(f"val/{key}", frame_grid(video, cols=4, max_frames=4), step, dataformats="HWC")
            tb.flush()
