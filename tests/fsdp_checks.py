"""Run under ``torchrun --nproc_per_node=2`` by tests/test_training.py: FSDP2 start-up and mixed
precision checks that need a process group. Prints ``ok <check>`` lines; any failure raises."""
from __future__ import annotations

import sys

import torch
import torch.distributed as dist


def main(kind: str, data: str, out: str) -> None:
    from training.core import checkpoint as ckpt
    from training.core.config import load_config
    from training.core.runtime import init_runtime
    from training.models import wan
    from training.trainer.loop import _initial_model, build

    overrides = [f"model={kind}", f"data.path={data}", f"trainer.out={out}", "text.max_length=24"]
    # 1. rank 0 alone materialises the model; the sharded weights equal the one-process build
    cfg = load_config(overrides)
    rt = init_runtime("cpu", "fp32")
    task, model, *_ , use_fsdp = build(cfg, rt)
    assert use_fsdp and rt.world == 2
    state = ckpt.full_model_state(model)
    if rt.is_main:
        expected = _initial_model(task, cfg).state_dict()
        assert set(state) == set(expected), set(state) ^ set(expected)
        assert all(torch.equal(state[k], expected[k]) for k in expected)
        fresh = task.build_model()
        assert torch.equal(model.rope_cos, fresh.rope_cos) and torch.equal(model.rope_sin, fresh.rope_sin)
        print("ok full-weights-broadcast", flush=True)
    # 2. bf16 mixed precision: blocks compute in bf16, the timestep reaches its embedding in fp32
    cfg = load_config(overrides + ["trainer.dtype=bf16"])
    rt = init_runtime("cpu", "bf16")
    task, model, optimizer, *_ = build(cfg, rt)
    seen = {}
    original = wan.timestep_embedding

    def record(t, dim):
        seen["timestep"] = t.dtype
        return original(t, dim)
    wan.timestep_embedding = record
    block_dtypes = []
    model.blocks[0].register_forward_hook(lambda m, a, o: block_dtypes.append(o.dtype))
    g = torch.Generator().manual_seed(rt.rank)
    lat = {k: torch.randn(1, 16, 2, 4, 4, generator=g) for k in task.latent_keys if k not in ("context", "flow")}
    lat["context"] = torch.randn(1, 24, model.cfg.text_dim, generator=g)
    lat["flow"] = torch.zeros(1, 2, 2, 4, 4)
    from training.core.ema import EMA
    ema = EMA(model, 0.5)
    before = {n: t.full_tensor().clone() for n, t in ema.shadow.items()}
    loss, _ = task.loss(model, lat, g, cfg.flow, rt.device, torch.float32)
    loss.backward()
    optimizer.step()
    ema.update(model)  # on the sharded (DTensor) parameters: halfway between old and new weights
    for n, p in model.named_parameters():
        expected = 0.5 * (before[n] + p.full_tensor())
        assert torch.allclose(ema.shadow[n].full_tensor(), expected, atol=1e-6), n
    wan.timestep_embedding = original
    assert seen["timestep"] == torch.float32, seen
    assert block_dtypes == [torch.bfloat16], block_dtypes
    assert torch.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    if rt.is_main:
        print("ok bf16-mixed-precision", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
