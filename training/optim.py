"""AdamW, linear warmup + cosine decay, and an optional EMA of the trained weights."""
from __future__ import annotations

import math

import torch
from torch import nn


def build_optimizer(model: nn.Module, cfg) -> torch.optim.AdamW:
    """AdamW over trainable parameters; no weight decay on biases and norms (1-D) or the timestep
    modulation tables (``*modulation``, (1, k, dim)): they are offsets, not projections."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 and not name.endswith("modulation") else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": float(cfg.weight_decay)},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=float(cfg.lr), betas=tuple(cfg.betas), eps=float(cfg.eps),
                             foreach=True)


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Multiplier of the base LR after ``step`` optimiser steps: linear warmup, then cosine to min_ratio."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer, cfg, max_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup, ratio = int(cfg.warmup_steps), float(cfg.min_lr_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, warmup, max_steps, ratio))


class EMA:
    """Exponential moving average of the parameters, kept in the parameters' own (possibly sharded)
    layout so it costs one extra copy per rank and checkpoints through DCP like the model."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = float(decay)
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        params = dict(model.named_parameters())
        torch._foreach_lerp_([self.shadow[n] for n in self.names], [params[n].detach() for n in self.names],
                             1.0 - self.decay)

    def state_dict(self) -> dict:
        return {_clean(n): t for n, t in self.shadow.items()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for n in self.names:
                self.shadow[n].copy_(state[_clean(n)])


def _clean(name: str) -> str:
    """Parameter names without wrapper prefixes, so EMA checkpoints match across AC/FSDP settings."""
    return name.replace("_checkpoint_wrapped_module.", "").replace("_orig_mod.", "")
