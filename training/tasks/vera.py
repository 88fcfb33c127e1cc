"""Vera's task: three branches (edit layer, alpha, composite) conditioned on the source video; at
inference the delivered video is composited in pixel space, so untouched pixels stay the source's."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from datagen.dataset.generators import VERA
from training.core import flow_matching as fm
from training.core.clips import vera_clip
from training.inference.inputs import ClipReads
from training.tasks.base import Task, tokens, wan_config


class VeraTask(Task):
    name = "vera"
    source_generator = VERA
    members = ("input_video", "edit_rgb", "edit_alpha", "composite", "edit_instruction")
    latent_keys = ("source", "edit", "alpha", "composite", "context")
    reads = ClipReads("vera", mask="optional", prompt_required=True, prompt_member="edit_instruction",
                      truth=("edit_rgb", "edit_alpha", "composite"))
    baselines = ("identity",)
    columns = ("psnr_preserved", "ssim_preserved", "exact_preserved", "psnr_composite", "ssim_composite",
               "alpha_mae", "alpha_sad", "alpha_grad")

    def __init__(self, model_cfg):
        super().__init__(model_cfg)
        missing = [b for b in model_cfg.branches if b not in model_cfg.loss_weights]
        if missing:
            raise ValueError(f"model.loss_weights has no weight for branch {missing[0]!r}")
        self.branches = tuple(model_cfg.branches)
        self.weights = {b: float(model_cfg.loss_weights[b]) for b in self.branches}

    def build_model(self, pretrained: bool = True) -> nn.Module:
        """The model, with ``model.pretrained`` loaded unless ``pretrained=False`` (a meta-device
        skeleton whose weights come from elsewhere)."""
        from training.models.vera_mot import VeraMoT
        from training.models.wan_checkpoint import read_config, wan_from_pretrained

        cfg = wan_config(self.cfg)
        model = VeraMoT(cfg, branches=self.branches)
        if pretrained and self.cfg.pretrained:
            path = str(self.cfg.pretrained)
            base = read_config(path)
            if base != cfg:
                raise ValueError(f"model.pretrained={path}: its config differs from model.size={self.cfg.size} "
                                 f"({base} vs {cfg})")
            model.load_backbone(wan_from_pretrained(path))
        return model

    def clip(self, sample: dict, data_cfg) -> dict:
        return vera_clip(sample, data_cfg)

    @torch.no_grad()
    def encode(self, batch: dict, vae, text) -> dict:
        out = {k: vae.encode(batch[k]) for k in ("source", "edit", "alpha", "composite")}
        out["context"] = text.encode(batch["prompt"])
        return out

    def loss(self, model: nn.Module, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        b = lat["source"].shape[0]
        sigma = fm.sample_sigmas(b, generator, flow_cfg.sampling, float(flow_cfg.shift))
        noise = {k: torch.randn(lat[k].shape, generator=generator) for k in self.branches}
        x0 = {k: lat[k].to(device) for k in self.branches}
        xt = {k: fm.noisy(x0[k], noise[k].to(device), sigma.to(device)).to(dtype) for k in self.branches}
        pred = model(xt, lat["source"].to(device, dtype), (sigma * 1000).to(device, dtype),
                     lat["context"].to(device, dtype))
        parts = {k: F.mse_loss(pred[k].float(), fm.velocity(x0[k], noise[k].to(device)).float())
                 for k in self.branches}
        total = sum(self.weights[k] * parts[k] for k in self.branches) / sum(self.weights.values())
        return total, {f"loss/{k}": v.detach() for k, v in parts.items()}

    def num_tokens(self, lat: dict) -> int:
        return tokens(lat["source"]) * len(self.branches)

    # -- inference --------------------------------------------------------------------------------------
    def run(self, runner, clip, options=None) -> dict:
        return runner.vera(clip)

    def write(self, folder: Path, clip, result: dict, settings: dict, fps: float, runner, options=None) -> Path:
        from training.inference.writing import write_clip

        settings["sampling"] = runner.settings.__dict__
        return write_clip(folder, result, settings, fps, clip=clip, alpha_floor=runner.settings.alpha_floor)

    # -- evaluation -------------------------------------------------------------------------------------
    @classmethod
    def prediction(cls, result: dict):
        return result["final"], result["alpha"]

    @classmethod
    def read_prediction(cls, pred_root: Path, key: str):
        """``KEY/result.mp4`` with ``KEY/alpha.mp4`` (what ``training/infer.py`` writes), or ``KEY.mp4``
        with ``KEY.alpha.mp4``; the alpha is optional."""
        from training.evaluation.report import read_video

        for video, alpha in ((pred_root / key / "result.mp4", pred_root / key / "alpha.mp4"),
                             (pred_root / f"{key}.mp4", pred_root / f"{key}.alpha.mp4")):
            if video.is_file():
                return read_video(video), read_video(alpha)[..., 0] if alpha.is_file() else None
        return None

    @classmethod
    def candidates(cls, sample: dict, baselines: tuple[str, ...], **options) -> dict:
        rows = {"ground truth": (sample["composite"], sample["edit_alpha"]),
                "identity": (sample["input_video"], np.zeros_like(sample["edit_alpha"]))}
        return {k: v for k, v in rows.items() if k == "ground truth" or k in baselines}

    @classmethod
    def score(cls, prediction, truth: dict) -> dict:
        from training.evaluation.scores import vera_scores

        video, alpha = prediction
        return vera_scores(video, truth["input_video"], truth["composite"], truth["edit_alpha"], alpha)
