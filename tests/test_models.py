"""Model code: parity of our Wan2.1 DiT with diffusers' WanTransformer3DModel, the diffusers-layout
checkpoint loader, VOID's widened patch embedding and quadmask conditioning, Vera's MoT."""
from __future__ import annotations

import json

import pytest
import torch

from datagen.labels import quadmask as qm
from training.core.clips import quadmask_to_condition
from training.models.vera_mot import VeraMoT
from training.models.void_inpaint import build_void_model, widen_patch_embedding
from training.models.wan import WanConfig, WanTransformer
from training.models.wan_checkpoint import CheckpointError, load_wan_checkpoint, map_state_dict, wan_from_pretrained

TINY = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
            text_dim=32, freq_dim=32, ffn_dim=64, num_layers=2, rope_max_seq_len=256)


def diffusers_model(seed=0, **kw):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(**{**TINY, **kw}).eval()


def inputs(seed=1, channels=16, grid=(3, 6, 10), batch=2, text_len=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, *grid, generator=g)
    t = torch.tensor([10.0, 870.5])[:batch]
    ctx = torch.randn(batch, text_len, 32, generator=g)
    return x, t, ctx


@pytest.mark.parametrize("grid,text_len", [((3, 6, 10), 7), ((1, 4, 4), 13), ((5, 8, 2), 1)])
def test_forward_equals_diffusers(grid, text_len):
    ref = diffusers_model()
    ours = WanTransformer(WanConfig.from_diffusers_config(dict(ref.config))).eval()
    ours.load_state_dict(map_state_dict(ref.state_dict()), strict=True)
    x, t, ctx = inputs(grid=grid, text_len=text_len)
    with torch.no_grad():
        expected = ref(x, t, ctx, return_dict=False)[0]
        got = ours(x, t, ctx)
    assert got.shape == expected.shape == x.shape
    assert (got - expected).abs().max().item() < 1e-5


def test_gradients_match_diffusers():
    ref = diffusers_model(cross_attn_norm=False)
    ours = WanTransformer(WanConfig.from_diffusers_config(dict(ref.config)))
    ours.load_state_dict(map_state_dict(ref.state_dict()), strict=True)
    x, t, ctx = inputs()
    ref(x, t, ctx, return_dict=False)[0].square().mean().backward()
    ours(x, t, ctx).square().mean().backward()
    a = ref.patch_embedding.weight.grad
    b = ours.embed.patch_embed.weight.grad
    assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_loader_reads_single_and_sharded_checkpoints(tmp_path):
    ref = diffusers_model(seed=3)
    ref.save_pretrained(tmp_path / "single")
    ref.save_pretrained(tmp_path / "sharded", max_shard_size="40KB")
    assert (tmp_path / "sharded" / "diffusion_pytorch_model.safetensors.index.json").is_file()
    x, t, ctx = inputs()
    with torch.no_grad():
        expected = ref(x, t, ctx, return_dict=False)[0]
        for name in ("single", "sharded"):
            model = wan_from_pretrained(tmp_path / name).eval()
            assert (model(x, t, ctx) - expected).abs().max() < 1e-5


def test_loader_errors_are_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint directory"):
        wan_from_pretrained(tmp_path / "missing")
    ref = diffusers_model()
    ref.save_pretrained(tmp_path / "ok")
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text((tmp_path / "ok" / "config.json").read_text())
    with pytest.raises(CheckpointError, match="neither"):
        wan_from_pretrained(tmp_path / "noweights")
    wrong = WanTransformer(WanConfig.from_diffusers_config(dict(ref.config)).replace(ffn_dim=32))
    with pytest.raises(CheckpointError, match="shape"):
        load_wan_checkpoint(wrong, tmp_path / "ok")
    cfg = json.loads((tmp_path / "ok" / "config.json").read_text())
    cfg["image_dim"] = 1280
    (tmp_path / "i2v").mkdir()
    (tmp_path / "i2v" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="I2V"):
        wan_from_pretrained(tmp_path / "i2v")


def test_presets_and_overrides():
    assert WanConfig.preset("1.3B").dim == 1536 and WanConfig.preset("14B").num_layers == 40
    assert WanConfig.preset("tiny", num_layers=3).num_layers == 3
    with pytest.raises(ValueError, match="unknown WanConfig field"):
        WanConfig.preset("tiny", depth=3)
    with torch.device("meta"):
        big = WanTransformer(WanConfig.preset("1.3B"))
    assert 1.2e9 < big.num_params() < 1.6e9  # Wan2.1-T2V-1.3B


# ------------------------------------------------------------------------------------------------ VOID

