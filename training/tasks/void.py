"""VOID's task: the target video conditioned on the quadmask and the input video; Gaussian noise in
pass 1, flow-warped noise in pass 2."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.core import flow_matching as fm
from training.core.clips import RAW_MEMBERS, void_clip
from training.tasks.base import tokens, wan_config


class VoidTask:
    name = "void"
    members = RAW_MEMBERS["void"]
    latent_keys = ("target", "mask", "video", "flow", "context")

    def __init__(self, model_cfg):
        self.cfg = model_cfg
        if model_cfg.noise not in ("gaussian", "warped"):
            raise ValueError(f"model.noise must be gaussian or warped, got {model_cfg.noise!r}")

    def build_model(self, pretrained: bool = True) -> nn.Module:
        from training.models.void_inpaint import build_void_model

        return build_void_model(wan_config(self.cfg),
                                pretrained_path=(self.cfg.get("pretrained") or None) if pretrained else None)

    def clip(self, sample: dict, data_cfg) -> dict:
        return void_clip(sample, data_cfg, keep_overlap=bool(self.cfg.keep_overlap))

    @torch.no_grad()
    def encode(self, batch: dict, vae, text) -> dict:
        from training.core.noise_warp import latent_flow

        out = {"target": vae.encode(batch["target"]), "mask": vae.encode(batch["mask"]),
               "video": vae.encode(batch["video"])}
        hw = tuple(batch["video"].shape[-2:])
        lhw = tuple(out["target"].shape[-2:])
        out["flow"] = torch.stack([latent_flow(f, hw, lhw) for f in batch["flow"]]).float()
        out["context"] = text.encode(batch["prompt"])
        return out

    def noise(self, lat: dict, generator: torch.Generator) -> torch.Tensor:
        """Pass 1: fresh Gaussian noise. Pass 2: noise carried along the target's forward flow and
        blended with fresh noise by gamma ~ U[0, max_degradation] (variance preserving)."""
        shape = lat["target"].shape
        if self.cfg.noise == "gaussian":
            return torch.randn(shape, generator=generator)
        from training.core.noise_warp import degrade, sample_gamma, warp_noise

        out = []
        for flow in lat["flow"]:
            warped = warp_noise(flow.cpu(), shape[1], generator)
            out.append(degrade(warped, sample_gamma(generator, float(self.cfg.max_degradation)), generator))
        return torch.stack(out)

    def loss(self, model: nn.Module, lat: dict, generator: torch.Generator, flow_cfg, device, dtype):
        b = lat["target"].shape[0]
        sigma = fm.sample_sigmas(b, generator, flow_cfg.sampling, float(flow_cfg.shift))
        noise = self.noise(lat, generator).to(device)
        x0 = lat["target"].to(device)
        xt = fm.noisy(x0, noise, sigma.to(device))
        inp = torch.cat([xt, lat["mask"].to(device), lat["video"].to(device)], dim=1).to(dtype)
        pred = model(inp, (sigma * 1000).to(device, dtype), lat["context"].to(device, dtype))
        loss = F.mse_loss(pred.float(), fm.velocity(x0, noise).float())
        return loss, {"loss/target": loss.detach()}

    def num_tokens(self, lat: dict) -> int:
        return tokens(lat["target"])

    def seq_len(self, lat: dict) -> int:
        return tokens(lat["target"]) // lat["target"].shape[0]
