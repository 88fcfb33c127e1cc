"""Distributed checkpoints (torch.distributed.checkpoint) that resume exactly and reshard freely.

    OUT/checkpoints/step-0000500/        model, optimiser (+ EMA) as DCP shards; any world size loads them
    OUT/checkpoints/step-0000500/rank-00001.pt   that rank's scheduler, data position and RNG states
    OUT/checkpoints/step-0000500/done.json       written last: a checkpoint without it is ignored

A checkpoint is written to ``step-N.tmp`` and renamed when every rank has finished, so a run killed
mid-save never leaves a directory that looks complete. A run resumed with another world size loads
the model and optimiser (resharded by DCP) and restarts the data streams at the saved epoch.
"""
from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                     get_optimizer_state_dict, set_model_state_dict,
                                                     set_optimizer_state_dict)

from training.core.runtime import Runtime, barrier

STEP_RE = re.compile(r"^step-(\d{7,})$")
DONE = "done.json"


def checkpoint_dir(out: str | Path, step: int) -> Path:
    return Path(out) / "checkpoints" / f"step-{step:07d}"


def list_checkpoints(out: str | Path) -> list[Path]:
    """Complete checkpoints under ``out``, oldest first."""
    root = Path(out) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if STEP_RE.match(p.name) and (p / DONE).is_file()]
    return sorted(found, key=lambda p: int(STEP_RE.match(p.name).group(1)))


def resolve_checkpoint(path: str | Path, key: str = "infer.checkpoint") -> Path:
    """A complete checkpoint: ``path`` itself (a ``step-*`` folder with ``done.json``) or, for a run folder,
    its newest; FileNotFoundError naming the option ``key`` otherwise. Every way in (resume, init_from,
    inference) goes through here and ``load_weights``."""
    p = Path(str(path))
    if (p / DONE).is_file():
        return p
    found = list_checkpoints(p) if p.is_dir() else []
    if not found:
        raise FileNotFoundError(f"{key}={path}: not a complete checkpoint, nor a run with one (no {DONE})")
    return found[-1]


def find_resume(resume, out: str | Path) -> Path | None:
    """``null`` -> none; ``auto`` -> the newest complete checkpoint under out (none on a fresh run);
    a path -> that checkpoint (or that run's newest)."""
    if resume in (None, "", False):
        return None
    if resume == "auto":
        found = list_checkpoints(out)
        return found[-1] if found else None
    return resolve_checkpoint(resume, "trainer.resume")


def _rng_state() -> dict:
    """RNG states as tensors and plain lists, so a rank file loads with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
             "python": [int(version), list(internal), gauss]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.int64).astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _app_state(model, optimizer, ema) -> dict:
    state = {"model": get_model_state_dict(model), "optim": get_optimizer_state_dict(model, optimizer)}
    if ema is not None:
        state["ema"] = ema.state_dict()
    return state


def save(out: str | Path, step: int, model, optimizer, scheduler, ema, data_state: dict, runtime: Runtime,
         keep: int = 3, extra: dict | None = None) -> Path:
    """Write checkpoint ``step`` (every rank calls this), then keep only the newest ``keep``."""
    final = checkpoint_dir(out, step)
    tmp = final.with_name(final.name + ".tmp")
    if runtime.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier(runtime)
    dcp.save(_app_state(model, optimizer, ema), checkpoint_id=str(tmp))
    torch.save({"scheduler": scheduler.state_dict(), "data": data_state, "rng": _rng_state(), "step": step},
               tmp / f"rank-{runtime.rank:05d}.pt")
    barrier(runtime)
    if runtime.is_main:
        (tmp / DONE).write_text(json.dumps({"step": step, "world": runtime.world, "ema": ema is not None,
                                             **(extra or {})}, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in list_checkpoints(out)[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    barrier(runtime)
    return final


def load(path: Path, model, optimizer, scheduler, ema, runtime: Runtime) -> tuple[int, dict | None]:
    """Restore a checkpoint; returns (step, this rank's data position or None when the world size
    changed, in which case the streams restart at the saved epoch)."""
    info = json.loads((path / DONE).read_text())
    if ema is not None and not info.get("ema"):
        raise ValueError(f"{path}: the checkpoint has no EMA weights but trainer.ema.enabled=true")
    state = _app_state(model, optimizer, ema)
    dcp.load(state, checkpoint_id=str(path))
    set_model_state_dict(model, state["model"])
    set_optimizer_state_dict(model, optimizer, state["optim"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    own = path / f"rank-{runtime.rank:05d}.pt"
    # tensors and plain data only: a checkpoint someone shared cannot run code when it is loaded
    local = torch.load(own if own.is_file() else path / "rank-00000.pt", weights_only=True)
    scheduler.load_state_dict(local["scheduler"])
    if info["world"] == runtime.world:
        _set_rng_state(local["rng"])
        return int(info["step"]), local["data"]
    return int(info["step"]), {"epoch": local["data"]["epoch"] + 1, "position": 0}


def trained_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of the largest clips the run had trained on when checkpoint ``path`` was written
    (inference runs clips at this size by default); None for checkpoints that predate the record."""
    size = json.loads((Path(path) / DONE).read_text()).get("trained_size")
    return (int(size[0]), int(size[1])) if size else None


def load_weights(model: torch.nn.Module, path: str | Path, ema="auto", key: str = "infer.checkpoint") -> dict:
    """A checkpoint's weights (``resolve_checkpoint``) into an unsharded model, read by every rank on its own:
    the EMA weights when saved (``ema=auto``) or demanded (``true``), else the model's. Returns what was used.
    Inference loads this way, and a run started from another run's weights (``trainer.init_from``, e.g.
    VOID pass 2 from pass 1, with ``ema=False``)."""
    from training.core.ema import EMA

    p = resolve_checkpoint(path, key)
    info = json.loads((p / DONE).read_text())
    use_ema = bool(info.get("ema")) if ema == "auto" else ema in (True, "true")
    if use_ema and not info.get("ema"):
        raise ValueError(f"{key}={p}: infer.ema=true but the checkpoint has no EMA weights")
    part = "ema" if use_ema else "model"
    state = {part: EMA(model, 0.0).state_dict() if use_ema else model.state_dict()}
    dcp.load(state, checkpoint_id=str(p), no_dist=True)
    model.load_state_dict({**model.state_dict(), **state["ema"]} if use_ema else state["model"], strict=True)
    return {"checkpoint": str(p), "step": int(info["step"]), "ema": use_ema}


def full_model_state(model) -> dict:
    """Unsharded fp32 weights on CPU (rank 0 gets them; others an empty dict), e.g. for export."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
