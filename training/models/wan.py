"""A Wan2.1-architecture video DiT as plain modules: 3D patch embedding, 3D RoPE, timestep modulation,
text cross-attention. Numerically equal to diffusers' ``WanTransformer3DModel`` (tested) so Wan2.1
checkpoints load through ``training.models.wan_checkpoint``.

Parallelism is not in here: ``model.blocks`` is the unit that ``training/core/runtime.py`` checkpoints and
shards, and a block's forward takes only tensors (RoPE tables are computed once per forward).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class WanConfig:
    patch_size: tuple[int, int, int] = (1, 2, 2)
    num_attention_heads: int = 12
    attention_head_dim: int = 128
    in_channels: int = 16
    out_channels: int = 16
    text_dim: int = 4096
    freq_dim: int = 256
    ffn_dim: int = 8960
    num_layers: int = 30
    cross_attn_norm: bool = True
    eps: float = 1e-6
    rope_max_seq_len: int = 1024

    @property
    def dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @classmethod
    def preset(cls, size: str, **overrides) -> "WanConfig":
        """``tiny`` (tests; text_dim matches training.core.encoders' tiny UMT5), ``1.3B`` and ``14B`` (Wan2.1 T2V)."""
        presets = {
            "tiny": dict(num_attention_heads=2, attention_head_dim=48, text_dim=32, freq_dim=32, ffn_dim=192,
                         num_layers=2, rope_max_seq_len=256),
            "1.3B": dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=30),
            "14B": dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40),
        }
        if size not in presets:
            raise ValueError(f"model.size must be one of {sorted(presets)}, got {size!r}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ValueError(f"model.overrides: unknown WanConfig field {bad[0]!r}")
        if "patch_size" in overrides:
            overrides["patch_size"] = tuple(overrides["patch_size"])
        return cls(**{**presets[size], **overrides})

    @classmethod
    def from_diffusers_config(cls, config: dict) -> "WanConfig":
        """From a diffusers ``WanTransformer3DModel`` config.json (T2V models: no image conditioning)."""
        if config.get("image_dim") or config.get("added_kv_proj_dim"):
            raise ValueError("image-conditioned Wan checkpoints (I2V) are not supported; use a T2V checkpoint")
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in config.items() if k in names}
        kw["patch_size"] = tuple(kw.get("patch_size", (1, 2, 2)))
        return cls(**kw)

    def replace(self, **kw) -> "WanConfig":
        return replace(self, **kw)

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------ pieces

class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 whatever the compute dtype (as Wan does)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


