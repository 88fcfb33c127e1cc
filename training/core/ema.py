"""An exponential moving average of the trained weights, in the layout checkpoints store it (the trainer
updates and saves it; inference loads it)."""
from __future__ import annotations

import torch
from torch import nn


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
