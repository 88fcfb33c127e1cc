"""Flow-warped noise (VOID pass 2): stays standard Gaussian per frame, follows known motion exactly,
is deterministic, and the degradation blend preserves variance."""
from __future__ import annotations

import torch

from training.core.noise_warp import degrade, latent_flow, sample_gamma, warp_frame, warp_noise


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_frames_stay_standard_gaussian_under_motion():
    flow = torch.zeros(8, 48, 64, 2)
    flow[..., 0] = 0.37  # fractional, and a divergent field: sub-pixels split, merge and leave
    flow[..., 1] = torch.linspace(-2.5, 3.5, 64)
    noise = warp_noise(flow, 16, gen())
    assert noise.shape == (16, 9, 48, 64)
    for j in range(9):
        frame = noise[:, j]
        n = frame.numel()
        assert abs(frame.mean().item()) < 4 / n ** 0.5
        assert abs(frame.var().item() - 1) < 0.05
        # Gaussian shape, not just the first two moments: excess kurtosis near 0
        kurt = ((frame - frame.mean()) ** 4).mean() / frame.var() ** 2 - 3
        assert abs(kurt.item()) < 0.15


def test_integer_translation_moves_the_pattern_exactly():
    flow = torch.zeros(30, 40, 2)
    flow[..., 0], flow[..., 1] = -1.0, 3.0
    z = torch.randn(4, 30, 40, generator=gen(1))
    w = warp_frame(z, flow, gen(2))
    assert torch.allclose(w[:, 0:29, 3:], z[:, 1:30, :37], atol=1e-5)
    corr = torch.corrcoef(torch.stack([w[:, :29, 3:].flatten(), z[:, 1:, :37].flatten()]))[0, 1]
    assert corr > 0.9999
    # the uncovered border gets fresh noise, uncorrelated with the source
    assert abs(torch.corrcoef(torch.stack([w[:, :, :3].flatten(), z[:, :, :3].flatten()]))[0, 1]) < 0.2


def test_zero_flow_is_identity_and_runs_are_deterministic():
    z = torch.randn(3, 20, 24, generator=gen(3))
    assert torch.allclose(warp_frame(z, torch.zeros(20, 24, 2), gen(4)), z, atol=1e-5)
    flow = torch.rand(4, 20, 24, 2, generator=gen(5)) * 4 - 2
    assert torch.equal(warp_noise(flow, 4, gen(6)), warp_noise(flow, 4, gen(6)))
    assert not torch.equal(warp_noise(flow, 4, gen(6)), warp_noise(flow, 4, gen(7)))


def test_degrade_preserves_variance():
    w = torch.randn(16, 5, 60, 104, generator=gen(8))
    for gamma in (0.0, 0.15, 0.3):
        d = degrade(w, gamma, gen(9))
        assert abs(d.var().item() - 1) < 0.02 and abs(d.mean().item()) < 0.01
    assert torch.equal(degrade(w, 0.0, gen(9)), w)
    gammas = [sample_gamma(gen(s), 0.3) for s in range(50)]
    assert min(gammas) >= 0 and max(gammas) <= 0.3 and len(set(gammas)) == 50


def test_latent_flow_composes_four_frames_and_scales():
    # a 48x64 video moving 4 px right per frame, flow stored every 4th pixel (label_downsample 4)
    flow = torch.zeros(9, 12, 16, 2)
    flow[..., 1] = 4.0
    lat = latent_flow(flow, (48, 64), (6, 8))
    assert lat.shape == (2, 6, 8, 2)
    assert torch.allclose(lat[..., 1], torch.full((2, 6, 8), 2.0)) and torch.allclose(lat[..., 0], torch.zeros(2, 6, 8))
    # an accelerating motion: latent step j sums pixel frames 4j..4j+3
    flow = torch.zeros(9, 12, 16, 2)
    for t in range(9):
        flow[t, ..., 0] = 0.5 * t
    lat = latent_flow(flow, (48, 64), (6, 8))
    assert torch.allclose(lat[0, 2:4, :, 0], torch.full((2, 8), (0 + .5 + 1 + 1.5) / 8))
    assert torch.allclose(lat[1, 1:3, :, 0], torch.full((2, 8), (2 + 2.5 + 3 + 3.5) / 8))
