"""Rectified-flow training targets as in Wan2.1: x_t = (1 - s) x0 + s eps, the model predicts
eps - x0 at timestep 1000 s, with noise levels s drawn uniformly or logit-normally and shifted
towards noise (s' = shift s / (1 + (shift - 1) s)), which matters more at high resolution."""
from __future__ import annotations

import torch


def sample_sigmas(batch: int, generator: torch.Generator, sampling: str = "logit_normal",
                  shift: float = 1.0) -> torch.Tensor:
    """Noise levels in (0, 1), shape (batch,), float32 on CPU."""
    if sampling == "uniform":
        s = torch.rand(batch, generator=generator)
    elif sampling == "logit_normal":
        s = torch.sigmoid(torch.randn(batch, generator=generator))
    else:
        raise ValueError(f"flow.sampling must be uniform or logit_normal, got {sampling!r}")
    s = s.clamp(1e-4, 1 - 1e-4)
    return shift * s / (1 + (shift - 1) * s)


def noisy(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    s = sigma.view(-1, *([1] * (x0.ndim - 1))).to(x0)
    return (1 - s) * x0 + s * noise


def velocity(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The regression target."""
    return noise - x0


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """A generator owned by one (rank, step): noise does not depend on what ran before, so a resumed
    run draws exactly the noise the uninterrupted run drew."""
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + rank) * 10_000_019 + step)
    return g
