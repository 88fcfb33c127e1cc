"""Memory and time arithmetic of inference at full size on one GPU (printed; docs/inference.md quotes it).

    python benchmarks/inference_arithmetic.py [--frames 81] [--steps 30] [--mfu 0.4] [--peak 989e12]

Parameters are counted from the real modules built on the meta device. Memory: bf16 weights (2 bytes per
parameter) + the UMT5-XXL text encoder (5.7B parameters, bf16) + the Wan VAE (fp32) + activations of
one block (no backward: nothing else is kept). Time: a forward pass costs 2 x matmul parameters per
token + attention (4 x layers x dim x sequence per token); classifier-free guidance runs it twice per
step; VOID pass 2 repeats the whole sampling. The affect model is one forward pass without a text encoder. Real runs add the VAE (seconds) and the text encoder (once).
"""
from __future__ import annotations

import argparse
import sys

from datagen.core.cli import command
from training_arithmetic import build, count, tokens_per_branch

TEXT_ENCODER_PARAMS = 5.7e9  # umt5-xxl encoder
VAE_GB = 0.51  # Wan2.1 VAE, fp32


def report(kind: str, size: str, frames: int, steps: int, mfu: float, peak: float) -> dict:
    cfg, model = build(kind, size)
    params = count(model)
    dim = cfg.num_attention_heads * cfg.attention_head_dim
    branches = 3 if kind == "vera" else 1
    seq = tokens_per_branch(frames) * branches
    per_token = 2 * params / branches + 4 * cfg.num_layers * dim * seq
    forward = per_token * seq
    if kind == "affect":  # one forward pass, no guidance, no text encoder
        sample_flops = forward
    else:
        sample_flops = forward * 2 * steps * (2 if kind == "void" else 1)  # CFG; VOID: pass 1 + pass 2 (worst case)
    live_gb = seq * (10 * dim + 2 * cfg.ffn_dim) * 2 / 1e9
    memory = params * 2 / 1e9 + (0 if kind == "affect" else TEXT_ENCODER_PARAMS * 2 / 1e9) + VAE_GB + live_gb
    return {"model": f"{kind} {size}", "params_B": params / 1e9, "tokens": seq, "weights_GB": params * 2 / 1e9,
            "total_GB": memory, "TFLOP_per_clip": sample_flops / 1e12, "s_per_clip": sample_flops / (peak * mfu)}


@command
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--mfu", type=float, default=0.4)
    ap.add_argument("--peak", type=float, default=989e12, help="bf16 FLOP/s (H100 SXM: 989e12)")
    a = ap.parse_args(argv)
    print(f"832x480, {a.frames} frames, {a.steps} steps, CFG (2 forwards/step), VOID with pass 2; one GPU, bf16, "
          f"MFU {a.mfu:.0%} of {a.peak / 1e12:.0f} TFLOP/s")
    cols = ("model", "params_B", "tokens", "weights_GB", "total_GB", "TFLOP_per_clip", "s_per_clip")
    print(" | ".join(cols))
    for kind in ("void", "vera", "affect"):
        for size in ("1.3B", "14B"):
            r = report(kind, size, a.frames, a.steps, a.mfu, a.peak)
            print(" | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols))


if __name__ == "__main__":
    sys.exit(main())
