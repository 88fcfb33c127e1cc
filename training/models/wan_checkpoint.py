"""Wan2.1 transformer checkpoints in diffusers layout (a local directory with ``config.json`` and
``diffusion_pytorch_model.safetensors``, or shards listed in ``...safetensors.index.json``) mapped
onto ``training.models.wan.WanTransformer``'s parameter names."""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from training.models.wan import WanConfig, WanTransformer

WEIGHTS = "diffusion_pytorch_model.safetensors"
INDEX = WEIGHTS + ".index.json"

# diffusers name (regex) -> ours; applied to the part before ".weight"/".bias" or to the whole name.
_RULES = [
    (r"^patch_embedding\.", "embed.patch_embed."),
    (r"^condition_embedder\.time_embedder\.linear_1\.", "embed.time_in.fc1."),
    (r"^condition_embedder\.time_embedder\.linear_2\.", "embed.time_in.fc2."),
    (r"^condition_embedder\.time_proj\.", "embed.time_mod.1."),
    (r"^condition_embedder\.text_embedder\.linear_1\.", "embed.text_in.fc1."),
    (r"^condition_embedder\.text_embedder\.linear_2\.", "embed.text_in.fc2."),
    (r"^blocks\.(\d+)\.attn1\.to_([qkv])\.", r"blocks.\1.self_attn.\2."),
    (r"^blocks\.(\d+)\.attn1\.to_out\.0\.", r"blocks.\1.self_attn.o."),
    (r"^blocks\.(\d+)\.attn1\.norm_([qk])\.", r"blocks.\1.self_attn.\2_norm."),
    (r"^blocks\.(\d+)\.attn2\.to_([qkv])\.", r"blocks.\1.cross_attn.\2."),
    (r"^blocks\.(\d+)\.attn2\.to_out\.0\.", r"blocks.\1.cross_attn.o."),
    (r"^blocks\.(\d+)\.attn2\.norm_([qk])\.", r"blocks.\1.cross_attn.\2_norm."),
    (r"^blocks\.(\d+)\.norm2\.", r"blocks.\1.norm_cross."),
    (r"^blocks\.(\d+)\.ffn\.net\.0\.proj\.", r"blocks.\1.ffn.fc1."),
    (r"^blocks\.(\d+)\.ffn\.net\.2\.", r"blocks.\1.ffn.fc2."),
    (r"^blocks\.(\d+)\.scale_shift_table$", r"blocks.\1.modulation"),
    (r"^proj_out\.", "head.proj."),
    (r"^scale_shift_table$", "head.modulation"),
]


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; one line naming the path and the problem."""


def map_name(name: str) -> str:
    for pattern, repl in _RULES:
        new, n = re.subn(pattern, repl, name)
        if n:
            return new
    raise CheckpointError(f"unexpected parameter {name!r} (not a Wan2.1 T2V transformer)")


def map_state_dict(diffusers_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {map_name(k): v for k, v in diffusers_state.items()}


def read_config(path: str | Path) -> WanConfig:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint directory")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise CheckpointError(f"{path}: no config.json (expected a diffusers WanTransformer3DModel directory)")
    return WanConfig.from_diffusers_config(json.loads(cfg_file.read_text()))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a diffusers checkpoint directory (single file or sharded), on CPU."""
    from safetensors.torch import load_file

    path = Path(path)
    if (path / INDEX).is_file():
        index = json.loads((path / INDEX).read_text())
        files = sorted(set(index["weight_map"].values()))
    elif (path / WEIGHTS).is_file():
        files = [WEIGHTS]
    else:
        raise CheckpointError(f"{path}: neither {WEIGHTS} nor {INDEX}")
    state: dict[str, torch.Tensor] = {}
    for name in files:
        if not (path / name).is_file():
            raise CheckpointError(f"{path}: shard {name} listed in the index is missing")
        state.update(load_file(str(path / name)))
    return state


def load_wan_checkpoint(model: WanTransformer, path: str | Path) -> WanTransformer:
    """Load a diffusers-layout Wan2.1 checkpoint into ``model`` (strict: every tensor, exact shapes)."""
    state = map_state_dict(read_state_dict(path))
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0]!r}"
        raise CheckpointError(f"{path}: {what} ({len(missing)} missing, {len(extra)} unexpected tensors)")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(f"{path}: {k} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}")
    model.load_state_dict(state, strict=True)
    return model


def wan_from_pretrained(path: str | Path, **overrides) -> WanTransformer:
    """A WanTransformer built from the checkpoint's config.json and loaded with its weights."""
    cfg = read_config(path)
    if overrides:
        cfg = cfg.replace(**overrides)
    return load_wan_checkpoint(WanTransformer(cfg), path)
