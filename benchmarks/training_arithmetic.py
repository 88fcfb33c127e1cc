"""Memory and throughput arithmetic of the trainers at full size (printed; docs/training.md quotes it).

    python benchmarks/training_arithmetic.py [--frames 49] [--gpus 8] [--mfu 0.4] [--peak 989e12]

Parameters are counted from the real modules built on the meta device (no memory is used). Memory per
GPU under FSDP2: fp32 master weights + fp32 grads + AdamW's two fp32 moments = 16 bytes/parameter,
divided by the GPU count; plus activations with per-block checkpointing (one bf16 block input per
layer kept, one block's intermediates live at a time). Time per step from FLOPs/token (6 x matmul
parameters + attention, x 4/3 for recomputation) at an assumed MFU.
"""
from __future__ import annotations

import argparse
import sys

import torch

from datagen.core.cli import command


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def build(kind: str, size: str):
    from training.models.vera_mot import VeraMoT
    from training.models.void_inpaint import build_void_model
    from training.models.wan import WanConfig

    from training.models.affect import AffectModel

    cfg = WanConfig.preset(size)
    with torch.device("meta"):
        model = VeraMoT(cfg) if kind == "vera" else AffectModel(cfg) if kind == "affect" else build_void_model(cfg)
    return cfg, model


def tokens_per_branch(frames: int, height: int = 480, width: int = 832) -> int:
    return ((frames - 1) // 4 + 1) * (height // 16) * (width // 16)


def report(kind: str, size: str, frames: int, gpus: int, mfu: float, peak: float) -> dict:
    cfg, model = build(kind, size)
    params = count(model)
    dim = cfg.num_attention_heads * cfg.attention_head_dim
    branches = 3 if kind == "vera" else 1
    seq = tokens_per_branch(frames)
    joint = seq * branches  # Vera attends over the three branches' tokens at once
    per_token = 6 * params / branches + 12 * cfg.num_layers * dim * joint  # each token runs one expert
    step_flops = per_token * joint * 4 / 3
    state_gb = params * 16 / gpus / 1e9
    kept_gb = cfg.num_layers * joint * dim * 2 / 1e9
    live_gb = joint * (10 * dim + 2 * cfg.ffn_dim) * 2 / 1e9  # one block recomputed: qkv, attn out, ffn
    return {"model": f"{kind} {size}", "params_B": params / 1e9, "tokens": joint,
            "state_GB_per_gpu": state_gb, "activations_GB": kept_gb + live_gb,
            "TFLOP_per_sample": step_flops / 1e12, "s_per_sample": step_flops / (peak * mfu)}


@command
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=49)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--mfu", type=float, default=0.4)
    ap.add_argument("--peak", type=float, default=989e12, help="bf16 FLOP/s per GPU (H100 SXM: 989e12)")
    args = ap.parse_args(argv)
    print(f"832x480, {args.frames} frames, {args.gpus} GPUs, FSDP2 + per-block checkpointing, "
          f"bf16 compute, MFU {args.mfu:.0%} of {args.peak / 1e12:.0f} TFLOP/s")
    cols = ("model", "params_B", "tokens", "state_GB_per_gpu", "activations_GB", "TFLOP_per_sample", "s_per_sample")
    print(" | ".join(cols))
    for kind in ("void", "vera"):
        for size in ("1.3B", "14B"):
            r = report(kind, size, args.frames, args.gpus, args.mfu, args.peak)
            print(" | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols))


if __name__ == "__main__":
    sys.exit(main())