class MLP2(nn.Module):
    """Linear -> activation -> Linear (timestep and text embedders, FFN)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, act: nn.Module):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d_in, d_hidden), act, nn.Linear(d_hidden, d_out)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding [cos | sin] of timesteps in [0, 1000]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_tables(cfg: WanConfig, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (max_seq_len, head_dim/2) for the frame, height and width parts of a head
    (2*(d//6) channels each for height and width, the rest for frames), float64 angles."""
    d = cfg.attention_head_dim
    hw = 2 * (d // 6)
    parts = []
    for size in (d - 2 * hw, hw, hw):
        inv = 1.0 / (10000.0 ** (torch.arange(0, size, 2, dtype=torch.float64, device=device) / size))
        parts.append(torch.outer(torch.arange(cfg.rope_max_seq_len, dtype=torch.float64, device=device), inv))
    angles = torch.cat(parts, dim=1)
    return angles.cos().float(), angles.sin().float()


def rope_for_grid(cos: torch.Tensor, sin: torch.Tensor, cfg: WanConfig, grid: tuple[int, int, int]):
    """Per-token (S, head_dim/2) cos/sin for an (f, h, w) token grid in raster order."""
    d = cfg.attention_head_dim
    hw = 2 * (d // 6)
    sizes = ((d - 2 * hw) // 2, hw // 2, hw // 2)
    f, h, w = grid
    if max(grid) > cfg.rope_max_seq_len:
        raise ValueError(f"token grid {grid} exceeds rope_max_seq_len={cfg.rope_max_seq_len}")
    out = []
    for table in (cos, sin):
        tf, th, tw = table.split(sizes, dim=1)
        full = torch.cat([tf[:f].view(f, 1, 1, -1).expand(f, h, w, -1),
                          th[:h].view(1, h, 1, -1).expand(f, h, w, -1),
                          tw[:w].view(1, 1, w, -1).expand(f, h, w, -1)], dim=-1)
        out.append(full.reshape(f * h * w, -1))
    return out[0], out[1]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of x (B, H, S, D) by the token's angles (S, D/2)."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
    return out.type_as(x)


class Attention(nn.Module):
    """Projections of one attention (q/k/v/o + RMSNorm on q and k across heads); the attention itself
    is computed by the caller so several experts can attend jointly."""

    def __init__(self, dim: int, heads: int, eps: float):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.q_norm = nn.RMSNorm(dim, eps=eps)
        self.k_norm = nn.RMSNorm(dim, eps=eps)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, H, S, D)

    def qkv(self, x: torch.Tensor, kv_source: torch.Tensor | None = None):
        src = x if kv_source is None else kv_source
        return (self.split(self.q_norm(self.q(x))), self.split(self.k_norm(self.k(src))),
                self.split(self.v(src)))

    def out(self, attended: torch.Tensor) -> torch.Tensor:
        return self.o(attended.transpose(1, 2).flatten(2))


class WanBlock(nn.Module):
    """Self-attention (RoPE) -> text cross-attention -> FFN, modulated by the timestep."""

    def __init__(self, cfg: WanConfig):
        super().__init__()
        dim = cfg.dim
        self.norm_self = FP32LayerNorm(dim, cfg.eps, elementwise_affine=False)
        self.self_attn = Attention(dim, cfg.num_attention_heads, cfg.eps)
        self.norm_cross = FP32LayerNorm(dim, cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = Attention(dim, cfg.num_attention_heads, cfg.eps)
        self.norm_ffn = FP32LayerNorm(dim, cfg.eps, elementwise_affine=False)
        self.ffn = MLP2(dim, cfg.ffn_dim, dim, nn.GELU(approximate="tanh"))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim ** 0.5)

    def mods(self, temb6: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(shift, scale, gate) for attention and FFN, each (B, 1, dim), fp32."""
        return tuple(m.unsqueeze(1) for m in (self.modulation + temb6.float()).unbind(1))

    def self_qkv(self, x: torch.Tensor, mods, cos: torch.Tensor, sin: torch.Tensor):
        shift, scale = mods[0], mods[1]
        h = (self.norm_self(x.float()) * (1 + scale) + shift).type_as(x)
        q, k, v = self.self_attn.qkv(h)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def after_self(self, x: torch.Tensor, attended: torch.Tensor, mods, context: torch.Tensor) -> torch.Tensor:
        """Gated residual of the self-attention output, then cross-attention and the FFN."""
        gate, c_shift, c_scale, c_gate = mods[2], mods[3], mods[4], mods[5]
        x = (x.float() + self.self_attn.out(attended) * gate).type_as(x)
        h = self.norm_cross(x.float()).type_as(x)
        q, k, v = self.cross_attn.qkv(h, context)
        x = x + self.cross_attn.out(F.scaled_dot_product_attention(q, k, v))
        h = (self.norm_ffn(x.float()) * (1 + c_scale) + c_shift).type_as(x)
        return (x.float() + self.ffn(h).float() * c_gate).type_as(x)

    def forward(self, x, context, temb6, cos, sin):
        mods = self.mods(temb6)
        q, k, v = self.self_qkv(x, mods, cos, sin)
        return self.after_self(x, F.scaled_dot_product_attention(q, k, v), mods, context)


class Head(nn.Module):
    """Final modulated norm and the linear map back to patch pixels."""

    def __init__(self, cfg: WanConfig):
        super().__init__()
        self.norm = FP32LayerNorm(cfg.dim, cfg.eps, elementwise_affine=False)
        self.proj = nn.Linear(cfg.dim, cfg.out_channels * math.prod(cfg.patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim ** 0.5)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        shift, scale = (self.modulation + temb.unsqueeze(1)).chunk(2, dim=1)
        return self.proj((self.norm(x.float()) * (1 + scale) + shift).type_as(x))


class Embedders(nn.Module):
    """Patch, timestep and text embedding of one model (or one Vera expert)."""

    def __init__(self, cfg: WanConfig, in_channels: int | None = None):
        super().__init__()
        self.cfg = cfg
        dim = cfg.dim
        self.patch_embed = nn.Conv3d(in_channels or cfg.in_channels, dim, cfg.patch_size, cfg.patch_size)
        self.time_in = MLP2(cfg.freq_dim, dim, dim, nn.SiLU())
        self.time_mod = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.text_in = MLP2(cfg.text_dim, dim, dim, nn.GELU(approximate="tanh"))

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor):
        """-> tokens (B, S, dim), temb (B, dim), temb6 (B, 6, dim), context (B, L, dim)."""
        # tokens and text in the compute dtype (bf16 under FSDP mixed precision); the timestep stays
        # fp32 into its sinusoidal embedding
        x, context = x.to(self.patch_embed.weight.dtype), context.to(self.text_in.fc1.weight.dtype)
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2).contiguous()
        temb = self.time_in(timestep_embedding(timestep, self.cfg.freq_dim).to(self.time_in.fc1.weight.dtype))
        temb = temb.type_as(context)
        temb6 = self.time_mod(temb).unflatten(1, (6, -1))
        return tokens, temb, temb6, self.text_in(context)


def init_rope_buffers(model: nn.Module) -> None:
    cos, sin = rope_tables(model.cfg)
    model.rope_cos, model.rope_sin = cos.to(model.rope_cos.device), sin.to(model.rope_sin.device)


def unpatchify(x: torch.Tensor, grid: tuple[int, int, int], patch: tuple[int, int, int]) -> torch.Tensor:
    b = x.shape[0]
    f, h, w = grid
    pt, ph, pw = patch
    x = x.reshape(b, f, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.reshape(b, x.shape[1], f * pt, h * ph, w * pw)


def token_grid(shape, patch) -> tuple[int, int, int]:
    _, _, f, h, w = shape
    if f % patch[0] or h % patch[1] or w % patch[2]:
        raise ValueError(f"latent of {f}x{h}x{w} is not divisible by the patch size {tuple(patch)}")
    return f // patch[0], h // patch[1], w // patch[2]


class WanTransformer(nn.Module):
    """``forward(x (B, C_in, F, H, W), timestep (B,) in [0, 1000], context (B, L, text_dim))``
    -> (B, C_out, F, H, W)."""

    def __init__(self, cfg: WanConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embedders(cfg)
        self.blocks = nn.ModuleList(WanBlock(cfg) for _ in range(cfg.num_layers))
        self.head = Head(cfg)
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def init_buffers(self) -> None:
        """Recompute the RoPE tables (after ``to_empty`` from the meta device)."""
        init_rope_buffers(self)

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        grid = token_grid(x.shape, self.cfg.patch_size)
        cos, sin = rope_for_grid(self.rope_cos, self.rope_sin, self.cfg, grid)
        tokens, temb, temb6, ctx = self.embed(x, timestep, context)
        for block in self.blocks:
            tokens = block(tokens, ctx, temb6, cos, sin)
        return unpatchify(self.head(tokens, temb), grid, self.cfg.patch_size)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward): 6 x parameters + attention (12 x layers x dim x
        sequence length); ``seq_len`` defaults to a 49-frame 832x480 clip (13 x 30 x 52 tokens)."""
        seq = seq_len or 13 * 30 * 52
        return 6 * self.num_params() + 12 * self.cfg.num_layers * self.cfg.dim * seq
