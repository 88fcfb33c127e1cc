"""Vera's Mixture-of-Transformers: one expert per output (edit layer, alpha, composite), each with its
own embedders, QKV/output projections, norms, cross-attention, FFN, modulation and head, joined by one
self-attention over the three token sets in every block.

Source conditioning: each expert's patch embedding takes the noisy latent concatenated with the source
video's latent (32 channels). Channel concat keeps the token count (joint attention already triples
it) and the source pixels sit at the same token as the pixels they constrain; the source half of the
embedding starts at zero, so an expert initialised from a pretrained Wan2.1 starts as that model.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.models.wan import (Embedders, Head, WanBlock, WanConfig, WanTransformer, init_rope_buffers,
                                 rope_for_grid, rope_tables, token_grid, unpatchify)

BRANCHES = ("edit", "alpha", "composite")


class MoTBlock(nn.Module):
    """One layer of every expert; ``forward`` takes and returns the experts' tokens stacked on dim 1:
    x (B, E, S, dim), context (B, E, L, dim), temb6 (B, E, 6, dim)."""

    def __init__(self, cfg: WanConfig, branches: tuple[str, ...]):
        super().__init__()
        self.branches = branches
        self.experts = nn.ModuleDict({b: WanBlock(cfg) for b in branches})

    def forward(self, x, context, temb6, cos, sin):
        experts = [self.experts[b] for b in self.branches]
        mods = [e.mods(temb6[:, i]) for i, e in enumerate(experts)]
        qkv = [e.self_qkv(x[:, i], mods[i], cos, sin) for i, e in enumerate(experts)]
        q, k, v = (torch.cat(parts, dim=2) for parts in zip(*qkv))  # (B, H, E*S, D): joint attention
        attended = F.scaled_dot_product_attention(q, k, v).chunk(len(experts), dim=2)
        return torch.stack([e.after_self(x[:, i], attended[i], mods[i], context[:, i])
                            for i, e in enumerate(experts)], dim=1)


class VeraMoT(nn.Module):
    """``forward(latents {branch: (B,16,F,H,W)}, source (B,16,F,H,W), timestep (B,), context (B,L,text_dim))``
    -> {branch: (B,16,F,H,W)} predictions."""

    def __init__(self, cfg: WanConfig, branches: tuple[str, ...] = BRANCHES):
        super().__init__()
        self.cfg, self.branches = cfg, tuple(branches)
        self.embed = nn.ModuleDict({b: Embedders(cfg, in_channels=2 * cfg.in_channels) for b in self.branches})
        self.blocks = nn.ModuleList(MoTBlock(cfg, self.branches) for _ in range(cfg.num_layers))
        self.head = nn.ModuleDict({b: Head(cfg) for b in self.branches})
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def init_buffers(self) -> None:
        """Recompute the RoPE tables (after ``to_empty`` from the meta device)."""
        init_rope_buffers(self)

    @torch.no_grad()
    def load_backbone(self, backbone: WanTransformer | dict) -> "VeraMoT":
        """Copy one pretrained Wan2.1 (module or our state dict) into every expert; the source half of each
        patch embedding is zeroed."""
        state = backbone.state_dict() if isinstance(backbone, nn.Module) else backbone
        for b in self.branches:
            for name, p in self.embed[b].named_parameters():
                src = state[f"embed.{name}"]
                if name == "patch_embed.weight":
                    p.zero_()
                    p[:, :src.shape[1]].copy_(src)
                else:
                    p.copy_(src)
            for name, p in self.head[b].named_parameters():
                p.copy_(state[f"head.{name}"])
            for i, block in enumerate(self.blocks):
                for name, p in block.experts[b].named_parameters():
                    p.copy_(state[f"blocks.{i}.{name}"])
        return self

    def forward(self, latents: dict, source: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> dict:
        first = latents[self.branches[0]]
        grid = token_grid(first.shape, self.cfg.patch_size)
        cos, sin = rope_for_grid(self.rope_cos, self.rope_sin, self.cfg, grid)
        embedded = [self.embed[b](torch.cat([latents[b], source], dim=1), timestep, context) for b in self.branches]
        x, temb, temb6, ctx = (torch.stack(parts, dim=1) for parts in zip(*embedded))
        for block in self.blocks:
            x = block(x, ctx, temb6, cos, sin)
        return {b: unpatchify(self.head[b](x[:, i], temb[:, i]), grid, self.cfg.patch_size)
                for i, b in enumerate(self.branches)}

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token: each token runs through one expert (params / experts) and attends
        over all experts' tokens; ``seq_len`` is one branch's tokens (default 49 frames at 832x480)."""
        seq = (seq_len or 13 * 30 * 52) * len(self.branches)
        return 6 * self.num_params() / len(self.branches) + 12 * self.cfg.num_layers * self.cfg.dim * seq
