"""Sampling a flow-matching video model: Wan's noise schedules with their shift, a flow-matching Euler
solver and UniPC (order 2, flow prediction), classifier-free guidance, and temporal windows for clips
longer than the model's window. Everything is seeded and deterministic.

The model predicts the velocity v = eps - x0 at timestep 1000 s of x_s = (1 - s) x0 + s eps (the
trainers' objective, ``flow_matching.py``). The schedules reproduce diffusers' schedulers exactly (the
values are equal, tested), so a sample equals ``WanPipeline``'s for the same weights, scheduler, steps,
guidance and seed (``tests/test_sampling.py``):

  euler  ``FlowMatchEulerDiscreteScheduler(shift)``: s_i = S(linspace(1, S(1/1000), n)) with
         S(s) = shift s / (1 + (shift - 1) s) (the end point is shifted twice, as diffusers does),
         timesteps 1000 s (float), then x <- x + (s_{i+1} - s_i) v.
  unipc  ``UniPCMultistepScheduler`` as Wan2.1's diffusers checkpoints configure it (flow_prediction,
         use_flow_sigmas, solver_order 2, bh2, lower_order_final, final sigma 0): s_i = S(linspace(1,
         1/1000, n + 1)[:-1]), timesteps trunc(1000 s) (integers); predictor-corrector on the x0
         predictions m_i = x_i - s_i v_i in the half log-SNR lambda = log(1 - s) - log(s).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

SAMPLERS = ("euler", "unipc")
TRAIN_STEPS = 1000


def shifted(s, shift: float):
    return shift * s / (1 + (shift - 1) * s)


@dataclass(frozen=True)
class Schedule:
    """Noise levels (n + 1, float32, the last 0) and the timesteps the model sees at each of the n steps."""
    sigmas: torch.Tensor
    timesteps: torch.Tensor
    sampler: str

    @property
    def steps(self) -> int:
        return len(self.timesteps)


def schedule(sampler: str, steps: int, shift: float) -> Schedule:
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r}; choose from {SAMPLERS}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if sampler == "euler":
        lowest = float(shifted(torch.tensor(1.0 / TRAIN_STEPS, dtype=torch.float32), shift))  # fp32 as diffusers
        s = shifted(np.linspace(TRAIN_STEPS, lowest * TRAIN_STEPS, steps) / TRAIN_STEPS, shift)
        s = torch.from_numpy(s).to(torch.float32)
        return Schedule(torch.cat([s, torch.zeros(1)]), s * TRAIN_STEPS, sampler)
    s = shifted(np.linspace(1.0, 1.0 / TRAIN_STEPS, steps + 1)[:-1], shift)
    if abs(s[0] - 1.0) < 1e-6:
        s[0] -= 1e-6  # lambda = log(1 - s) - log(s) must stay finite
    timesteps = torch.from_numpy(s * TRAIN_STEPS).to(torch.int64)
    return Schedule(torch.from_numpy(np.concatenate([s, [0.0]]).astype(np.float32)), timesteps, sampler)


class Euler:
    def __init__(self, sched: Schedule):
        self.s = sched.sigmas

    def step(self, i: int, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (x + (self.s[i + 1] - self.s[i]) * v).to(v.dtype)


class UniPC:
    """UniPC-2 (bh2, data prediction) for flow prediction: a corrector that refines x_i with the new
    model output, then a predictor to x_{i+1}; order 1 on the first and last steps. Scalar coefficients
    in float64."""

    def __init__(self, sched: Schedule, order: int = 2):
        self.s = sched.sigmas.to(torch.float64)
        self.n, self.order = len(self.s) - 1, order
        self.m: list[torch.Tensor] = []  # x0 predictions, newest last
        self.last_x: torch.Tensor | None = None
        self.last_order = 0

    def lam(self, j: int) -> torch.Tensor:
        return torch.log(1 - self.s[j]) - torch.log(self.s[j])

    def coeffs(self, j_to: int, j_from: int):
        h = self.lam(j_to) - self.lam(j_from)
        phi = torch.expm1(-h)
        k1 = phi / -h - 1
        return h, 1 - self.s[j_to], phi, k1 / phi, (k1 / -h - 0.5) * 2 / phi

    def step(self, i: int, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s, dt = self.s, x.dtype
        m_i = x - s[i].to(dt) * v
        if i > 0 and self.last_x is not None:  # corrector
            h, a_t, phi, b1, b2 = self.coeffs(i, i - 1)
            m_prev = self.m[-1]
            base = (s[i] / s[i - 1]).to(dt) * self.last_x - (a_t * phi).to(dt) * m_prev
            d_t = m_i - m_prev
            if self.last_order == 1:
                corr = 0.5 * d_t
            else:
                r = (self.lam(i - 2) - self.lam(i - 1)) / h
                d1 = (self.m[-2] - m_prev) / r.to(dt)
                rho0 = (b1 - b2) / (1 - r)
                corr = rho0.to(dt) * d1 + (b1 - rho0).to(dt) * d_t
            x = base - (a_t * phi).to(dt) * corr
        self.m = (self.m + [m_i])[-self.order:]
        p = min(self.order, self.n - i, i + 1)
        self.last_x, self.last_order = x, p
        h, a_t, phi, _, _ = self.coeffs(i + 1, i)  # predictor
        out = (s[i + 1] / s[i]).to(dt) * x - (a_t * phi).to(dt) * m_i
        if p == 2:
            r = (self.lam(i - 1) - self.lam(i)) / h
            out = out - (a_t * phi).to(dt) * (0.5 * (self.m[-2] - m_i) / r.to(dt))
        return out.to(dt)


def solver(sched: Schedule):
    return Euler(sched) if sched.sampler == "euler" else UniPC(sched)


def guided(predict: Callable, guidance: float) -> Callable:
    """Classifier-free guidance: ``predict(x, t, *where, conditional: bool) -> v`` becomes
    ``run(x, t, *where) = uncond + g (cond - uncond)``, with the conditional and unconditional passes run
    separately (as Wan's pipelines do; batching them changes the last bits); g <= 1 runs the conditional
    pass only. ``where`` is passed through (the runner's temporal window start)."""
    if guidance <= 1.0:
        return lambda x, t, *where: predict(x, t, *where, True)

    def run(x, t, *where):
        cond = predict(x, t, *where, True)
        uncond = predict(x, t, *where, False)
        return tree_map(lambda c, u: u + guidance * (c - u), cond, uncond)
    return run


def tree_map(fn, *trees):
    """``fn`` over matching tensors of dicts of tensors (Vera's branches) or plain tensors."""
    if isinstance(trees[0], dict):
        return {k: fn(*(t[k] for t in trees)) for k in trees[0]}
    return fn(*trees)


def window_starts(frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of overlapping windows covering ``frames`` latent frames (one window if it fits);
    the last window ends at the last frame."""
    if window <= 0 or frames <= window:
        return [0]
    if not 0 <= overlap < window:
        raise ValueError(f"window overlap must be in [0, window), got {overlap} for window {window}")
    stride = window - overlap
    starts = list(range(0, frames - window + 1, stride))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def window_weights(frames: int, window: int, overlap: int, device=None) -> list[tuple[int, torch.Tensor]]:
    """(start, weights over the window's frames): weights ramp linearly across every overlap and sum to
    1 on every frame, so blended predictions cross-fade from one window to the next."""
    starts = window_starts(frames, window, overlap)
    if len(starts) == 1:
        return [(0, torch.ones(frames, device=device))]
    raw = []
    for k, a in enumerate(starts):
        w = torch.ones(window, dtype=torch.float64)
        if k > 0:  # ramp up over the frames shared with the previous window
            shared = starts[k - 1] + window - a
            w[:shared] = torch.linspace(0, 1, shared + 2, dtype=torch.float64)[1:-1]
        if k < len(starts) - 1:
            shared = a + window - starts[k + 1]
            w[window - shared:] = torch.minimum(w[window - shared:],
                                                torch.linspace(1, 0, shared + 2, dtype=torch.float64)[1:-1])
        raw.append(w)
    total = torch.zeros(frames, dtype=torch.float64)
    for a, w in zip(starts, raw):
        total[a:a + window] += w
    return [(a, (w / total[a:a + window]).to(torch.float32).to(device)) for a, w in zip(starts, raw)]


def windowed(predict: Callable, frames: int, window: int, overlap: int, time_dim: int = 2) -> Callable:
    """A predictor over the whole clip built from one over windows of ``window`` latent frames:
    ``predict(x_window, t, start) -> v_window``; the windows' predictions are blended with
    ``window_weights`` at every step (VOID's way for clips longer than the model was trained on)."""
    plan = window_weights(frames, window, overlap)
    if len(plan) == 1:
        return lambda x, t: predict(x, t, 0)

    def run(x, t):
        acc = None
        for a, w in plan:
            part = predict(_narrow(x, time_dim, a, len(w)), t, a)
            if acc is None:
                acc = tree_map(lambda p: _full_zeros(p, time_dim, frames), part)
            tree_map(lambda o, p: o.narrow(time_dim, a, len(w)).add_(p * _along(w, p, time_dim)), acc, part)
        return acc
    return run


def _narrow(x, dim, start, length):
    return tree_map(lambda t: t.narrow(dim, start, length), x)


def _full_zeros(part: torch.Tensor, dim: int, frames: int) -> torch.Tensor:
    shape = list(part.shape)
    shape[dim] = frames
    return torch.zeros(shape, dtype=part.dtype, device=part.device)


def _along(w: torch.Tensor, like: torch.Tensor, dim: int) -> torch.Tensor:
    shape = [1] * like.ndim
    shape[dim] = len(w)
    return w.view(shape).to(like.dtype)


@torch.no_grad()
def sample(predict: Callable, noise, sched: Schedule, progress: Callable | None = None):
    """Integrate from ``noise`` (a tensor, or a dict of tensors for several jointly sampled outputs)
    to s = 0: ``predict(x, timestep)`` returns the velocity (same structure as x)."""
    solvers = tree_map(lambda _: solver(sched), noise) if isinstance(noise, dict) else solver(sched)
    x = noise
    for i in range(sched.steps):
        t = sched.timesteps[i]
        v = predict(x, t)
        if isinstance(x, dict):
            x = {k: solvers[k].step(i, v[k], x[k]) for k in x}
        else:
            x = solvers.step(i, v, x)
        if progress:
            progress(i)
    return x


def initial_noise(shape, seed: int, device=None) -> torch.Tensor:
    """Gaussian noise from a CPU generator seeded with ``seed`` (what Wan's pipelines draw for a CPU
    generator), float32, moved to ``device``: the same seed gives the same sample on any device."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float32).to(device)


@torch.no_grad()
def text_to_video(forward: Callable, vae, text, prompt: str, negative_prompt: str, frames: int, height: int,
                  width: int, sched: Schedule, guidance: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Wan2.1 text-to-video with our loop: ``forward(x, timesteps, context) -> v`` (a ``WanTransformer``).
    Returns (latents, video in [-1, 1] (B, 3, T, H, W)). Used to prove the sampler equals diffusers'
    ``WanPipeline`` on the same weights."""
    context, negative = text.encode([prompt]), text.encode([negative_prompt or ""])
    shape = (1, vae.z_dim, (frames - 1) // 4 + 1, height // 8, width // 8)
    x = initial_noise(shape, seed, vae.device)

    def predict(x, t, conditional):
        return forward(x, t.expand(x.shape[0]).to(x.device), context if conditional else negative)
    latents = sample(guided(predict, guidance), x, sched)
    return latents, vae.decode(latents)
