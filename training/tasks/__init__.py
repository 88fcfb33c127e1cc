"""What each model trains on and how its loss is computed: ``VeraTask`` (three branches: edit layer,
alpha, composite, conditioned on the source video), ``VoidTask`` (target video conditioned on the
quadmask and the input video; Gaussian noise in pass 1, flow-warped noise in pass 2) and ``AffectTask``
(every pixel that changes when the object is removed, from the input video and the object's mask).

A task turns a batch of pixel clips into latents (``encode``; also what ``training/precompute.py``
stores) and latents into a loss (``loss``). Latent dicts hold float32 tensors with a batch dimension.
"""
from __future__ import annotations

from omegaconf import DictConfig

from training.core.encoders import load_text_encoder, load_vae
from training.core.runtime import Runtime, resolve_dtype
from training.tasks.affect import AffectTask
from training.tasks.base import wan_config
from training.tasks.vera import VeraTask
from training.tasks.void import VoidTask


TASKS = {"vera": VeraTask, "void": VoidTask, "affect": AffectTask}


def make_task(model_cfg):
    if model_cfg.name not in TASKS:
        raise ValueError(f"model={model_cfg.name}: unknown (choose one of {sorted(TASKS)})")
    return TASKS[model_cfg.name](model_cfg)


def load_encoders(cfg: DictConfig, rt: Runtime):
    """The frozen VAE and text encoder of ``cfg`` (local paths; tiny random ones for model.size=tiny);
    no text encoder (None) for a model without prompts (``model=affect``)."""
    size = str(cfg.model.size)
    vae = load_vae(cfg.vae, size, rt.device, resolve_dtype(cfg.vae.dtype, rt.device))
    if not getattr(TASKS.get(str(cfg.model.name)), "uses_text", True):
        return vae, None
    text = load_text_encoder(cfg.text, size, wan_config(cfg.model).text_dim, rt.device,
                             resolve_dtype(cfg.text.dtype, rt.device))
    return vae, text
