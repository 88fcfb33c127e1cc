"""Process group, device and dtype set-up, and the parallelisms applied *to* a plain model from outside
(torchtitan's split): activation checkpointing per block, then FSDP2 ``fully_shard`` per block and at
the root. Models only promise ``model.blocks`` (an ``nn.ModuleList``)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Runtime:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    param_dtype: torch.dtype  # compute dtype of the trained model (bf16 on CUDA by default)
    distributed: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("trainer.device=cuda but no CUDA device is available")
        return torch.device("cuda", local_rank)
    if name != "cpu":
        raise ValueError(f"trainer.device must be auto, cuda or cpu, got {name!r}")
    return torch.device("cpu")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on CUDA (mixed precision, fp32 master weights), fp32 on CPU."""
    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if name not in table:
        raise ValueError(f"dtype must be auto, fp32 or bf16, got {name!r}")
    return table[name]


def init_runtime(device: str = "auto", dtype: str = "auto") -> Runtime:
    """Join the process group when launched by torchrun (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    distributed = world > 1 or "TORCHELASTIC_RUN_ID" in os.environ
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Runtime(rank, world, local_rank, dev, resolve_dtype(dtype, dev), distributed)


def apply_activation_checkpointing(model: nn.Module) -> None:
    """Recompute each block's activations in the backward pass (memory for ~1/3 more compute)."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    for i, block in enumerate(model.blocks):
        model.blocks[i] = checkpoint_wrapper(block, preserve_rng_state=False)


def apply_fsdp(model: nn.Module, param_dtype: torch.dtype, reduce_dtype: torch.dtype = torch.float32) -> None:
    """FSDP2: each block is its own all-gather unit, then the root (embeddings, head). Parameters stay
    fp32 (the optimiser's master copy); ``param_dtype`` is the compute dtype when it differs."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # inputs keep their dtype: the model casts tokens and text to its compute dtype itself, while
    # the timestep (0..1000: bf16 would round it to steps of 4) and the RoPE tables stay fp32
    mp = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=reduce_dtype, cast_forward_inputs=False) \
        if param_dtype != torch.float32 else MixedPrecisionPolicy()
    blocks = list(model.blocks)
    for i, block in enumerate(blocks):
        # the last block is gathered again at once by the root's backward: keep it unsharded
        fully_shard(block, mp_policy=mp, reshard_after_forward=i < len(blocks) - 1)
    fully_shard(model, mp_policy=mp)


def load_full_weights(model: nn.Module, state: dict, runtime: Runtime) -> None:
    """Fill a sharded model materialised with ``to_empty`` from rank 0's full state dict (other ranks
    pass {}), then recompute its non-persistent buffers (``model.init_buffers()``)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True,
                                                                strict=True))
    model.init_buffers()


def all_reduce_mean(values: dict[str, float], runtime: Runtime) -> dict[str, float]:
    """Average scalar metrics over ranks (for logging; every rank calls it)."""
    if not runtime.distributed:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64,
                     device=runtime.device if runtime.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return {k: float(v) / runtime.world for k, v in zip(keys, t.tolist())}


def barrier(runtime: Runtime) -> None:
    if runtime.distributed:
        dist.barrier()
