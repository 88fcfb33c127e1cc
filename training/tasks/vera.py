"""Vera's task: three branches (edit layer, alpha, composite) conditioned on the source video."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.core import flow_matching as fm
from training.core.clips import RAW_MEMBERS, vera_clip
from training.tasks.base import tokens, wan_config


class VeraTask:
    name = "vera"
    members = RAW_MEMBERS["vera"]
    latent_keys = ("source", "edit", "alpha", "composite", "context")

    def __init__(self, model_cfg):
        self.cfg = model_cfg
        self.branches = tuple(model_cfg.branches)
        self.weights = {b: float(model_cfg.loss_weights[b]) for b in self.branches}

    def build_model(self, pretrained: bool = True) -> nn.Module:
        """The model, with ``model.pretrained`` loaded unless ``pretrained=False`` (a meta-device
        skeleton whose weights come from elsewhere)."""
        from training.models.vera_mot import VeraMoT
        from training.models.wan_checkpoint import read_config, wan_from_pretrained

        cfg = wan_config(self.cfg)
        model = VeraMoT(cfg, branches=self.branches)
        if pretrained and self.cfg.get("pretrained"):
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

    def seq_len(self, lat: dict) -> int:
        """Tokens of one sample of one branch (what ``flops_per_token`` takes)."""
        return tokens(lat["source"]) // lat["source"].shape[0]