def test_widening_by_tiling_and_zeros(tmp_path):
    ref = diffusers_model(seed=5)
    ref.save_pretrained(tmp_path / "base")
    base = wan_from_pretrained(tmp_path / "base").eval()
    cfg = base.cfg
    tiled = build_void_model(cfg, tmp_path / "base").eval()
    w = base.embed.patch_embed.weight
    assert tiled.embed.patch_embed.weight.shape[1] == 48
    for g in range(3):
        assert torch.equal(tiled.embed.patch_embed.weight[:, 16 * g:16 * (g + 1)], w)
    zeros = build_void_model(cfg, tmp_path / "base", init="zeros").eval()
    x, t, ctx = inputs()
    cond = torch.randn(2, 32, *x.shape[2:])
    with torch.no_grad():  # zero-initialised conditioning: the widened model starts as the base model
        assert torch.allclose(zeros(torch.cat([x, cond], 1), t, ctx), base(x, t, ctx), atol=1e-6)
        same = torch.cat([x, x, x], 1)  # tiled: identical groups give three times the patch embedding
        assert not torch.allclose(tiled(same, t, ctx), base(x, t, ctx))
    with pytest.raises(ValueError, match="tiling"):
        widen_patch_embedding(w, 40)


def test_quadmask_conditioning_values():
    mask = torch.tensor([0, 20, 31, 32, 63, 95, 96, 127, 191, 192, 255], dtype=torch.uint8)
    snapped = torch.from_numpy(qm.SNAP_TABLE)[mask.long()]  # VOID's readers: <=31, 32..95, 96..191, >191
    assert snapped.tolist() == [0, 0, 0, 63, 63, 63, 127, 127, 127, 255, 255]
    assert quadmask_to_condition(mask).tolist() == [0, 0, 0, 0, 0, 0, .5, .5, .5, 1, 1]
    kept = quadmask_to_condition(mask, keep_overlap=True)
    assert kept[4].item() == 0.25 and kept[0].item() == 0.0
    assert quadmask_to_condition(mask.view(1, 11), channels=3).shape == (1, 11, 3)


# ------------------------------------------------------------------------------------------------ Vera

def test_mot_from_backbone_reproduces_the_backbone_on_identical_inputs():
    torch.manual_seed(0)
    cfg = WanConfig.preset("tiny")
    base = WanTransformer(cfg).eval()
    mot = VeraMoT(cfg).eval()
    mot.load_backbone(base)
    x, t, ctx = inputs(grid=(2, 4, 6))
    source = torch.randn_like(x)  # the source half of the embedding starts at zero: ignored at init
    with torch.no_grad():
        expected = base(x, t, ctx)
        out = mot({b: x for b in mot.branches}, source, t, ctx)
    for b in mot.branches:
        assert (out[b] - expected).abs().max() < 1e-5
    with torch.no_grad():  # different branch inputs really attend to each other
        other = mot({"edit": x, "alpha": torch.randn_like(x), "composite": x}, source, t, ctx)
    assert not torch.allclose(other["edit"], expected, atol=1e-4)


def test_mot_experts_are_separate_and_all_learn():
    torch.manual_seed(0)
    mot = VeraMoT(WanConfig.preset("tiny"))
    blk = mot.blocks[0].experts
    assert blk["edit"].self_attn.q.weight.data_ptr() != blk["alpha"].self_attn.q.weight.data_ptr()
    before = blk["alpha"].ffn.fc1.weight.clone()
    with torch.no_grad():
        blk["edit"].ffn.fc1.weight.add_(1.0)
    assert torch.equal(blk["alpha"].ffn.fc1.weight, before)
    x, t, ctx = inputs(grid=(2, 4, 6))
    out = mot({b: torch.randn_like(x) for b in mot.branches}, torch.randn_like(x), t, ctx)
    sum(o.square().mean() for o in out.values()).backward()
    for b in mot.branches:
        for module in (mot.embed[b].patch_embed, blk[b].self_attn.q, blk[b].ffn.fc2, mot.head[b].proj):
            assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0
    assert isinstance(mot.blocks, torch.nn.ModuleList) and len(mot.blocks) == mot.cfg.num_layers


def test_pretrained_of_another_size_fails_in_one_line(tmp_path):
    from training.core.config import load_config
    from training.tasks import make_task

    diffusers_model(num_layers=3).save_pretrained(tmp_path / "other")
    for kind in ("vera", "void"):
        cfg = load_config([f"model={kind}", "data.path=x", f"model.pretrained={tmp_path / 'other'}"])
        with pytest.raises(ValueError, match="differs from model.size") as e:
            make_task(cfg.model).build_model()
        assert "\n" not in str(e.value)
