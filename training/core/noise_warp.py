"""Flow-warped noise for VOID's second pass (Go-with-the-Flow style): Gaussian noise carried along a
video's optical flow so that it moves with the scene, while every frame stays exactly i.i.d. N(0, 1).

Each noise pixel z is split into k*k sub-pixels that sum to z and are themselves i.i.d. N(0, 1/k^2)
(``s_i = z/k^2 + (e_i - mean(e))/k``); sub-pixels move with the flow; a destination pixel that
receives n of them gets ``k * sum / sqrt(n)`` (exactly N(0, 1), independent of its neighbours because
they share no sub-pixels) and one that receives none gets fresh noise. The flow comes from our
generators (``target_forward_flow``), so no optical-flow network is needed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _sample_flow(flow: torch.Tensor, points: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Bilinearly sample a (h', w', 2) flow grid covering an (H, W) image at pixel points (N, 2) (row, col)."""
    h, w = hw
    norm = torch.stack([(points[:, 1] + 0.5) / w * 2 - 1, (points[:, 0] + 0.5) / h * 2 - 1], dim=-1)
    grid = norm.view(1, 1, -1, 2)
    out = F.grid_sample(flow.permute(2, 0, 1)[None].float(), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out[0, :, 0].T  # (N, 2)


def latent_flow(flow: torch.Tensor, video_hw: tuple[int, int], latent_hw: tuple[int, int],
                temporal: int = 4) -> torch.Tensor:
    """Pixel forward flow (T, h', w', 2) -> latent forward flow (F-1, lh, lw, 2) in latent pixels.

    Latent frame 0 is pixel frame 0 and latent frame j >= 1 covers pixel frames 4j-3..4j (Wan's VAE);
    it is represented by its last frame, so the flow from latent j to j+1 follows every latent pixel's
    centre through the 4 pixel-frame flows from 4j to 4j+4 (composed, resampled at each step)."""
    flow = torch.as_tensor(flow).float()
    t = flow.shape[0]
    frames = (t - 1) // temporal + 1
    lh, lw = latent_hw
    sy, sx = video_hw[0] / lh, video_hw[1] / lw
    rows, cols = torch.meshgrid(torch.arange(lh, dtype=torch.float32), torch.arange(lw, dtype=torch.float32),
                                indexing="ij")
    start = torch.stack([(rows.flatten() + 0.5) * sy - 0.5, (cols.flatten() + 0.5) * sx - 0.5], dim=-1)
    out = []
    for j in range(frames - 1):
        p = start.clone()
        for step in range(temporal * j, temporal * (j + 1)):
            p = p + _sample_flow(flow[min(step, t - 1)], p, video_hw)
        d = (p - start) / torch.tensor([sy, sx])
        out.append(d.view(lh, lw, 2))
    if not out:
        return torch.zeros(0, lh, lw, 2)
    return torch.stack(out)


def warp_frame(noise: torch.Tensor, flow: torch.Tensor, generator: torch.Generator, k: int = 4) -> torch.Tensor:
    """Carry one noise frame (C, h, w) along a forward flow (h, w, 2) in pixels -> the next frame."""
    c, h, w = noise.shape
    e = torch.randn(c, h, w, k * k, generator=generator)
    sub = noise[..., None] / (k * k) + (e - e.mean(-1, keepdim=True)) / k  # (C, h, w, k*k), sums to noise
    offs = (torch.arange(k, dtype=torch.float32) + 0.5) / k - 0.5
    oy, ox = torch.meshgrid(offs, offs, indexing="ij")
    rows = torch.arange(h, dtype=torch.float32).view(h, 1, 1) + oy.flatten().view(1, 1, -1) + flow[..., 0, None]
    cols = torch.arange(w, dtype=torch.float32).view(1, w, 1) + ox.flatten().view(1, 1, -1) + flow[..., 1, None]
    ri, ci = torch.floor(rows + 0.5).long(), torch.floor(cols + 0.5).long()
    inside = (ri >= 0) & (ri < h) & (ci >= 0) & (ci < w)
    dest = (ri * w + ci)[inside]
    total = torch.zeros(c, h * w).index_add_(1, dest, sub[:, inside])
    count = torch.zeros(h * w).index_add_(0, dest, torch.ones(dest.shape[0]))
    fresh = torch.randn(c, h * w, generator=generator)
    out = torch.where(count > 0, total * k / count.clamp(min=1).sqrt(), fresh)
    return out.view(c, h, w)


def warp_noise(flow_latent: torch.Tensor, channels: int, generator: torch.Generator, k: int = 4) -> torch.Tensor:
    """Noise (C, F, h, w) for a latent video whose forward flow is (F-1, h, w, 2): frame 0 is fresh,
    every next frame is the previous one carried along the flow."""
    flow_latent = torch.as_tensor(flow_latent).float()
    h, w = flow_latent.shape[1:3]
    frames = [torch.randn(channels, h, w, generator=generator)]
    for flow in flow_latent:
        frames.append(warp_frame(frames[-1], flow, generator, k))
    return torch.stack(frames, dim=1)


def sample_gamma(generator: torch.Generator, max_gamma: float = 0.3) -> float:
    """VOID's random degradation strength gamma ~ U[0, max_gamma]."""
    return float(torch.rand((), generator=generator)) * max_gamma


def degrade(warped: torch.Tensor, gamma: float, generator: torch.Generator) -> torch.Tensor:
    """Variance-preserving blend sqrt(1-gamma) W + sqrt(gamma) Z with fresh noise Z."""
    fresh = torch.randn(warped.shape, generator=generator)
    return (1 - gamma) ** 0.5 * warped + gamma ** 0.5 * fresh
