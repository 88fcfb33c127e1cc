"""The training loop shared by both models (``training/train.py`` is its command line)."""
from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from training.core import checkpoint as ckpt
from training.core.clips import SampleStream, check_dataset, collate
from training.core.ema import EMA
from training.core.flow_matching import step_generator
from training.core.runtime import (Runtime, all_reduce_mean, apply_activation_checkpointing, apply_fsdp,
                                   init_runtime, load_full_weights)
from training.core.sections import DataConfig, TrainSections, train_sections
from training.tasks import load_encoders, make_task
from training.trainer.metrics import MetricsLog, peak_flops
from training.trainer.optim import build_optimizer, build_scheduler

log = logging.getLogger("training")


class Batches:
    """Latent batches from a rank's sample stream: raw clips are encoded on the fly (VAE + text),
    precomputed latent shards are only stacked."""

    def __init__(self, stream: SampleStream, task, data: DataConfig, precomputed: bool, encoders):
        self.stream, self.task, self.data, self.precomputed = stream, task, data, precomputed
        self.encoders = encoders
        self.it = iter(stream)

    def next(self) -> dict:
        items = [next(self.it) for _ in range(self.data.batch_size)]
        if self.precomputed:
            return {k: torch.stack([torch.from_numpy(np.ascontiguousarray(s[k])) for s in items]).float()
                    for k in self.task.latent_keys}
        batch = collate([self.task.clip(s, self.data) for s in items])
        return self.task.encode(batch, *self.encoders)


def _grad_norm(model, clip: float) -> float:
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"), foreach=True)
    if hasattr(norm, "full_tensor"):
        norm = norm.full_tensor()
    return float(norm)


def _initial_model(task, run: TrainSections) -> torch.nn.Module:
    """The full starting model on CPU: random weights from the seed, then pretrained or init_from."""
    torch.manual_seed(run.seed)
    model = task.build_model()
    if run.trainer.init_from:
        ckpt.load_weights(model, run.trainer.init_from, ema=False, key="trainer.init_from")
    return model


def build(cfg: DictConfig, rt: Runtime):
    """Model (with AC and FSDP applied), optimiser, scheduler and EMA, identically on every rank.

    With FSDP over several processes, only rank 0 materialises the full model (on CPU); the others
    build it on the meta device, sharding happens on the skeleton, and rank 0's weights are then
    broadcast shard by shard (torchtitan's way): a 14B expert set never exists once per rank."""
    run = train_sections(cfg)
    task = make_task(cfg.model)
    fsdp = run.trainer.fsdp
    use_fsdp = rt.distributed if fsdp == "auto" else bool(fsdp)
    if rt.world > 1 and not use_fsdp:
        raise ValueError("trainer.fsdp=false with several processes: only FSDP2 data parallelism is supported")
    if use_fsdp:
        full = _initial_model(task, run) if rt.is_main else None
        with torch.device("meta"):
            model = task.build_model(pretrained=False)
    else:
        model = _initial_model(task, run).to(rt.device)
    model.train()
    if run.trainer.activation_checkpointing:
        apply_activation_checkpointing(model)
    if use_fsdp:
        apply_fsdp(model, rt.param_dtype)
        model.to_empty(device=rt.device)
        load_full_weights(model, full.state_dict() if full is not None else {}, rt)
        del full
    optimizer = build_optimizer(model, run.optim)
    scheduler = build_scheduler(optimizer, run.optim, run.trainer.max_steps)
    ema = EMA(model, run.trainer.ema.decay) if run.trainer.ema.enabled else None
    return task, model, optimizer, scheduler, ema, use_fsdp


