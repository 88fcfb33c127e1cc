"""The sampler: Wan's schedules and solvers reproduce diffusers' ``WanPipeline`` exactly enough (1e-4 in
fp32) on identical tiny random weights; temporal windows blend seamlessly and equal one window when the
clip fits."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.inference import sampling as S

TINY_DIT = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=48, in_channels=16,
                out_channels=16, text_dim=32, freq_dim=32, ffn_dim=192, num_layers=2, rope_max_seq_len=256)


@pytest.mark.parametrize("sampler", S.SAMPLERS)
@pytest.mark.parametrize("steps", [1, 4, 20])
def test_schedules_equal_diffusers(sampler, steps):
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    ref = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0) if sampler == "euler" else \
        UniPCMultistepScheduler(solver_order=2, prediction_type="flow_prediction", predict_x0=True, solver_type="bh2",
                                lower_order_final=True, use_flow_sigmas=True, flow_shift=3.0, final_sigmas_type="zero")
    ref.set_timesteps(steps)
    ours = S.schedule(sampler, steps, 3.0)
    assert torch.equal(ours.sigmas, ref.sigmas) and torch.equal(ours.timesteps, ref.timesteps)


def test_unipc_steps_equal_diffusers_in_float64():
    """The solver's algebra (warm-up, corrector orders, the last step to sigma 0) against diffusers' own
    UniPC on a non-linear velocity field, in float64 so only the formulas can differ."""
    from diffusers import UniPCMultistepScheduler

    x0 = torch.randn(1, 4, 2, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for steps in (2, 3, 7, 20):
        ref = UniPCMultistepScheduler(solver_order=2, prediction_type="flow_prediction", predict_x0=True,
                                      solver_type="bh2", lower_order_final=True, use_flow_sigmas=True, flow_shift=5.0,
                                      final_sigmas_type="zero")
        ref.set_timesteps(steps)
        ref.sigmas = ref.sigmas.double()
        sched = S.schedule("unipc", steps, 5.0)
        ours = S.UniPC(sched)
        xa = xb = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        for i, t in enumerate(ref.timesteps):
            s = float(sched.sigmas[i])
            xa = ref.step((xa - x0) / s + 0.1 * torch.sin(3 * xa), t, xa, return_dict=False)[0]
            xb = ours.step(i, (xb - x0) / s + 0.1 * torch.sin(3 * xb), xb)
        assert (xa - xb).abs().max() < 1e-12


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    transformer = WanTransformer3DModel(**TINY_DIT).eval()
    torch.manual_seed(1)
    vae = AutoencoderKLWan(base_dim=16, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True]).eval()
    torch.manual_seed(2)
    text = UMT5EncoderModel(UMT5Config(d_model=32, vocab_size=384, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                       relative_attention_num_buckets=8)).eval()
    path = tmp_path_factory.mktemp("wan") / "transformer"
    transformer.save_pretrained(path)
    return transformer, vae, text, ByT5Tokenizer(), path


@pytest.mark.parametrize("sampler", S.SAMPLERS)
def test_text_to_video_equals_diffusers_wan_pipeline(tiny_wan, sampler):
    """Our transformer (loaded from the diffusers weights), our text and VAE wrappers and our loop against
    ``WanPipeline`` with the matching scheduler: same prompt (with HTML and whitespace to clean), negative
    prompt, guidance 5, seed, 6 steps."""
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline

    from training.core.encoders import TextEncoder, VideoVAE
    from training.models.wan_checkpoint import wan_from_pretrained

    transformer, vae, text, tokenizer, path = tiny_wan
    sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0) if sampler == "euler" else \
        UniPCMultistepScheduler(solver_order=2, prediction_type="flow_prediction", predict_x0=True, solver_type="bh2",
                                lower_order_final=True, use_flow_sigmas=True, flow_shift=3.0, final_sigmas_type="zero")
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text, vae=vae, scheduler=sched, transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    prompt, negative = "A red ball   rolls &amp; stops on a wooden floor.", "blurred, static, worst quality"
    kw = dict(prompt=prompt, negative_prompt=negative, height=32, width=48, num_frames=9, num_inference_steps=6,
              guidance_scale=5.0, max_sequence_length=64)
    ref = pipe(**kw, generator=torch.Generator().manual_seed(7), output_type="np").frames
    ref_latent = pipe(**kw, generator=torch.Generator().manual_seed(7), output_type="latent").frames

    ours = wan_from_pretrained(str(path)).eval()
    latent, video = S.text_to_video(ours, VideoVAE(vae, torch.device("cpu"), torch.float32),
                                    TextEncoder(tokenizer, text, 64, torch.device("cpu"), torch.float32),
                                    prompt, negative, 9, 32, 48, S.schedule(sampler, 6, 3.0), 5.0, 7)
    frames = (video * 0.5 + 0.5).clamp(0, 1).permute(0, 2, 3, 4, 1).numpy()
    assert float((latent - ref_latent).abs().max()) < 1e-4
    assert float(np.abs(frames - ref).max()) < 1e-4
    assert 0.05 < ref.std() and ref.shape == frames.shape  # a real video, not a constant


def test_windows_cover_the_clip_and_blend_to_one():
    for frames, window, overlap in ((5, 5, 1), (9, 5, 2), (13, 5, 2), (21, 8, 3)):
        plan = S.window_weights(frames, window, overlap)
        total = torch.zeros(frames)
        for a, w in plan:
            total[a:a + len(w)] += w
        assert torch.allclose(total, torch.ones(frames)), (frames, window, overlap)
        assert plan[-1][0] + len(plan[-1][1]) == frames


def test_windowed_prediction_is_seamless_and_equals_one_window_when_it_fits():
    """A model whose prediction depends on every frame of its window (a window-mean term): on a long clip
    the blended field has no seam larger than the model's own frame-to-frame change; on a clip that fits
    it is the model itself."""
    def model(x, t, start):  # a smooth field plus each window's mean: windows disagree a little
        return torch.sin(x) + 0.1 * x.mean(dim=2, keepdim=True)

    x = torch.linspace(0, 3, 17).view(1, 1, 17, 1, 1).expand(1, 2, 17, 2, 2).contiguous()
    whole = S.windowed(model, 17, 17, 0)(x, torch.tensor(500))
    assert torch.equal(whole, model(x, None, 0))
    long = S.windowed(model, 17, 7, 3)(x, torch.tensor(500))
    steps = long[0, 0, 1:, 0, 0] - long[0, 0, :-1, 0, 0]
    own = whole[0, 0, 1:, 0, 0] - whole[0, 0, :-1, 0, 0]
    assert (steps - own).abs().max() < 0.05  # seams: the blend follows the model's own slope
    sched = S.schedule("unipc", 5, 3.0)
    noise = torch.randn(1, 2, 5, 2, 2, generator=torch.Generator().manual_seed(0))
    fits = S.sample(S.windowed(lambda x, t, a: model(x, t, a), 5, 8, 2), noise, sched)
    assert torch.equal(fits, S.sample(lambda x, t: model(x, t, 0), noise, sched))
