"""VOID's task: the target video conditioned on the quadmask and the input video; Gaussian noise in
pass 1, flow-warped noise in pass 2 (at inference: when pass 1 morphs)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from datagen.dataset.generators import VOID
from datagen.void.categories import CATEGORY_BITS
from training.core import flow_matching as fm
from training.core.clips import void_clip
from training.inference.inputs import ClipReads
from training.tasks.base import Task, wan_config


class VoidTask(Task):
    name = "void"
    source_generator = VOID
    members = ("input_video", "target_video", "quadmask", "caption", "target_forward_flow", "meta")
    latent_keys = ("target", "mask", "video", "flow", "context")
    reads = ClipReads("void", mask="quadmask", prompt_required=False, prompt_member="caption",
                      truth=("target_video", "effect_categories"), flow=True)
    baselines = ("identity", "inpaint")
    columns = ("psnr_whole", "ssim_whole", "psnr_keep", "ssim_keep", "psnr_removed", "ssim_removed",
               "psnr_affected", "ssim_affected", "flicker",
               *(f"{m}_effect_{c}" for c in CATEGORY_BITS for m in ("psnr", "ssim")))

    def __init__(self, model_cfg):
        super().__init__(model_cfg)
        if model_cfg.noise not in ("gaussian", "warped"):
            raise ValueError(f"model.noise must be gaussian or warped, got {model_cfg.noise!r}")

    def build_model(self, pretrained: bool = True) -> nn.Module:
        from training.models.void_inpaint import build_void_model

        return build_void_model(wan_config(self.cfg),
                                pretrained_path=(self.cfg.pretrained or None) if pretrained else None)

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

    # -- inference --------------------------------------------------------------------------------------
    def options(self, cfg, runner):
        """``void.*``: pass 2, its flow and model, the keep region, the morphing threshold."""
        from training.core.checkpoint import load_weights
        from training.inference.morphing import DEFAULT_THRESHOLD
        from training.inference.runner import VoidOptions

        v = cfg.void
        pass2_model = None
        if v.pass2_checkpoint:
            pass2_model = self.build_model(pretrained=False)
            load_weights(pass2_model, str(v.pass2_checkpoint), cfg.infer.ema)
            pass2_model = pass2_model.to(runner.device, runner.dtype).eval()
        return VoidOptions(pass2=str(v.pass2), flow=str(v.flow), keep_region=bool(v.keep_region),
                           keep_dilation=int(v.keep_dilation),
                           morph_threshold=DEFAULT_THRESHOLD if v.morph_threshold is None else float(v.morph_threshold),
                           pass2_model=pass2_model, pass2_checkpoint=v.pass2_checkpoint)

    def run(self, runner, clip, options=None) -> dict:
        """Both passes as ``options`` say; without options, pass 1 alone (what validation scores)."""
        if options is None:
            video, _ = runner.void_pass(clip)
            return {"source": clip.video, "quadmask": clip.quadmask, "final": video}
        return runner.void(clip, options)

    def write(self, folder: Path, clip, result: dict, settings: dict, fps: float, runner, options=None) -> Path:
        from training.inference.writing import write_clip

        settings["sampling"] = runner.settings.__dict__
        if options is not None:
            settings["void"] = {k: v for k, v in options.__dict__.items() if k != "pass2_model"} | {
                "morphing": result["morphing"], "pass2_ran": result["pass2_ran"],
                "flow_source": result.get("flow_source")}
        keep = options is not None and options.keep_region
        return write_clip(folder, result, settings, fps, clip=clip, alpha_floor=runner.settings.alpha_floor,
                          keep_dilation=options.keep_dilation if keep else None)

    # -- evaluation -------------------------------------------------------------------------------------
    @classmethod
    def prediction(cls, result: dict):
        return result["final"]

    @classmethod
    def read_prediction(cls, pred_root: Path, key: str):
        """``KEY/result.mp4`` (what ``training/infer.py`` writes) or ``KEY.mp4``."""
        from training.evaluation.report import first_file, read_video

        path = first_file(pred_root / key / "result.mp4", pred_root / f"{key}.mp4")
        return None if path is None else read_video(path)

    @classmethod
    def candidates(cls, sample: dict, baselines: tuple[str, ...], **options) -> dict:
        from training.evaluation.scores import inpaint_baseline

        rows = {"ground truth": sample["target_video"], "identity": sample["input_video"]}
        if "inpaint" in baselines:
            rows["inpaint"] = inpaint_baseline(sample["input_video"], sample["quadmask"])
        return {k: v for k, v in rows.items() if k == "ground truth" or k in baselines}

    @classmethod
    def score(cls, prediction, truth: dict) -> dict:
        from training.evaluation.scores import void_scores

        return void_scores(prediction, truth["target_video"], truth["quadmask"], truth.get("effect_categories"))