def train(cfg: DictConfig) -> list[dict]:
    """Run (or resume) training; returns rank 0's logged metrics of this invocation."""
    run = train_sections(cfg)
    t = run.trainer
    rt = init_runtime(t.device, t.dtype)
    out = Path(str(t.out))
    precomputed = check_dataset(str(run.data.path), make_task(cfg.model))
    encoders = () if precomputed else load_encoders(cfg, rt)  # before the model: bad paths fail fast
    task, model, optimizer, scheduler, ema, use_fsdp = build(cfg, rt)
    stream = SampleStream(str(run.data.path), None if precomputed else task.members, rt.rank, rt.world,
                          run.seed, run.data.shuffle)
    step = 0
    resume_from = ckpt.find_resume(t.resume, out)
    if resume_from is not None:
        step, data_state = ckpt.load(resume_from, model, optimizer, scheduler, ema, rt)
        stream.load_state_dict(data_state)
        if rt.is_main:
            log.info("resumed from %s at step %d", resume_from, step)
    if rt.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    batches = Batches(stream, task, run.data, precomputed, encoders)
    metrics = MetricsLog(out, rt.is_main, t.tensorboard, resume_step=step)
    validator = None
    if t.validate_every:
        from training.trainer.validation import Validator

        validator = Validator(run, task, rt, encoders or load_encoders(cfg, rt), out)
    autocast = torch.autocast(rt.device.type, dtype=rt.param_dtype) \
        if not use_fsdp and rt.param_dtype != torch.float32 else contextlib.nullcontext()
    peak = peak_flops(rt.device, t.peak_flops)
    logged, max_steps = [], t.max_steps
    bar = _progress(rt, step, max_steps)
    window_start, window_samples, window_tokens = time.perf_counter(), 0, 0
    size = ckpt.trained_size(resume_from) if resume_from is not None else None
    while step < max_steps:
        lat = batches.next()
        size = _largest(size, _pixel_size(lat))
        generator = step_generator(run.seed, rt.rank, 0 if run.flow.fixed_noise else step)
        with autocast:
            loss, parts = task.loss(model, lat, generator, run.flow, rt.device, torch.float32)
        loss.backward()
        grad_norm = _grad_norm(model, t.grad_clip)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update(model)
        step += 1
        window_samples += run.data.batch_size
        window_tokens += task.num_tokens(lat)
        bar.update(1)
        if step % t.log_every == 0 or step == max_steps:
            values = all_reduce_mean({"loss": float(loss.detach()), **{k: float(v) for k, v in parts.items()}}, rt)
            dt = time.perf_counter() - window_start
            values |= {"lr": lr, "grad_norm": grad_norm,
                       "samples_per_s": window_samples * rt.world / dt, "tokens_per_s": window_tokens * rt.world / dt}
            flops_per_token = _flops_per_token(model, task.seq_len(lat))  # this clip's sequence length
            if peak and flops_per_token:
                values["mfu"] = values["tokens_per_s"] / rt.world * flops_per_token / peak
            metrics.log(step, values)
            logged.append({"step": step, **values})
            bar.set_postfix(loss=f"{values['loss']:.4f}")
            window_start, window_samples, window_tokens = time.perf_counter(), 0, 0
        if validator is not None and (step % t.validate_every == 0 or step == max_steps):
            values = validator.run(model, step, metrics)
            logged.append({"step": step, **values})
        if step % t.checkpoint_every == 0 or step == max_steps:
            ckpt.save(out, step, model, optimizer, scheduler, ema, stream.state_dict(), rt, keep=t.keep_checkpoints,
                      extra={"model": cfg.model.name, "trained_size": list(size)})
    bar.close()
    metrics.close()
    return logged


def _pixel_size(lat: dict) -> tuple[int, int]:
    """(height, width) in pixels of a batch's clips: its first video latent (Wan VAE: 8x)."""
    v = next(t for t in lat.values() if isinstance(t, torch.Tensor) and t.ndim == 5)
    return int(v.shape[-2]) * 8, int(v.shape[-1]) * 8


def _largest(a: tuple[int, int] | None, b: tuple[int, int]) -> tuple[int, int]:
    return b if a is None or max(b) > max(a) else a


def _flops_per_token(model, seq_len: int) -> float | None:
    core = getattr(model, "flops_per_token", None)
    return float(core(seq_len)) if callable(core) else None


class _NoBar:
    def update(self, n): pass
    def set_postfix(self, **kw): pass
    def close(self): pass


def _progress(rt: Runtime, start: int, total: int):
    if not rt.is_main:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=start, desc="train", unit="step", dynamic_ncols=True)
